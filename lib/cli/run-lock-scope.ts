import path from 'node:path';
import { ExitCode } from '../failures.js';
import { stopLeftoverGroups } from '../process/recorded-groups.js';
import { acquireRunLock } from '../state/run-lock.js';
import { prepareRunDirectories } from './project.js';
import { warnUnsaved } from './save-caches.js';
import { report, type Invocation, type Session } from './session.js';

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
 * state is closed (compacted) and the lock released afterwards, whatever happens.
 */
export async function withRunLock(invocation: Invocation, session: Session, body: () => Promise<number>): Promise<number> {
  const { stderr } = invocation.io;
  const prepared = prepareRunDirectories(session);
  if (!prepared.ok) return report(invocation, prepared.error, ExitCode.usage);
  const lock = acquireRunLock(path.join(session.stateDirectory, 'run.lock'));
  if (!lock.ok) return report(invocation, lock.error, ExitCode.usage);
  try {
    if (lock.value.takeoverWarning) stderr.write(`warning: ${lock.value.takeoverWarning}\n`);
    for (const warning of session.store.warnings) stderr.write(`warning: ${warning}\n`);
    const stopped = await stopLeftoverGroups(runningGroupsFile(session.stateDirectory), graceMs());
    if (stopped.length > 0) stderr.write(`warning: stopped what a killed run left running: process group ${stopped.join(', ')}\n`);
    return await body();
  } finally {
    try {
      await session.store.close();
    } catch (error) {
      warnUnsaved(stderr, `${session.store.location} (the journal beside it keeps every stamp and is read on the next run)`, error);
    }
    lock.value.release();
  }
}
