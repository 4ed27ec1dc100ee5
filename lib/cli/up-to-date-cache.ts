import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { EngineEvent } from '../scheduler/events.js';

/**
 * The up-to-date cache: when a run finds every task up to date, what it read to decide that (files by
 * signature, the invocation, the environment variables) and what it reported. The same command with
 * nothing changed then replays that report without loading the project, as Gradle's configuration cache
 * skips evaluating build scripts and ninja's no-op build only stats files: the task modules, zod, graphology
 * and the engine cost ~0.3 s through tsx, and a no-op re-run of a large project was all of that.
 *
 * Sound only for what tracking sees (lib/stamps/read-tracker.ts): a run that started a program or opened a
 * connection, or whose tasks probe drift, is never cached. Clocks and randomness read by the project's
 * code are not seen. `ONBOARDER_UP_TO_DATE_CACHE=0` turns it off.
 */
export interface UpToDateEntry {
  readonly version: typeof entryVersion;
  readonly invocation: string;
  /** Absolute path -> signature, for every file and directory whose change could change the result. */
  readonly files: Readonly<Record<string, string>>;
  readonly environment: string;
  readonly stateDirectory: string;
  readonly logDirectory: string;
  /** The run's events, run-started through run-finished; all of them skips. */
  readonly events: readonly EngineEvent[];
}

const entryVersion = 1;

export function cacheFile(root: string): string {
  return path.join(root, '.cache', 'up-to-date.json');
}

export function cacheEnabled(): boolean {
  return process.env.ONBOARDER_UP_TO_DATE_CACHE !== '0';
}

/** Everything about how the command was started: arguments, directory, Node, and every variable's value. */
export function invocationDigest(root: string, argv: readonly string[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([root, argv, process.cwd(), process.execArgv, process.version, process.platform, process.arch]));
  for (const name of Object.keys(process.env).sort()) hash.update(`\0${name}=${process.env[name]}`);
  return hash.digest('hex');
}

/**
 * What changes when a file's contents, type or place change: device, inode, size, mode, and modification
 * and change times in nanoseconds (the change time cannot be set back by hand). A directory's times change
 * when an entry is added, removed or renamed.
 */
export function fileSignature(file: string): string {
  try {
    const stat = fs.statSync(file, { bigint: true });
    return `${stat.dev}:${stat.ino}:${stat.mode}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
  } catch (error) {
    return `missing:${(error as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

/** The entry for this invocation when nothing it read has changed since; undefined otherwise. */
export function findUpToDateRun(root: string, invocation: string): UpToDateEntry | undefined {
  let entry: UpToDateEntry;
  try {
    entry = JSON.parse(fs.readFileSync(cacheFile(root), 'utf8')) as UpToDateEntry;
  } catch {
    return undefined;
  }
  if (entry.version !== entryVersion || entry.invocation !== invocation || typeof entry.files !== 'object') return undefined;
  return unchanged(entry.files) ? entry : undefined;
}

export function unchanged(files: Readonly<Record<string, string>>): boolean {
  for (const file in files) if (fileSignature(file) !== files[file]) return false;
  return true;
}

/** Signatures of these files now. */
export function signatures(files: Iterable<string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const file of [...files].sort()) result[file] = fileSignature(file);
  return result;
}

/** Saves the entry (mode 0600, atomically); the previous one, for any other command, is replaced. */
export async function saveUpToDateRun(root: string, entry: UpToDateEntry): Promise<void> {
  const { writeFileAtomic } = await import('../state/atomic-write.js');
  await writeFileAtomic(cacheFile(root), JSON.stringify(entry));
}

/** Forgets the entry: a command that changes state makes it stale anyway, this makes it cheap to see. */
export function forgetUpToDateRun(root: string): void {
  fs.rmSync(cacheFile(root), { force: true });
}
