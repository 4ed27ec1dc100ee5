import type { SourceLocation, TaskId } from './dsl/ids.js';

/** Everything that can go wrong, as data. One renderer (reporter/render-failure.ts) turns each into a message. */
export type Failure = ConfigurationFailure | TaskFailure | EngineFailure;

/** Problems found before anything runs: usage, task code, environment, state. Exit code 2. */
export type ConfigurationFailure =
  | { readonly reason: 'usage'; readonly message: string; readonly hint: string }
  | { readonly reason: 'unknown-target'; readonly target: string; readonly suggestion?: string }
  /** A task that was defined (its module was loaded) but is not in the catalog the CLI was given. */
  | { readonly reason: 'task-not-in-catalog'; readonly target: string; readonly definedAt: SourceLocation }
  /** A task with inputs named without them: `instances` are the ones the graph has. */
  | { readonly reason: 'needs-input'; readonly task: string; readonly inputs: readonly string[]; readonly instances: readonly string[] }
  | { readonly reason: 'cycle'; readonly path: readonly TaskId[]; readonly locations: readonly SourceLocation[] }
  | {
      readonly reason: 'duplicate-task';
      readonly name: string;
      readonly first: SourceLocation;
      readonly second: SourceLocation;
    }
  | {
      readonly reason: 'invalid-definition';
      readonly message: string;
      readonly location: SourceLocation;
      readonly hint: string;
    }
  | { readonly reason: 'unknown-environment'; readonly name: string; readonly known: readonly string[] }
  | {
      readonly reason: 'invalid-environment';
      readonly environment: string;
      readonly path: string;
      readonly message: string;
      readonly hint: string;
    }
  | { readonly reason: 'state-corrupt'; readonly file: string; readonly detail: string }
  /** A shared state store (PostgreSQL) that cannot be reached or used: `detail` never holds its password. */
  | { readonly reason: 'state-unreachable'; readonly location: string; readonly detail: string }
  /** A path the engine keeps state, logs, records or its lock at cannot be used: `code` is the file system's. */
  | { readonly reason: 'unusable-path'; readonly path: string; readonly purpose: string; readonly code: string }
  | {
      readonly reason: 'state-locked';
      readonly file: string;
      readonly pid: number;
      readonly host: string;
      readonly startedAt: string;
    }
  /** A module of the project threw while it was imported (`circular`: it reached an import not yet defined). */
  | { readonly reason: 'project-load-failed'; readonly thrown: ThrownError; readonly circular: boolean }
  /** A module of the project awaits, at its top level, something that never settles. */
  | { readonly reason: 'project-never-loaded' }
  /** What deploy.ts hands the CLI as the catalog is not a list of tasks. */
  | { readonly reason: 'invalid-catalog'; readonly detail: string }
  /** A command that forgets state was not confirmed (no terminal to ask, or not answered yes). */
  | { readonly reason: 'not-confirmed'; readonly option: string; readonly destroys?: string }
  | { readonly reason: 'no-run-recorded'; readonly environment: string }
  /** `--apply FILE`: the file is not a saved plan, or what it was computed from changed since (`differences`). */
  | { readonly reason: 'plan-unreadable'; readonly file: string; readonly detail: string }
  | { readonly reason: 'plan-outdated'; readonly file: string; readonly differences: readonly string[] };

/** Something that went wrong outside any task: exit code 1, as a failed task. */
export type EngineFailure =
  /** An exception escaped every task (thrown in a callback, a promise nobody awaited): the run stopped. */
  | { readonly reason: 'escaped-exception'; readonly thrown: ThrownError }
  /** The engine itself failed: a bug, reported with its stack under --verbose. */
  | { readonly reason: 'internal-error'; readonly thrown: ThrownError }
  /** The state could not be written (a full or read-only disk): the run stopped at once. */
  | { readonly reason: 'state-unwritable'; readonly file: string; readonly code: string; readonly what: string };

/** An exception as a failure keeps it: where in the project it was thrown, if there. */
export interface ThrownError {
  readonly name: string;
  readonly message: string;
  /** What to do, when the error says (a task defined with a bad option). */
  readonly hint?: string;
  readonly location?: SourceLocation;
  readonly stack?: string;
}

/** Why one task did not succeed. Exit code 1 (130 when interrupted). */
export type TaskFailure =
  | {
      readonly reason: 'exit-non-zero';
      readonly task: TaskId;
      readonly command: string;
      readonly exitCode: number | null;
      readonly signal: string | null;
      readonly outputTail: string;
      /** What the tool's helper understood of the failure (e.g. a changed host key). */
      readonly explanation?: string;
    }
  | {
      readonly reason: 'task-threw';
      readonly task: TaskId;
      readonly message: string;
      /** Thrown as a PermanentFailure: another attempt cannot mend it, so the task's retries are not used. */
      readonly permanent?: true;
      readonly location?: SourceLocation;
      readonly stack?: string;
    }
  | { readonly reason: 'timeout'; readonly task: TaskId; readonly afterMs: number }
  | { readonly reason: 'check-failed'; readonly task: TaskId; readonly message: string }
  | { readonly reason: 'source-missing'; readonly task: TaskId; readonly path: string }
  | { readonly reason: 'interrupted'; readonly task: TaskId }
  /** The event loop ran dry while the task's body was still waiting: no timer, process or I/O can wake it. */
  | { readonly reason: 'never-settled'; readonly task: TaskId }
  /** A dry run does not walk a body that does not declare `supportsDryRun`: its commands are not known. */
  | { readonly reason: 'no-dry-run'; readonly task: TaskId };

export type Result<Value, Error = Failure> =
  | { readonly ok: true; readonly value: Value }
  | { readonly ok: false; readonly error: Error };

export const ok = <Value>(value: Value): Result<Value, never> => ({ ok: true, value });
export const fail = <Error>(error: Error): Result<never, Error> => ({ ok: false, error });

/** For `switch` defaults: a case that cannot happen when every member of a union is handled. */
export function unreachable(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}

/** Exit codes, documented in the README. */
export const ExitCode = { success: 0, taskFailed: 1, usage: 2, interrupted: 130 } as const;

/**
 * `--detailed-exitcode` (with --dry-run or --status), as terraform's -detailed-exitcode: 0 nothing to do,
 * 2 something would run (or is not up to date), 1 any error (a usage error too, which is otherwise 2). A
 * task that runs on every run (policy 'always') does not count: it checks, it does not change.
 */
export const DetailedExitCode = { upToDate: 0, error: 1, changes: 2 } as const;

