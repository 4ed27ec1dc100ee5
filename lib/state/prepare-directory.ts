import fs from 'node:fs';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';

/** Error codes that say the path cannot be used, as opposed to a file whose contents are wrong. */
const pathErrors = new Set(['ENOTDIR', 'EEXIST', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ELOOP', 'ENAMETOOLONG']);

/** Whether an error from the file system is about the path itself (see unusableDirectory). */
export function isPathError(error: unknown): error is NodeJS.ErrnoException {
  return typeof (error as NodeJS.ErrnoException | null)?.code === 'string' && pathErrors.has((error as NodeJS.ErrnoException).code!);
}

/** The failure for a directory the engine needs and cannot use, from the file system's error. */
export function unusableDirectory(directory: string, purpose: string, error: NodeJS.ErrnoException): ConfigurationFailure {
  return { reason: 'unusable-directory', directory, purpose, code: error.code ?? 'EIO' };
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
    if (isPathError(error)) return fail(unusableDirectory(directory, purpose, error));
    throw error;
  }
}
