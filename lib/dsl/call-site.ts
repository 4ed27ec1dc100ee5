import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceLocation } from './ids.js';

const dslDirectory = path.dirname(fileURLToPath(import.meta.url));
const framePattern = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/;

/**
 * The location of the first stack frame outside the DSL itself: the line of the caller's `task({...})`.
 * tsx installs source maps, so the line is the one in the .ts file.
 */
export function callerLocation(): SourceLocation {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  for (const frame of stack) {
    const match = framePattern.exec(frame);
    if (!match) continue;
    const file = match[1]!.startsWith('file://') ? fileURLToPath(match[1]!) : match[1]!;
    if (path.dirname(file) === dslDirectory || file.includes('/node_modules/')) continue;
    return { file: path.relative(process.cwd(), file) || file, line: Number(match[2]), column: Number(match[3]) };
  }
  return { file: '<unknown>', line: 0, column: 0 };
}
