import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Writes values (variables that may hold secrets) to a 0600 file in a private temp directory for the
 * duration of `body`, so they never appear on a command line, then removes it.
 */
export async function withPrivateFile<Result>(name: string, contents: string, body: (file: string) => Promise<Result>): Promise<Result> {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-'));
  try {
    const file = path.join(directory, name);
    writeFileSync(file, contents, { mode: 0o600 });
    return await body(file);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
