import { ProcessOutput } from 'zx';
import type { TaskContext } from '../dsl/context.js';
import { CommandFailure } from '../dsl/command-failure.js';
import { toolVersion } from '../stamps/tool-versions.js';

/** The part of a task's context that tool helpers use: pass the task's own context. */
export type ToolContext = Pick<TaskContext<unknown, unknown, unknown>, '$' | 'signal' | 'log' | 'secret' | 'commands' | 'root' | 'dryRun'>;

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
}

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/**
 * Runs one program with an argument array (each argument quoted on its own, never a shell string built from
 * input) through the task's `$`: output streams live into the task's log, the abort signal and process
 * groups apply. A failure throws a CommandFailure with the command line, exit code and output tail.
 */
export async function runCommand(context: ToolContext, argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (!program) throw new Error('runCommand needs a program');
  const shell = context.$({
    cwd: options.cwd ?? context.root,
    env: { ...process.env, ...options.env },
    nothrow: true,
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.displayLine ? { quiet: true, verbose: false } : {}),
  });
  let output: ProcessOutput;
  if (options.displayLine) {
    // Quiet: zx does not log this command, so report it here with its rewritten lines.
    const finished = context.commands.started(formatCommand(argv));
    const running = shell`${program} ${args}`;
    let partial = '';
    running.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const shown = options.displayLine!(line);
        if (shown !== undefined) context.commands.stdout(`${shown}\n`);
      }
    });
    running.stderr.on('data', (chunk: Buffer) => context.commands.stderr(chunk.toString()));
    output = await running;
    if (partial) {
      const shown = options.displayLine(partial);
      if (shown !== undefined) context.commands.stdout(`${shown}\n`);
    }
    finished(output.exitCode, output.signal);
  } else {
    output = await shell`${program} ${args}`;
  }
  const exitCode = output.exitCode ?? -1;
  if (exitCode !== 0 && !(options.okExitCodes ?? []).includes(exitCode)) {
    if (context.signal.aborted) throw context.signal.reason ?? new Error('aborted');
    throw new CommandFailure(formatCommand(argv), output.exitCode, output.signal, tail(`${output.stdout}\n${output.stderr}`));
  }
  return { stdout: output.stdout, stderr: output.stderr, exitCode };
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
