import type { Fingerprint, TaskId } from '../dsl/ids.js';
import type { ConfigurationFailure, Result, TaskFailure } from '../failures.js';
import type { FingerprintComponents } from '../stamps/fingerprint.js';
import type { RunRecord } from './run-record.js';

/** Proof that a task succeeded with this fingerprint. Written only after success. */
export interface Stamp {
  readonly fingerprint: Fingerprint;
  readonly components: FingerprintComponents;
  readonly finishedAt: string;
  readonly durationMs: number;
}

export type TaskOutcome = 'succeeded' | 'failed' | 'interrupted';

export interface LastAttempt {
  readonly outcome: TaskOutcome;
  readonly startedAt: string;
  readonly durationMs: number;
  /** For failures, in state files written before `failure` was kept: the failure's reason. */
  readonly summary?: string;
  /** For failures: why, redacted, without the output tail and stack (those are in the run's task log). */
  readonly failure?: TaskFailure;
}

export interface TaskRecord {
  readonly stamp?: Stamp;
  readonly last?: LastAttempt;
  /** Set while the task runs; a record left in flight means the run that started it was killed. */
  readonly startedAt?: string;
  /** Durations of recent successful runs, newest last, for scheduling and ETAs. */
  readonly durations: readonly number[];
}

/**
 * A change to the state that could not be written (a full or read-only disk): nothing of it was applied.
 * The run stops at once, so that no more work is done whose record would be lost.
 */
export class StateWriteFailed extends Error {
  constructor(
    readonly file: string,
    /** The file system's code: ENOSPC, EROFS, EIO... */
    readonly code: string,
    readonly what: string,
  ) {
    super(`could not record ${what} in ${file} (${code})`);
  }
}

/**
 * Where stamps, outcomes and duration history live: a JSON file per environment (JsonStateStore, the
 * default), or a PostgreSQL database a team shares (PostgresStateStore).
 */
export interface StateStore {
  /** A human-readable location, for messages (never a password). */
  readonly location: string;
  /** Said once before a run: what opening found and mended (a torn journal line). */
  readonly warnings: readonly string[];
  record(id: TaskId): TaskRecord | undefined;
  records(): ReadonlyMap<TaskId, TaskRecord>;
  /**
   * Durably removes the task's stamp before it starts, so a killed run never leaves a false 'done'. Each
   * change is applied when its promise resolves, and rejects with StateWriteFailed when it could not be
   * recorded (nothing of it applied).
   */
  markStarted(id: TaskId, startedAt: string): Promise<void>;
  markSucceeded(id: TaskId, stamp: Stamp): Promise<void>;
  markFinishedWithoutSuccess(id: TaskId, attempt: LastAttempt): Promise<void>;
  /** Forgets a task's stamp and history (--reset). */
  reset(id: TaskId): Promise<void>;
  /** Compacts and closes; after a crash, nothing is lost without it. */
  close(): Promise<void>;
}

/** A store a team shares (PostgreSQL): it holds the run lock itself, across machines. */
export interface SharedStateStore extends StateStore {
  /** Takes the environment's run lock, or says who holds it. */
  acquireRunLock(targets: readonly string[]): Promise<Result<void, ConfigurationFailure>>;
  /** `state push`/`pull`: the records become these. */
  replaceAll(records: ReadonlyMap<TaskId, TaskRecord>): Promise<void>;
  /** --reset-state: the records moved aside; returns the key they are kept under. */
  moveStateAside(at: Date): Promise<string>;
  /** Keeps a run's record (the newest `runsKept` of the environment), for --last-run on any machine. */
  saveRun(record: RunRecord, keep: number): Promise<void>;
  /** The newest run's record, whoever ran it. */
  lastRun(): Promise<RunRecord | undefined>;
}

export function isShared(store: StateStore): store is SharedStateStore {
  return 'acquireRunLock' in store;
}
