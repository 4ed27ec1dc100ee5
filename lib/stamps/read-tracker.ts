import childProcess from 'node:child_process';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What the process read while it loaded the project and decided what to run: every path handed to a
 * reading `fs` call, and whether it did something no file signature can stand for (started a program,
 * opened a network connection). Gradle's configuration cache tracks its build scripts' inputs the same way.
 * Reads inside worker threads and native addons are not seen.
 */
export interface ReadTracker {
  /** Absolute paths read, listed, opened or looked up since tracking started. */
  readonly paths: ReadonlySet<string>;
  /** Why what was read cannot describe the result (each such thing once), or undefined. */
  readonly untrackable: string | undefined;
}

/** fs functions whose first argument is a path they read, look up or open. */
const readingCalls = [
  'readFile', 'readFileSync', 'stat', 'statSync', 'lstat', 'lstatSync', 'existsSync', 'access', 'accessSync',
  'readdir', 'readdirSync', 'opendir', 'opendirSync', 'open', 'openSync', 'realpath', 'realpathSync',
  'readlink', 'readlinkSync', 'createReadStream', 'watch', 'watchFile',
] as const;
const readingPromiseCalls = ['readFile', 'stat', 'lstat', 'access', 'readdir', 'opendir', 'open', 'realpath', 'readlink'] as const;

interface TrackingState {
  readonly paths: Set<string>;
  readonly untrackable: Set<string>;
}

let active: TrackingState | undefined;
/** Set while the engine does its own housekeeping (see withoutTracking). */
let suspended = false;

/**
 * Runs `body` (synchronous) without noting what it reads: the engine's own housekeeping outside .cache/
 * (listing the temp directory for a killed run's scratch files) decides no command's result, and noting
 * it would make every result depend on everything in /tmp.
 */
export function withoutTracking<Result>(body: () => Result): Result {
  const was = suspended;
  suspended = true;
  try {
    return body();
  } finally {
    suspended = was;
  }
}

/**
 * Starts tracking (once per process; later calls return the same tracker). Installed before the project's
 * modules load, so that their named imports of `node:fs` see the wrappers too.
 */
export function startTrackingReads(): ReadTracker {
  if (active) return trackerView(active);
  const state: TrackingState = { paths: new Set(), untrackable: new Set() };
  active = state;
  const note = (target: unknown) => {
    if (suspended) return;
    const file = pathOf(target);
    if (file !== undefined) state.paths.add(file);
  };
  const untrackable = (reason: string) => state.untrackable.add(reason);
  // open() counts only when it opens for reading: the run's own log and journal files are writes.
  const noteRead = (args: unknown[], name: string) => {
    if (name.startsWith('open') && name !== 'opendir' && name !== 'opendirSync' && !readsOnOpen(args[1])) return;
    note(args[0]);
  };
  for (const name of readingCalls) wrap(fs as unknown as Record<string, unknown>, name, (args) => noteRead(args, name));
  for (const name of readingPromiseCalls) wrap(fs.promises as unknown as Record<string, unknown>, name, (args) => noteRead(args, name));
  wrap(childProcess.ChildProcess.prototype as unknown as Record<string, unknown>, 'spawn', () => untrackable('started a program'));
  for (const name of ['spawnSync', 'execSync', 'execFileSync'] as const) {
    wrap(childProcess as unknown as Record<string, unknown>, name, () => untrackable('started a program'));
  }
  wrap(net.Socket.prototype as unknown as Record<string, unknown>, 'connect', () => untrackable('opened a network connection'));
  // ES modules that import { readFileSync } from 'node:fs' hold bindings, not the object: update them.
  syncBuiltinESMExports();
  return trackerView(state);
}

function trackerView(state: TrackingState): ReadTracker {
  return {
    paths: state.paths,
    get untrackable() {
      return state.untrackable.size > 0 ? [...state.untrackable].join(', ') : undefined;
    },
  };
}

function wrap(target: Record<string, unknown>, name: string, before: (args: unknown[]) => void): void {
  const original = target[name];
  if (typeof original !== 'function') return;
  const wrapper = function (this: unknown, ...args: unknown[]) {
    before(args);
    return (original as (...args: unknown[]) => unknown).apply(this, args);
  };
  // fs.realpathSync.native and the like.
  for (const key of Object.keys(original)) (wrapper as unknown as Record<string, unknown>)[key] = (original as unknown as Record<string, unknown>)[key];
  Object.defineProperty(wrapper, 'name', { value: original.name });
  target[name] = wrapper;
}

/** Whether open()'s flags read the file: 'r', 'rs', 'r+' and friends, or O_RDONLY / O_RDWR. */
function readsOnOpen(flags: unknown): boolean {
  if (flags === undefined || flags === null || typeof flags === 'function') return true;
  if (typeof flags === 'string') return flags.includes('r') || flags.includes('+');
  if (typeof flags === 'number') return (flags & fs.constants.O_WRONLY) === 0;
  return true;
}

function pathOf(target: unknown): string | undefined {
  try {
    if (typeof target === 'string') return path.resolve(target);
    if (target instanceof URL) return target.protocol === 'file:' ? fileURLToPath(target) : undefined;
    if (Buffer.isBuffer(target)) return path.resolve(target.toString());
  } catch {
    // Not a path fs would accept either; the call fails on its own.
  }
  return undefined;
}
