import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Reporter } from '../reporter/reporter.js';
import type { CliOptions } from './parse-args.js';

export type ConsoleOutput = Writable & { readonly isTTY?: boolean; readonly columns?: number };

/** The options that pick and shape the console reporter. */
export type ConsoleOptions = Pick<CliOptions, 'json' | 'output' | 'verbose'>;

/**
 * JSON when asked; the live view on a terminal; otherwise plain prefixed lines. Only the one picked is
 * loaded: each module is a round trip through tsx's loader, and a replayed run has little else to do.
 */
export async function consoleReporter(options: ConsoleOptions, stdout: ConsoleOutput, logDirectory: string): Promise<Reporter> {
  if (options.json) return new (await import('../reporter/json-reporter.js')).JsonReporter(stdout);
  const terminal = stdout.isTTY === true && process.env.TERM !== 'dumb';
  if (options.output === 'live' || (options.output === 'auto' && terminal)) {
    return new (await import('../reporter/tty-reporter.js')).TtyReporter(stdout, { color: !('NO_COLOR' in process.env), logDirectory });
  }
  const [{ PlainReporter }, holdOutput] = await Promise.all([
    import('../reporter/plain-reporter.js'),
    options.output === 'group' ? import('../reporter/held-output.js').then(({ HeldOutput }) => () => new HeldOutput()) : undefined,
  ]);
  return new PlainReporter(stdout, holdOutput, { showSkipped: true, verbose: options.verbose, logDirectory });
}

/** A path as short as it can be said from where the command was run. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
