import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstFrameOutside } from '../dsl/call-site.js';
import { formatLocation } from '../dsl/ids.js';
import { ExitCode } from '../failures.js';

/** lib/: frames in it are the engine's, not the project's. */
const engineDirectory = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * deploy.ts imports the CLI first, then the project's task and environment modules. An exception before
 * the CLI starts is one of those modules failing to load (a task file that throws at import, a circular
 * import that reaches a value before it is defined): reported as one line with the project line that
 * threw, exit 2, the stack only with --verbose, like every other error in the project's code.
 */
export function reportProjectLoadFailures(): () => void {
  const onFailure = (error: unknown) => {
    const thrown = error instanceof Error ? error : new Error(String(error));
    const at = firstFrameOutside(thrown.stack, (file) => file.startsWith(engineDirectory));
    const verbose = process.argv.includes('--verbose') || process.argv.includes('-v');
    const circle = thrown instanceof ReferenceError && /before initialization/.test(thrown.message);
    const hint = circle ? 'modules import each other in a circle: reach a task of the other module with a thunk, deps: [() => task]' : 'fix that module';
    process.stderr.write(
      `error: ${at ? `${formatLocation(at)}: ` : ''}loading the project threw ${thrown.name}: ${thrown.message}: ${hint}` +
        `${verbose ? `\n${thrown.stack}` : ' (run with --verbose for the stack trace)'}\n`,
    );
    process.exit(ExitCode.usage);
  };
  process.on('uncaughtException', onFailure);
  return () => process.off('uncaughtException', onFailure);
}
