import { runCommand, type CommandResult, type ToolContext } from './command.js';

export interface MakeOptions {
  readonly directory?: string;
  readonly makefile?: string;
  readonly targets?: readonly string[];
  /** Passed as `NAME=value` arguments (each its own argument, never through a shell). */
  readonly variables?: Readonly<Record<string, string | number | boolean>>;
  readonly jobs?: number;
}

/** Runs make with targets and variables. */
export function runMake(context: ToolContext, options: MakeOptions = {}): Promise<CommandResult> {
  const argv = ['make'];
  if (options.makefile) argv.push('-f', options.makefile);
  if (options.jobs) argv.push(`-j${options.jobs}`);
  for (const [name, value] of Object.entries(options.variables ?? {})) argv.push(`${name}=${value}`);
  argv.push(...(options.targets ?? []));
  return runCommand(context, argv, options.directory ? { cwd: options.directory } : {});
}
