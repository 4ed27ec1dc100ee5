import type { Fingerprint, TaskId } from '../dsl/ids.js';
import type { TaskInstance } from '../dsl/task.js';
import type { TaskRecord } from '../state/state-store.js';
import type { SkipReason } from './run-reason.js';

export interface SkipOptions {
  readonly skip: ReadonlySet<TaskId>;
  readonly only?: ReadonlySet<TaskId>;
  readonly config: unknown;
}

/** Why a task is not even assessed: --skip, outside --only, or not applicable to this environment. */
export function skipDecision(instance: TaskInstance, options: SkipOptions): SkipReason | undefined {
  if (options.skip.has(instance.id)) return { kind: 'skipped-by-user' };
  if (options.only && !options.only.has(instance.id)) return { kind: 'assumed-done' };
  const detail = instance.definition.spec.skipWhen?.(options.config, instance.inputs);
  return detail ? { kind: 'not-applicable', detail } : undefined;
}

/**
 * The fingerprint dependents see for a skipped task: its last stamp when the user skipped it; a stable
 * marker when it does not apply, so its dependents do not re-run on every invocation.
 */
export function skippedFingerprint(id: TaskId, why: SkipReason, record: TaskRecord | undefined): Fingerprint {
  if (why.kind === 'not-applicable') return `not-applicable:${id}` as Fingerprint;
  return record?.stamp?.fingerprint ?? ('missing' as Fingerprint);
}
