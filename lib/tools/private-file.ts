import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { withScratchDirectory } from '../state/scratch-directory.js';

/**
 * Writes values (variables that may hold secrets) to a 0600 file in a private scratch directory for the
 * duration of `body`, so they never appear on a command line, then removes it.
 */
export async function withPrivateFile<Result>(name: string, contents: string, body: (file: string) => Promise<Result>): Promise<Result> {
  return withScratchDirectory('file', async (directory) => {
    const file = path.join(directory, name);
    writeFileSync(file, contents, { mode: 0o600 });
    return body(file);
  });
}
