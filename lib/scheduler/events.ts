import type { ProgressUnit } from '../dsl/context.js';
import type { TaskId } from '../dsl/ids.js';
import type { TaskFailure } from '../failures.js';
import type { RunReason, RunRecord, SkipReason } from '../state/run-record.js';

/**
 * What the engine reports. It never prints: reporters and log files turn these events into output.
 * Every text field is redacted before the event is emitted. Documented for `--json` in the README.
 */
export type EngineEvent =
  | {
      readonly type: 'run-started';
      readonly runId: string;
      readonly at: string;
      readonly environment: string;
      readonly targets: readonly string[];
      readonly tasks: number;
      /** Milliseconds the whole run is expected to take, from history; absent when nothing is known. */
      readonly estimateMs?: number;
    }
  | { readonly type: 'task-skipped'; readonly task: TaskId; readonly why: SkipReason }
  | {
      readonly type: 'task-started';
      readonly task: TaskId;
      readonly reason: RunReason;
      readonly attempt: number;
      readonly at: string;
      /** How long the task is expected to take, from history. */
      readonly estimateMs?: number;
      /** The longest chain of expected durations from this task to the end of the run, the task's own included. */
      readonly pathMs?: number;
    }
  | { readonly type: 'task-command'; readonly task: TaskId; readonly command: string; readonly cwd: string }
  | { readonly type: 'task-output'; readonly task: TaskId; readonly stream: OutputStream; readonly line: string }
  /** A long step's progress (see TaskLogger.progress), at most every 250 ms a task; rate and time left from its start. */
  | {
      readonly type: 'task-progress';
      readonly task: TaskId;
      readonly what: string;
      readonly done: number;
      readonly total?: number;
      readonly unit: ProgressUnit;
      readonly perSecond?: number;
      readonly leftMs?: number;
    }
  | {
      readonly type: 'task-command-finished';
      readonly task: TaskId;
      readonly exitCode: number | null;
      readonly signal: string | null;
      readonly durationMs: number;
    }
  | {
      readonly type: 'task-retrying';
      readonly task: TaskId;
      readonly attempt: number;
      readonly delayMs: number;
      readonly failure: TaskFailure;
    }
  | { readonly type: 'task-succeeded'; readonly task: TaskId; readonly durationMs: number; readonly attempts: number }
  | {
      readonly type: 'task-failed';
      readonly task: TaskId;
      readonly failure: TaskFailure;
      readonly durationMs: number;
      readonly attempts: number;
    }
  /** `task` cannot start: `waitingOn`, one of its dependencies (or theirs), failed or was interrupted. */
  | { readonly type: 'task-blocked'; readonly task: TaskId; readonly waitingOn: TaskId; readonly waitingOnOutcome: 'failed' | 'interrupted' }
  | { readonly type: 'task-not-started'; readonly task: TaskId }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'run-finished'; readonly record: RunRecord };

export type OutputStream = 'stdout' | 'stderr' | 'log';

export type { RunRecord };
