import type { RunRecord } from '../state/run-record.js';
import { fileErrorCode } from '../state/prepare-directory.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { pruneRunHistory, runReportFile, runsKept, saveRunRecord, type RunHistoryPaths } from '../state/run-records.js';

/**
 * Reports something the CLI could not save after its command did its work (a cache, the run record): one
 * warning line naming the path and the file system's code. The command's own result stands.
 */
export function warnUnsaved(stderr: NodeJS.WritableStream, what: string, error: unknown): void {
  const failure = error as NodeJS.ErrnoException;
  const where = failure.path ? ` (${fileErrorCode(error)} at ${failure.path})` : ` (${failure.message})`;
  stderr.write(`warning: could not save ${what}${where}\n`);
}

/**
 * Saves a run's record and its HTML report, and keeps the newest runs' records and logs (see pruneRunHistory). Either failing
 * is a warning: the run's result stands.
 */
export async function saveRunHistory(stderr: NodeJS.WritableStream, paths: RunHistoryPaths, record: RunRecord, report: string): Promise<void> {
  try {
    await saveRunRecord(paths.stateDirectory, record);
  } catch (error) {
    warnUnsaved(stderr, 'the run record (--summary shows the one before)', error);
  }
  try {
    await writeFileAtomic(runReportFile(paths.stateDirectory, record.runId), report);
  } catch (error) {
    warnUnsaved(stderr, 'the run\'s HTML report', error);
  }
  const unremoved = await pruneRunHistory(paths);
  if (unremoved.length > 0) stderr.write(`warning: could not remove what runs older than the last ${runsKept} left: ${unremoved.join(', ')}\n`);
}

/**
 * Saves what the engine remembers between commands (source digests, tool versions). One that cannot be
 * written costs only time on the next command, so it is a warning, never a failure.
 */
export async function saveCaches(stderr: NodeJS.WritableStream, caches: readonly { readonly what: string; save(): Promise<void> }[]): Promise<void> {
  for (const cache of caches) {
    try {
      await cache.save();
    } catch (error) {
      warnUnsaved(stderr, `${cache.what}; it is worked out again next time`, error);
    }
  }
}
