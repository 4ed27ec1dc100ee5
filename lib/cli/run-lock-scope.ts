import path from 'node:path';
import { ExitCode } from '../failures.js';
import { stopLeftoverGroups } from '../process/recorded-groups.js';
import { acquireRunLock } from '../state/run-lock.js';
import { prepareRunDirectories } from './project.js';
import { warnUnsaved } from './save-caches.js';
import { isShared, type StateStore } from '../state/state-store.js';
import { report, type Invocation } from './session.js';

/** Where a run records the process groups its tasks are running (see RecordedGroups), beside its lock. */
export function runningGroupsFile(stateDirectory: string): string {
  return path.join(stateDirectory, 'running-groups.json');
}

/** How long stopped processes get between TERM and KILL: ONBOARDER_GRACE_MS, else 5 s. */
export function graceMs(): number {
  return Number(process.env.ONBOARDER_GRACE_MS ?? 5000);
}

/**
 * Runs `body` holding the environment's run lock: its directories checked first, a stale lock's takeover
 * and the state's warnings said, and what a killed run left running stopped before anything starts. The
 * state (when open) is closed (compacted) and the lock released afterwards, whatever happens.
 */
export async function withRunLock(
  invocation: Invocation,
  paths: { readonly stateDirectory: string; readonly logDirectory: string },
  store: StateStore | undefined,
  body: () => Promise<number>,
): Promise<number> {
  const { stderr } = invocation.io;
  const prepared = prepareRunDirectories(paths);
  if (!prepared.ok) return report(invocation, prepared.error, ExitCode.usage);
  const lock = acquireRunLock(path.join(paths.stateDirectory, 'run.lock'));
  if (!lock.ok) return report(invocation, lock.error, ExitCode.usage);
  // A shared state is locked in its database too: runs from other machines are refused with its holder.
  if (store && isShared(store)) {
    const shared = await store.acquireRunLock(invocation.options.targets);
    if (!shared.ok) {
      await store.close();
      const unreleased = lock.value.release();
      if (unreleased) stderr.write(`warning: ${unreleased}\n`);
      return report(invocation, shared.error, ExitCode.usage);
    }
  }
  try {
    if (lock.value.takeoverWarning) stderr.write(`warning: ${lock.value.takeoverWarning}\n`);
    for (const warning of store?.warnings ?? []) stderr.write(`warning: ${warning}\n`);
    const stopped = await stopLeftoverGroups(runningGroupsFile(paths.stateDirectory), graceMs());
    if (stopped.length > 0) stderr.write(`warning: stopped what a killed run left running: process group ${stopped.join(', ')}\n`);
    return await body();
  } finally {
    try {
      await store?.close();
    } catch (error) {
      warnUnsaved(stderr, `${store!.location} (the journal beside it keeps every stamp and is read on the next run)`, error);
    }
    const unreleased = lock.value.release();
    if (unreleased) stderr.write(`warning: ${unreleased}\n`);
  }
}
