import { createHash } from 'node:crypto';
import fs, { type BigIntStats } from 'node:fs';
import path from 'node:path';
import type { EngineEvent, RunRecord } from '../scheduler/events.js';
import { changedJustNow, fileSignature, signatureOf } from '../stamps/file-signature.js';
import type { ConsoleOptions } from './console-reporter.js';

/**
 * The up-to-date cache (.cache/up-to-date/<invocation>.json): when a run finds every task up to date, what it
 * read to decide that (files by signature, the invocation, the environment variables) and what it reported;
 * the same for commands whose answer is their output (--status, --list, --graph). The same command with
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
  readonly answer: CachedAnswer;
  /** The replay's modules compiled into one file in the cache's directory, named by its digest (replay-bundle.ts). */
  readonly replayBundle?: string;
}

/** A run that found everything up to date, replayed as a run; or a command whose answer is its output. */
export type CachedAnswer =
  | {
      readonly kind: 'run';
      readonly environment: string;
      readonly stateDirectory: string;
      readonly logDirectory: string;
      /** How the command line asked for output (the entry is for that command line only). */
      readonly console: ConsoleOptions;
      readonly run: UpToDateRun;
    }
  | { readonly kind: 'output'; readonly stdout: string };

/** A run that found every task up to date: what it takes to report it again, event for event. */
export interface UpToDateRun {
  readonly started: Extract<EngineEvent, { type: 'run-started' }>;
  /** Its record (redacted); every task in it was skipped. */
  readonly record: RunRecord;
  /** Indexes into record.tasks in the order their skips were reported (the record is in graph order). */
  readonly order: readonly number[];
}

const entryVersion = 5;

/** Entries kept: one per command line and environment, the most recently saved ones. */
const keptEntries = 16;

export function cacheDirectory(root: string): string {
  return path.join(root, '.cache', 'up-to-date');
}

export function cacheFile(root: string, invocation: string): string {
  return path.join(cacheDirectory(root), `${invocation}.json`);
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
 * The entry saved for this invocation, unchecked (see `unchanged`): read first, so that the replay's
 * modules load while its files are checked.
 */
export function readUpToDateEntry(root: string, invocation: string): UpToDateEntry | undefined {
  let entry: UpToDateEntry;
  try {
    entry = JSON.parse(fs.readFileSync(cacheFile(root, invocation), 'utf8')) as UpToDateEntry;
  } catch {
    return undefined;
  }
  if (entry.version !== entryVersion || entry.invocation !== invocation || typeof entry.files !== 'object' || !entry.answer) return undefined;
  return entry;
}

export function unchanged(files: Readonly<Record<string, string>>): boolean {
  for (const file in files) if (fileSignature(file) !== files[file]) return false;
  return true;
}

/**
 * Signatures of these files now, to record. `replacedWhole` says which files only ever change by being
 * replaced (an atomic rename gives them a new inode): they cannot be racy.
 */
export function signatures(files: Iterable<string>, replacedWhole: (file: string) => boolean = () => false): Record<string, string> {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const result: Record<string, string> = {};
  for (const file of [...files].sort()) {
    let stats: BigIntStats;
    try {
      stats = fs.statSync(file, { bigint: true });
    } catch {
      result[file] = fileSignature(file);
      continue;
    }
    // Racy (changed just now): recorded so, it matches nothing, and the next command records it then.
    result[file] = changedJustNow(stats, nowNs) && !replacedWhole(file) ? 'racy' : signatureOf(stats);
  }
  return result;
}

/**
 * Saves the entry (mode 0600, atomically) and keeps the newest few: operators alternate between commands.
 * Returns the replay bundles the kept entries name (the caller removes the others).
 */
export async function saveUpToDateRun(root: string, entry: Omit<UpToDateEntry, 'version'>): Promise<Set<string>> {
  const { writeFileAtomic } = await import('../state/atomic-write.js');
  await writeFileAtomic(cacheFile(root, entry.invocation), JSON.stringify({ version: entryVersion, ...entry }));
  const directory = cacheDirectory(root);
  const entries = fs
    .readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .map((name) => ({ file: path.join(directory, name), at: fs.statSync(path.join(directory, name), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => b.at - a.at);
  for (const stale of entries.slice(keptEntries)) fs.rmSync(stale.file, { force: true });
  const named = new Set<string>();
  for (const kept of entries.slice(0, keptEntries)) {
    try {
      const bundle = (JSON.parse(fs.readFileSync(kept.file, 'utf8')) as Partial<UpToDateEntry>).replayBundle;
      if (typeof bundle === 'string') named.add(bundle);
    } catch {
      // Removed or replaced meanwhile: it names nothing to keep.
    }
  }
  return named;
}
