import type { Shell } from 'zx';
import type { TaskId } from './ids.js';

/** Writes lines to the task's log and the run's output (through reporter events, never to stdout directly). */
export interface TaskLogger {
  info(message: string): void;
  warn(message: string): void;
  /**
   * How far a long step with a size has got (a download: bytes done of `total`, when known). The live view
   * shows it in the task's line with the rate and the time left, updated as it moves; plain output and the
   * task's log get a line every 10 s and at the end.
   */
  progress(what: string, done: number, total?: number, unit?: ProgressUnit): void;
}

export type ProgressUnit = 'bytes' | 'items';

/**
 * Where tool helpers report commands that do not run through `$` (a command over SSH, say): the same
 * events, log lines and redaction as `$` gives.
 */
export interface CommandReporter {
  /** A command starts (in `cwd`, the project root if not given); returns a function to call with its exit code (or signal) when it ends. */
  started(command: string, cwd?: string): (exitCode: number | null, signal?: string | null) => void;
  stdout(chunk: string): void;
  stderr(chunk: string): void;
}

/** How a tool helper runs one program through the task (see TaskContext.execute). */
export interface ExecuteOptions {
  /** The project root when not given. */
  readonly cwd?: string;
  /** Variables added to (or replacing) the engine's own environment for this program. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the program's standard input, which is then closed; without it, stdin is /dev/null. */
  readonly input?: string;
  /** Receive the program's output as it arrives (decoded as UTF-8). */
  readonly stdout?: (chunk: string) => void;
  readonly stderr?: (chunk: string) => void;
}

/** How a program ended: its exit code or signal, or why it could not start. */
export type ProgramExit =
  | {
      readonly exitCode: number | null;
      readonly signal: NodeJS.Signals | null;
      /**
       * The program ended, but something it left running (`daemon &`) still held its stdout or stderr:
       * after a grace period the engine stopped reading, rather than wait for that process to end.
       */
      readonly outputLeftOpen?: true;
    }
  | { readonly startError: { readonly code?: string; readonly message: string } };

/** One of the instances a body runs for (see TaskSpec.batch). */
export interface BatchMember<Inputs, Config> {
  readonly id: TaskId;
  readonly inputs: Inputs;
  /** The configuration, whose reads join this member's fingerprint only. */
  readonly config: Config;
}

/** What a task's `run` and `check` functions receive. */
export interface TaskContext<Inputs, Config, Vars> {
  /** The graph node being run, e.g. `cluster:deploy[cluster=osdc]`. */
  readonly id: TaskId;
  /** This instance's inputs, validated against the task's schemas. */
  readonly inputs: Inputs;
  /** The environment's configuration. Reads are recorded: a changed value that was read re-runs the task. */
  readonly config: Config;
  /**
   * The instances this body runs for: this one alone, or, for a task with `batch`, every instance of it
   * that runs together with this one (this one first). A read through a member's `config` counts for that
   * member alone; a read through `context.config` counts for every member.
   */
  readonly batch: readonly BatchMember<Inputs, Config>[];
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
  /**
   * For tool helpers: runs a program directly (argument array, no shell) as one of this task's process
   * groups: stopped with the task (timeout, Ctrl-C), replaced by `true` in a dry run. It does not report
   * the command or its output; runCommand does both.
   */
  execute(program: string, args: readonly string[], options?: ExecuteOptions): Promise<ProgramExit>;
  /** The project root (where deploy.ts lives). */
  readonly root: string;
  /** Marks a value as secret: it is redacted from every output, log and state file from now on. */
  secret<T extends string>(value: T): T;
}
