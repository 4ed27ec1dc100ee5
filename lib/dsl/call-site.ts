import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceLocation } from './ids.js';

const dslDirectory = path.dirname(fileURLToPath(import.meta.url));
/** lib/: frames in it are the engine's, not the project's. */
const engineDirectory = path.resolve(dslDirectory, '..');
const framePattern = /(?:\(|at )((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/;

/**
 * The first frame of a stack trace whose file is not excluded, relative to the working directory.
 * tsx installs source maps, so lines are those of the .ts files.
 */
export function firstFrameOutside(stack: string | undefined, excluded: (file: string) => boolean): SourceLocation | undefined {
  for (const frame of stack?.split('\n').slice(1) ?? []) {
    const match = framePattern.exec(frame);
    if (!match) continue;
    const file = match[1]!.startsWith('file://') ? fileURLToPath(match[1]!) : match[1]!;
    if (file.includes('/node_modules/') || excluded(file)) continue;
    return { file: path.relative(process.cwd(), file) || file, line: Number(match[2]), column: Number(match[3]) };
  }
  return undefined;
}

/** The first stack frame in the project's own code (not the engine, not node_modules): where it threw. */
export function locationInProject(stack: string | undefined): SourceLocation | undefined {
  return firstFrameOutside(stack, (file) => file.startsWith(engineDirectory));
}

/**
 * The location of the caller's `task({...})` or `.with({...})`: the first frame outside the DSL. The stack
 * is captured now but formatted (with source maps, the costly part) only when a message needs it.
 */
export function callerLocation(): SourceLocation {
  const capture = new Error();
  let resolved: SourceLocation | undefined;
  const resolve = () =>
    (resolved ??= firstFrameOutside(capture.stack, (file) => path.dirname(file) === dslDirectory) ?? { file: '<unknown>', line: 0, column: 0 });
  return {
    get file() {
      return resolve().file;
    },
    get line() {
      return resolve().line;
    },
    get column() {
      return resolve().column;
    },
  };
}
