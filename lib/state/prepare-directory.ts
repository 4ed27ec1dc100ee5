import fs from 'node:fs';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';

/** Error codes that say the path cannot be used, as opposed to a file whose contents are wrong. */
const pathErrors = new Set(['ENOTDIR', 'EEXIST', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ELOOP', 'ENAMETOOLONG']);

/** The errno name of a file system error: Node's own (`ERR_FS_EISDIR` from rm) carry it in `info`. */
function errnoName(error: unknown): string | undefined {
  const failure = error as (NodeJS.ErrnoException & { info?: { code?: string } }) | null;
  return failure?.info?.code ?? failure?.code;
}

/** A file system error in a word for messages: its errno name (ENOSPC), else its message. */
export function fileErrorCode(error: unknown): string {
  return errnoName(error) ?? (error instanceof Error ? error.message : String(error));
}

/** Whether an error from the file system is about the path itself (see unusablePath). */
export function isPathError(error: unknown): error is NodeJS.ErrnoException {
  const name = errnoName(error);
  return name !== undefined && pathErrors.has(name);
}

/** The failure for a path the engine needs and cannot use, from the file system's error. */
export function unusablePath(path: string, purpose: string, error: NodeJS.ErrnoException): ConfigurationFailure {
  return { reason: 'unusable-path', path, purpose, code: errnoName(error) ?? 'EIO' };
}

/** A file the engine will write, if it exists: one it may not write is refused now, not after the run's work. */
export function checkWritableIfExists(file: string, purpose: string): Result<void, ConfigurationFailure> {
  try {
    fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
    return ok(undefined);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ok(undefined);
    if (isPathError(error)) return fail(unusablePath(file, purpose, error));
    throw error;
  }
}

/**
 * Makes sure `directory` exists (created 0700 with its parents) and that files can be created in it, before
 * a run starts anything: a file in its way or a read-only disk is then one clear error, not a failure
 * after the tasks ran.
 */
export function prepareDirectory(directory: string, purpose: string): Result<void, ConfigurationFailure> {
  try {
    fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
    fs.accessSync(directory, fs.constants.W_OK | fs.constants.X_OK);
    return ok(undefined);
  } catch (error) {
    if (isPathError(error)) return fail(unusablePath(directory, purpose, error));
    throw error;
  }
}
