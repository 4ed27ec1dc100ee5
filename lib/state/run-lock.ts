import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import { bootId, processStat } from '../fs/proc-stat.js';
import { fileErrorCode, isPathError, unusablePath } from './prepare-directory.js';
import { processExists } from './process-exists.js';

interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  /** The holder process's start (clock ticks after boot) and the boot: a reused pid has another start. */
  readonly startTicks?: number;
  readonly bootId?: string;
  /** What it runs, for the message of a run refused: `deploy.ts osdc`. */
  readonly command?: string;
}

export interface RunLock {
  /** Set when a lock left by a dead process, or by a process that is not a run (a reused pid), was taken over. */
  readonly takeoverWarning?: string;
  /** Removes the lock; a warning when it cannot be removed (a read-only disk): the run's result stands. */
  release(): string | undefined;
}

/**
 * One run at a time per environment: the lock file is created exclusively and holds the holder's pid, host,
 * start time, process start (from /proc) and command. A lock whose process is gone, or whose pid now
 * belongs to another process (its start differs), is taken over with a warning.
 */
export function acquireRunLock(file: string): Result<RunLock, ConfigurationFailure> {
  try {
    return takeLock(file);
  } catch (error) {
    // A directory where the lock file belongs, a read-only disk: what is wrong with the path, not a crash.
    if (isPathError(error)) return fail(unusablePath(file, 'the run lock', error));
    throw error;
  }
}

function takeLock(file: string): Result<RunLock, ConfigurationFailure> {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const self = processStat(process.pid);
  const holder: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    ...(self ? { startTicks: self.startTicks, bootId: bootId() } : {}),
    command: process.argv.slice(1).map((arg) => path.basename(arg)).join(' ').slice(0, 200),
  };
  let takeoverWarning: string | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written whole under a temporary name, then linked into place: link fails if the lock exists, and a
    // reader never sees a half-written holder.
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(holder), { mode: 0o600 });
    try {
      fs.linkSync(temporary, file);
      fs.rmSync(temporary, { force: true });
      return ok({ ...(takeoverWarning ? { takeoverWarning } : {}), release: () => release(file, holder) });
    } catch (error) {
      fs.rmSync(temporary, { force: true });
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const current = readHolder(file);
    const state = current ? holderState(current) : 'gone';
    if (current && state === 'running') {
      return fail({ reason: 'state-locked', file, pid: current.pid, host: current.host, startedAt: current.startedAt });
    }
    takeoverWarning = !current
      ? `took over an unreadable lock file ${file}`
      : state === 'gone'
        ? `took over the lock of run ${current.pid} started ${current.startedAt}: that process is gone`
        : `took over the lock of run ${current.pid} started ${current.startedAt}: pid ${current.pid} is now another process`;
    fs.rmSync(file, { force: true });
  }
  const current = readHolder(file);
  return fail({ reason: 'state-locked', file, pid: current?.pid ?? 0, host: current?.host ?? 'unknown', startedAt: current?.startedAt ?? 'unknown' });
}

/** Whether the holder still runs: on another host we cannot tell, so it does. */
function holderState(holder: LockHolder): 'running' | 'gone' | 'reused' {
  if (holder.host !== os.hostname()) return 'running';
  if (!processExists(holder.pid)) return 'gone';
  if (holder.startTicks === undefined || holder.bootId !== bootId()) return 'running';
  const stat = processStat(holder.pid);
  if (stat === undefined) return 'gone';
  return stat.startTicks === holder.startTicks ? 'running' : 'reused';
}

function release(file: string, holder: LockHolder): string | undefined {
  try {
    const current = readHolder(file);
    if (current?.pid === holder.pid && current.host === holder.host) fs.unlinkSync(file);
    return undefined;
  } catch (error) {
    return `could not remove the run lock ${file} (${fileErrorCode(error)}): the next run takes it over, as its process is gone`;
  }
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return typeof value.pid === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}
