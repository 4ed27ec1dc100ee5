import type { TaskContext } from '../dsl/context.js';
import { CommandFailure } from '../dsl/command-failure.js';
import { toolVersion } from '../stamps/tool-versions.js';

/** The part of a task's context that tool helpers use: pass the task's own context. */
export type ToolContext = Pick<TaskContext<unknown, unknown, unknown>, 'signal' | 'log' | 'secret' | 'commands' | 'execute' | 'root' | 'dryRun'>;

export interface CommandOptions {
  readonly cwd?: string;
  /** Added to the task's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Exit codes that are not failures (e.g. 2 for `terraform plan -detailed-exitcode`). */
  readonly okExitCodes?: readonly number[];
  readonly input?: string;
  /**
   * Rewrites each stdout line before it reaches the task's output (undefined drops it): for tools whose
   * machine-readable output is parsed but should read well live. The full raw stdout is still returned.
   */
  readonly displayLine?: (line: string) => string | undefined;
  /**
   * The program prints a secret (a token it creates, a password it reads): its stdout is neither shown nor
   * logged nor kept for the failure message, and is marked secret (as printed, and trimmed) before
   * runCommand returns, so whatever the task does with it later is redacted too. A secret only marked
   * after the command would already be in the output.
   */
  readonly stdoutIsSecret?: boolean;
  /**
   * 'tail': the result's stdout and stderr are only their last MiB each, for a long run whose caller reads
   * the end (ansible's PLAY RECAP): a two-hour verbose playbook would otherwise be held in memory whole.
   * The output is shown and logged in full either way. Default 'all'.
   */
  readonly keepOutput?: 'all' | 'tail';
}

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/**
 * Runs one program with an argument array, directly (no shell: nothing is parsed, quoted or expanded, and
 * no bash starts per command): output streams live into the task's log as it arrives, the task's abort
 * signal and process groups apply. A failure throws a CommandFailure with the command line, exit code and
 * output tail; a program that cannot start (not installed, not executable) says so.
 */
export async function runCommand(context: ToolContext, argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (!program) throw new Error('runCommand needs a program');
  const commandLine = formatCommand(argv);
  const cwd = options.cwd ?? context.root;
  const finished = context.commands.started(commandLine, cwd);
  const keptChars = options.keepOutput === 'tail' ? keptTailChars : Infinity;
  const stdout = new OutputText(keptChars);
  const stderr = new OutputText(keptChars);
  const interleaved = new OutputText(failureTailChars); // both streams in arrival order, for the failure's output tail
  const stdoutLines = options.displayLine ? displayedLines(options.displayLine, (line) => context.commands.stdout(line)) : undefined;
  const exit = await context.execute(program, args, {
    cwd,
    ...(options.env ? { env: options.env } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
    stdout: (chunk) => {
      stdout.append(chunk);
      if (options.stdoutIsSecret) return;
      interleaved.append(chunk);
      if (stdoutLines) stdoutLines.write(chunk);
      else context.commands.stdout(chunk);
    },
    stderr: (chunk) => {
      stderr.append(chunk);
      interleaved.append(chunk);
      context.commands.stderr(chunk);
    },
  });
  stdoutLines?.end();
  if (options.stdoutIsSecret) {
    const printed = stdout.text();
    context.secret(printed);
    context.secret(printed.trim());
  }
  if ('startError' in exit) {
    finished(127, null);
    const { code, message } = exit.startError;
    const why =
      code === 'ENOENT'
        ? `'${program}' was not found (is it installed and on PATH, or is ${cwd} missing?)`
        : `'${program}' could not be started (${code ?? message})`;
    throw new CommandFailure(commandLine, null, null, tail(interleaved.text()), why);
  }
  finished(exit.exitCode, exit.signal);
  const output = { stdout: stdout.text(), stderr: stderr.text() };
  const exitCode = exit.exitCode ?? -1;
  if (exitCode !== 0 && !(options.okExitCodes ?? []).includes(exitCode)) {
    if (context.signal.aborted) throw context.signal.reason ?? new Error('aborted');
    throw new CommandFailure(commandLine, exit.exitCode, exit.signal, tail(interleaved.text()));
  }
  return { ...output, exitCode };
}

/** What keepOutput 'tail' keeps of each stream, and what a failure keeps to show its last lines. */
const keptTailChars = 1024 * 1024;
const failureTailChars = 64 * 1024;

/**
 * A program's output as text, whole or only its last `limit` characters (at least: it is cut back to the
 * limit when it has grown to twice that, so that a stream of small chunks is not copied per chunk).
 */
class OutputText {
  private chunks: string[] = [];
  private length = 0;

  constructor(private readonly limit: number) {}

  append(chunk: string): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    if (this.length > 2 * this.limit) {
      const kept = this.chunks.join('').slice(-this.limit);
      this.chunks = [kept];
      this.length = kept.length;
    }
  }

  text(): string {
    const whole = this.chunks.join('');
    return whole.length > this.limit ? whole.slice(-this.limit) : whole;
  }
}

/** Feeds chunks, calls `show` with each complete line rewritten by `displayLine` (dropped when undefined). */
function displayedLines(displayLine: (line: string) => string | undefined, show: (line: string) => void): { write(chunk: string): void; end(): void } {
  let partial = '';
  const emit = (line: string) => {
    const shown = displayLine(line);
    if (shown !== undefined) show(`${shown}\n`);
  };
  return {
    write(chunk) {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      lines.forEach(emit);
    },
    end() {
      if (partial) emit(partial);
      partial = '';
    },
  };
}

/** The last lines of some output, for failure messages. */
export function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** A command line as a person would type it, quoting arguments that need it. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

const reported = new Set<string>();

/** Logs a tool's version once per run, so logs say what ran (declare it in `tools` to make it part of stamps). */
export async function reportToolVersion(context: ToolContext, tool: string): Promise<string> {
  const version = await toolVersion(tool);
  if (!reported.has(tool)) {
    reported.add(tool);
    context.log.info(`${tool}: ${version}`);
  }
  return version;
}
