import type { PlannedTask } from '../scheduler/plan-run.js';
import { describeRunReason, describeSkipReason } from '../scheduler/run-reason.js';
import { withoutTaskName } from './plan-text.js';
import { formatDuration, renderFailure } from './render-failure.js';
import { formatTable } from './table.js';
import type { StateStore } from '../state/state-store.js';

export interface StatusRow {
  readonly task: string;
  readonly state: 'done' | 'stale' | 'pending' | 'on request' | 'failed' | 'interrupted' | 'error' | 'orphaned';
  readonly detail: string;
  readonly lastRun: string | null;
  readonly durationMs: number | null;
}

/** A stamp of a task the environment no longer has (its cluster or node was taken out), and what takes it down. */
export interface Orphan {
  readonly task: string;
  readonly retiredBy?: string;
}

/**
 * `--status`: each task's state (done, stale and why, pending, failed), when it last ran and how long it
 * took; then the stamps of tasks the environment no longer declares, with the command that takes them down.
 * A task in `onRequest` (one that runs only when named, as a restore) that never ran is not pending work.
 */
export function statusRows(plan: readonly PlannedTask[], store: StateStore, orphans: readonly Orphan[] = [], onRequest: ReadonlySet<string> = new Set()): StatusRow[] {
  const orphaned = orphans.map((orphan): StatusRow => {
    const last = store.record(orphan.task as never)?.last;
    return {
      task: orphan.task,
      state: 'orphaned',
      detail: orphan.retiredBy ? `not declared any more: \`tsx deploy.ts ${orphan.retiredBy}\` takes it down` : 'not declared any more: --reset forgets it (what it made is left as it is)',
      lastRun: last?.startedAt ?? null,
      durationMs: last?.durationMs ?? null,
    };
  });
  return [...plannedRows(plan, store, onRequest), ...orphaned];
}

function plannedRows(plan: readonly PlannedTask[], store: StateStore, onRequest: ReadonlySet<string>): StatusRow[] {
  return plan.map((step) => {
    const record = store.record(step.task);
    const last = record?.last;
    const base = { task: step.task, lastRun: last?.startedAt ?? null, durationMs: last?.durationMs ?? null };
    if (step.action === 'fail') return { ...base, state: 'error', detail: renderFailure(step.failure) };
    if (step.action === 'skip') {
      const detail = step.why.kind === 'fresh' ? (step.driftCheck ? 'drift check runs at deploy' : '') : describeSkipReason(step.why);
      return { ...base, state: 'done', detail };
    }
    if (record?.stamp) return { ...base, state: 'stale', detail: describeRunReason(step.reason) };
    if (record?.startedAt) return { ...base, state: 'interrupted', detail: 'the run that started it was stopped' };
    if (last?.outcome === 'failed' || last?.outcome === 'interrupted') return { ...base, state: last.outcome, detail: last.failure ? withoutTaskName(step.task, renderFailure(last.failure)) : (last.summary ?? '') };
    if (onRequest.has(step.task) && !record) return { ...base, state: 'on request', detail: `runs only when named: tsx deploy.ts '${step.task}'` };
    return { ...base, state: 'pending', detail: describeRunReason(step.reason) };
  });
}

export function formatStatusTable(rows: readonly StatusRow[]): string {
  const cells = rows.map((row) => [
    row.task,
    row.state,
    row.lastRun ? row.lastRun.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-',
    row.durationMs === null ? '-' : formatDuration(row.durationMs),
    row.detail,
  ]);
  return formatTable(['TASK', 'STATE', 'LAST RUN', 'DURATION', 'DETAIL'], cells);
}
