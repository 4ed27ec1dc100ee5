import { locationInProject } from '../dsl/call-site.js';
import { formatLocation } from '../dsl/ids.js';
import { ExitCode } from '../failures.js';

/**
 * One line for an exception that escaped the project's code: where it was thrown in the project, what
 * happened (`what` ends with its own separator), the exception and how to fix it; its stack only when
 * verbose.
 */
export function describeEscaped(error: unknown, what: string, hint: string, verbose: boolean): string {
  const thrown = error instanceof Error ? error : new Error(String(error));
  const at = locationInProject(thrown.stack);
  return (
    `${at ? `${formatLocation(at)}: ` : ''}${what}${thrown.name}: ${thrown.message}: ${hint}` +
    (verbose ? `\n${thrown.stack}` : ' (run with --verbose for the stack trace)')
  );
}

/**
 * deploy.ts imports the CLI first, then the project's task and environment modules. An exception before
 * the CLI starts is one of those modules failing to load (a task file that throws at import, a circular
 * import that reaches a value before it is defined): reported as one line with the project line that
 * threw, exit 2, the stack only with --verbose, like every other error in the project's code. Returns the
 * function that ends this once the CLI starts.
 */
export function reportProjectLoadFailures(): () => void {
  const onFailure = (error: unknown) => {
    process.stderr.write(`error: ${describeLoadFailure(error)}\n`);
    process.exit(ExitCode.usage);
  };
  process.on('uncaughtException', onFailure);
  return () => process.off('uncaughtException', onFailure);
}

/** The line for a project module that failed to load (thrown at import, or a circular import). */
export function describeLoadFailure(error: unknown): string {
  const verbose = process.argv.includes('--verbose') || process.argv.includes('-v');
  const circle = error instanceof ReferenceError && /before initialization/.test(error.message);
  const hint = circle ? 'modules import each other in a circle: reach a task of the other module with a thunk, deps: [() => task]' : 'fix that module';
  return describeEscaped(error, 'loading the project threw ', hint, verbose);
}
