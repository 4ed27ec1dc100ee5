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
      readonly estimateMs?: number;
    }
  | { readonly type: 'task-command'; readonly task: TaskId; readonly command: string; readonly cwd: string }
  | { readonly type: 'task-output'; readonly task: TaskId; readonly stream: OutputStream; readonly line: string }
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

export type EventListener = (event: EngineEvent) => void;
