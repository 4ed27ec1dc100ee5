import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Writes a file so that readers see the old or the new contents, never a mix: a temp file in the same
 * directory, fsync, rename, then fsync of the directory. Mode 0600: state and logs may reveal a site.
 */
export async function writeFileAtomic(file: string, contents: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  const handle = await fs.open(temporary, 'w', 0o600);
  try {
    try {
      await handle.writeFile(contents);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, file);
  } catch (error) {
    // A full disk, say: the old file stands, and no half-written temporary is left beside it.
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
  const directory = await fs.open(path.dirname(file), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
