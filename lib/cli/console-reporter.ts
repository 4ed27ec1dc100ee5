import path from 'node:path';
import type { Writable } from 'node:stream';
import { HeldOutput } from '../reporter/held-output.js';
import { JsonReporter } from '../reporter/json-reporter.js';
import { PlainReporter } from '../reporter/plain-reporter.js';
import type { Reporter } from '../reporter/reporter.js';
import { TtyReporter } from '../reporter/tty-reporter.js';
import type { CliOptions } from './parse-args.js';

export type ConsoleOutput = Writable & { readonly isTTY?: boolean; readonly columns?: number };

/** The options that pick and shape the console reporter. */
export type ConsoleOptions = Pick<CliOptions, 'json' | 'output' | 'verbose' | 'noColor'>;

/** JSON when asked; the live view on a terminal; otherwise plain prefixed lines. */
export function consoleReporter(options: ConsoleOptions, stdout: ConsoleOutput, logDirectory: string): Reporter {
  if (options.json) return new JsonReporter(stdout);
  const terminal = stdout.isTTY === true && process.env.TERM !== 'dumb';
  if (options.output === 'live' || (options.output === 'auto' && terminal)) {
    return new TtyReporter(stdout, { color: !options.noColor && !('NO_COLOR' in process.env), logDirectory });
  }
  const holdOutput = options.output === 'group' ? () => new HeldOutput() : undefined;
  return new PlainReporter(stdout, holdOutput, { showSkipped: true, verbose: options.verbose, logDirectory });
}

/** A path as short as it can be said from where the command was run. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
