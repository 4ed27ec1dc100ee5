import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processExists } from './process-exists.js';

/** `onboarder-scratch-<pid>-<purpose>-XXXXXX`: whose it is, so a later run can tell a dead run's from a live one's. */
const scratchPattern = /^onboarder-scratch-(\d+)-[a-z]+-[A-Za-z0-9]{6}$/;

/**
 * A private directory (mode 0700) under the temp directory for files a tool reads during one command: an
 * inventory, variables that may hold secrets. The caller removes it when the command ends; a run killed
 * with SIGKILL (or by the OOM killer) cannot, and removeStaleScratchDirectories at the next run does.
 */
export function createScratchDirectory(purpose: string): string {
  if (!/^[a-z]+$/.test(purpose)) throw new Error(`a scratch directory's purpose is one lowercase word, not '${purpose}'`);
  return mkdtempSync(path.join(os.tmpdir(), `onboarder-scratch-${process.pid}-${purpose}-`));
}

/**
 * Text with every scratch directory of this process written as `$SCRATCH`: a dry run's plan shows the
 * commands a run would start, and a directory name made up for this one run would differ in every plan.
 */
export function withScratchPathsNamed(text: string): string {
  const base = os.tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`${base}/onboarder-scratch-${process.pid}-[a-z]+-[A-Za-z0-9]{6}`, 'g'), '$$SCRATCH');
}

/** Runs `body` with a fresh scratch directory and removes it afterwards, whatever happens. */
export async function withScratchDirectory<Result>(purpose: string, body: (directory: string) => Promise<Result>): Promise<Result> {
  const directory = createScratchDirectory(purpose);
  try {
    return await body(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * Removes the scratch directories of runs that are gone: this user's own (not a link), named for a process
 * that no longer exists. A live process's (another run, of this project or another) and anything else in
 * the temp directory are left alone. Returns what it removed. Never throws: it is housekeeping.
 */
export function removeStaleScratchDirectories(): string[] {
  const base = os.tmpdir();
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return removed;
  }
  for (const name of names) {
    const owner = scratchPattern.exec(name)?.[1];
    if (owner === undefined || processExists(Number(owner))) continue;
    const directory = path.join(base, name);
    try {
      const stats = lstatSync(directory);
      if (!stats.isDirectory() || stats.uid !== process.getuid?.()) continue;
      rmSync(directory, { recursive: true, force: true });
      removed.push(directory);
    } catch {
      // Gone meanwhile, or not ours to remove.
    }
  }
  return removed;
}
