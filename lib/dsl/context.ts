import type { Shell } from 'zx';
import type { TaskId } from './ids.js';

/** Writes lines to the task's log and the run's output (through reporter events, never to stdout directly). */
export interface TaskLogger {
  info(message: string): void;
  warn(message: string): void;
}

/**
 * Where tool helpers report commands that do not run through `$` (a command over SSH, say): the same
 * events, log lines and redaction as `$` gives.
 */
export interface CommandReporter {
  /** A command starts; returns a function to call with its exit code (or signal) when it ends. */
  started(command: string): (exitCode: number | null, signal?: string | null) => void;
  stdout(chunk: string): void;
  stderr(chunk: string): void;
}

/** What a task's `run` and `check` functions receive. */
export interface TaskContext<Inputs, Config, Vars> {
  /** The graph node being run, e.g. `cluster:deploy[cluster=osdc]`. */
  readonly id: TaskId;
  /** This instance's inputs, validated against the task's schemas. */
  readonly inputs: Inputs;
  /** The environment's configuration. Reads are recorded: a changed value that was read re-runs the task. */
  readonly config: Config;
  /** Values set on the task's namespace and its parents (global -> module), typed. */
  readonly vars: Vars;
  /** Aborted on timeout, Ctrl-C or when the run stops; pass it to anything long-running. */
  readonly signal: AbortSignal;
  readonly log: TaskLogger;
  /** zx's `$`, scoped to this task: cwd, env, abort signal, and output routed to the task's log. */
  readonly $: Shell;
  /**
   * True in `--dry-run`: every process `$` starts is replaced by `true` and tool helpers only report the
   * commands they would run. Bodies guard any other side effect on it (the file helpers do).
   */
  readonly dryRun: boolean;
  /** For tool helpers: reports commands that run outside `$`. */
  readonly commands: CommandReporter;
  /** The project root (where deploy.ts lives). */
  readonly root: string;
  /** Marks a value as secret: it is redacted from every output, log and state file from now on. */
  secret<T extends string>(value: T): T;
}
