import { z } from 'zod';
import { duration, seconds } from './kubelet-settings.js';

/**
 * How a roll (an upgrade, OS patches, a VM's restart) drains a node, with kubespray's defaults (its
 * upgrade's drain_grace_period: 300, drain_timeout: 360s, drain_retries: 3 with drain_retry_delay_seconds:
 * 10): each pod has at most `gracePeriod` to stop (one whose own terminationGracePeriodSeconds is shorter
 * keeps it), a drain is given up after `timeout`, and a drain given up is tried again, `attempts` in all (an
 * eviction a PodDisruptionBudget refuses now is allowed once the evicted pod's replacement is Ready).
 */
const defaults = { gracePeriod: '5m', timeout: '6m', attempts: 3 };

export const drainSettings = z
  .strictObject({
    gracePeriod: duration.default(defaults.gracePeriod),
    timeout: duration.default(defaults.timeout),
    attempts: z.number().int().min(1).max(10).default(defaults.attempts),
  })
  .refine((settings) => seconds(settings.timeout) > seconds(settings.gracePeriod), {
    error: 'gives a drain (timeout) no more time than each of its pods has to stop (gracePeriod): a pod that takes its whole grace period would fail every drain',
    path: ['timeout'],
  })
  .default(defaults);
export type DrainSettings = z.output<typeof drainSettings>;

/** What `kubectl drain` is run with, and how often, for these settings: lib/tools/kubernetes.ts's DrainPolicy. */
export function drainPolicyOf(settings: DrainSettings): { readonly arguments: readonly string[]; readonly attempts: number; readonly retryDelaySeconds: number } {
  return {
    arguments: ['--ignore-daemonsets', '--delete-emptydir-data', '--force', `--grace-period=${Math.round(seconds(settings.gracePeriod))}`, `--timeout=${Math.round(seconds(settings.timeout))}s`],
    attempts: settings.attempts,
    retryDelaySeconds: 10,
  };
}
