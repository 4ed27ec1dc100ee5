import type { TaskId } from '../dsl/ids.js';
import type { EngineFailure, TaskFailure } from '../failures.js';
import type { Change } from '../stamps/fingerprint.js';

/** Why a task runs. */
export type RunReason =
  | { readonly kind: 'no-stamp'; readonly lastOutcome?: 'failed' | 'interrupted' }
  | { readonly kind: 'forced' }
  | { readonly kind: 'always' }
  | { readonly kind: 'drift'; readonly detail: string }
  | { readonly kind: 'changed'; readonly changes: readonly Change[] };

/** Why a task does not run. */
export type SkipReason =
  | { readonly kind: 'fresh' }
  | { readonly kind: 'skipped-by-user' }
  | { readonly kind: 'assumed-done' }
  | { readonly kind: 'not-applicable'; readonly detail: string };

export type RunOutcome = 'succeeded' | 'failed' | 'interrupted';

export type TaskRunOutcome = 'succeeded' | 'failed' | 'skipped' | 'blocked' | 'not-started' | 'interrupted';

/** The record of one run, saved under .cache/ and printed by `--summary`. */
export interface RunRecord {
  readonly runId: string;
  readonly environment: string;
  readonly targets: readonly string[];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly outcome: RunOutcome;
  readonly tasks: readonly TaskRunRecord[];
  /** The chain of tasks that decided the run's length, with their durations. */
  readonly criticalPath: readonly TaskId[];
  readonly counts: Readonly<Record<TaskRunOutcome, number>>;
  /** Why the run stopped before its tasks were done, when it was not a task's failure (the state could not be written). */
  readonly stoppedBy?: EngineFailure;
}

export interface TaskRunRecord {
  readonly task: TaskId;
  readonly outcome: TaskRunOutcome;
  readonly reason?: RunReason;
  readonly skipped?: SkipReason;
  readonly attempts: number;
  readonly durationMs: number;
  readonly failure?: TaskFailure;
  readonly waitingOn?: TaskId;
}

