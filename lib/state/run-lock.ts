import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import { isPathError, unusablePath } from './prepare-directory.js';
import { processExists } from './process-exists.js';

interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

export interface RunLock {
  /** Set when a lock left by a dead process was taken over. */
  readonly takeoverWarning?: string;
  release(): void;
}

/**
 * One run at a time per environment: the lock file is created exclusively and holds the holder's pid, host
 * and start time. A lock whose process is gone (same host) is taken over with a warning.
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
  const holder: LockHolder = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  let takeoverWarning: string | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    // Written whole under a temporary name, then linked into place: link fails if the lock exists, and a
    // reader never sees a half-written holder.
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(holder), { mode: 0o600 });
    try {
      fs.linkSync(temporary, file);
      fs.rmSync(temporary, { force: true });
      const release = () => {
        const current = readHolder(file);
        if (current?.pid === holder.pid && current.host === holder.host) fs.rmSync(file, { force: true });
      };
      return ok({ ...(takeoverWarning ? { takeoverWarning } : {}), release });
    } catch (error) {
      fs.rmSync(temporary, { force: true });
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const current = readHolder(file);
    if (current && (current.host !== holder.host || processExists(current.pid))) {
      return fail({ reason: 'state-locked', file, pid: current.pid, host: current.host, startedAt: current.startedAt });
    }
    takeoverWarning = current
      ? `took over the lock of run ${current.pid} started ${current.startedAt}: that process is gone`
      : `took over an unreadable lock file ${file}`;
    fs.rmSync(file, { force: true });
  }
  const current = readHolder(file);
  return fail({ reason: 'state-locked', file, pid: current?.pid ?? 0, host: current?.host ?? 'unknown', startedAt: current?.startedAt ?? 'unknown' });
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return typeof value.pid === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}
