// deploy.ts's entry to the CLI. It imports only this module statically and hands over a loader for the
// project's task and environment modules, so that a command the up-to-date cache can answer (a re-run with
// nothing to do, --status, --list, --graph), and --help, --version and --summary, load none of them (nor
// the engine, zod or graphology: ~0.3 s through tsx).
import { register } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { ExitCode } from '../failures.js';
import { startTrackingReads, type ReadTracker } from '../stamps/read-tracker.js';
import type { ConsoleOutput } from './console-reporter.js';
import { preferCompactHeapForLargeProjects } from './heap-policy.js';
import type { CommandObserver } from './main.js';
import type { Project } from './project.js';
import { loadReplayModules } from './replay-bundle.js';
import { cacheDirectory, cacheEnabled, invocationDigest, readUpToDateEntry, saveUpToDateRun, signatures, unchanged, type CachedAnswer } from './up-to-date-cache.js';

/** The project as deploy.ts describes it; `load` imports its catalog and environments when needed. */
export interface ProjectEntry<Config = unknown> extends Omit<Project<Config>, 'catalog' | 'environments' | 'passEnvironment'> {
  readonly load: () => Promise<Pick<Project<Config>, 'catalog' | 'environments' | 'passEnvironment'>>;
}

// Tracking starts when deploy.ts imports this module, before deploy.ts's own body and the project's modules
// run: whatever they read decides whether a cached result still holds.
const tracker: ReadTracker | undefined = cacheEnabled() ? startTrackingReads() : undefined;

/** The directory holding lib/: the engine's own modules are sources of every result too. */
const engineRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function startCli<Config>(
  entry: ProjectEntry<Config>,
  argv: readonly string[] = process.argv.slice(2),
  io: { readonly stdout: ConsoleOutput; readonly stderr: Writable } = process,
): Promise<number> {
  const invocation = tracker ? invocationDigest(entry.root, argv) : undefined;
  const stored = invocation ? readUpToDateEntry(entry.root, invocation) : undefined;
  // Loaded while the entry's files are checked (tsx loads modules on its own thread), when there is one.
  const replaying = stored ? loadReplayModules(cacheDirectory(entry.root), stored.replayBundle) : undefined;
  replaying?.catch(() => undefined);
  if (stored && replaying && unchanged(stored.files)) {
    const { tolerateClosedOutput, replayUpToDateRun } = await replaying;
    tolerateClosedOutput(io.stdout, io.stderr);
    // The cache only ever saves work: if the replay cannot start (its lock or state unusable), the full
    // command runs and reports what is wrong. Once it has printed, it does not throw.
    const replayed = await replayUpToDateRun(stored, io).catch(() => undefined);
    if (replayed !== undefined) return replayed;
  }

  // --help, --version and --summary need none of the project's modules. Arguments that do not parse go on
  // to the CLI, which reports them.
  const [{ parseCommandLine }, { answerWithoutProject }] = await Promise.all([import('./parse-args.js'), import('./without-project.js')]);
  const parsed = parseCommandLine(argv);
  if (parsed.ok) {
    const answered = await answerWithoutProject(entry, parsed.value, io);
    if (answered !== undefined) return answered;
  }

  preferCompactHeapForLargeProjects(entry.root);
  const modules = tracker ? observeModules() : undefined;
  const { runCli } = await import('./main.js');
  let loaded: Awaited<ReturnType<ProjectEntry<Config>['load']>>;
  try {
    loaded = await entry.load();
  } catch (error) {
    const { describeLoadFailure } = await import('./escaped-exceptions.js');
    io.stderr.write(`error: ${describeLoadFailure(error)}\n`);
    return ExitCode.usage;
  }
  const { load: _load, ...described } = entry;
  let answer: { readonly answer: CachedAnswer; readonly stateDirectory?: string } | undefined;
  const observer: CommandObserver | undefined = invocation
    ? {
        runRecorded: (run) => {
          if (run.upToDate) {
            const { environment, stateDirectory, logDirectory, console } = run;
            answer = { answer: { kind: 'run', environment, stateDirectory, logDirectory, console, run: run.upToDate }, stateDirectory };
          }
        },
        answered: ({ stdout, stateDirectory }) => {
          answer = { answer: { kind: 'output', stdout }, ...(stateDirectory !== undefined ? { stateDirectory } : {}) };
        },
      }
    : undefined;
  const code = await runCli({ ...described, ...loaded }, argv, io, observer);
  if (tracker && invocation && answer && tracker.untrackable === undefined) {
    const files = await filesDecidingTheResult(entry.root, tracker, modules!(), answer.stateDirectory);
    // The state files are only ever replaced whole, under the run lock.
    const stateDirectory = answer.stateDirectory;
    const replacedWhole = (file: string) => stateDirectory !== undefined && path.dirname(file) === stateDirectory;
    if (files) {
      try {
        const recorded = signatures(files, replacedWhole);
        const replayBundle = answer.answer.kind === 'run' ? await bundleReplay(entry.root, recorded, io.stderr) : undefined;
        const namedBundles = await saveUpToDateRun(entry.root, { invocation, files: recorded, answer: answer.answer, ...(replayBundle ? { replayBundle } : {}) });
        const { removeUnnamedBundles } = await import('./replay-bundle.js');
        removeUnnamedBundles(cacheDirectory(entry.root), namedBundles);
      } catch (error) {
        const { warnUnsaved } = await import('./save-caches.js');
        warnUnsaved(io.stderr, 'the up-to-date cache entry; the next run of this command decides afresh', error);
      }
    }
  }
  return code;
}

/**
 * The replay's modules in one file for the entry (see replay-bundle.ts); undefined when they cannot be
 * bundled, and the replay then loads them one by one.
 */
async function bundleReplay(root: string, recorded: Readonly<Record<string, string>>, stderr: Writable): Promise<string | undefined> {
  const { buildReplayBundle } = await import('./replay-bundle.js');
  try {
    return await buildReplayBundle(cacheDirectory(root), recorded);
  } catch (error) {
    const { warnUnsaved } = await import('./save-caches.js');
    warnUnsaved(stderr, "the replay's compiled modules; the next re-run loads them one by one", error);
    return undefined;
  }
}

/**
 * Starts watching the modules loaded from here on (module-observer.mjs, on the hooks thread); returns what
 * was seen so far. The modules loaded before (deploy.ts and this module's own imports) are the entry file
 * and the engine's.
 */
function observeModules(): () => string[] {
  const { port1, port2 } = new MessageChannel();
  port1.unref();
  register('./module-observer.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
  const seen: string[] = [];
  return () => {
    for (let message = receiveMessageOnPort(port1); message; message = receiveMessageOnPort(port1)) seen.push(message.message as string);
    return seen;
  };
}

/**
 * What a command read, plus what tracking cannot see: the modules (tsx loads them on its own thread), the
 * engine's own modules and the entry file, tsconfig.json (tsx reads it before anything is tracked), the
 * installed packages (npm rewrites node_modules/.package-lock.json on every change), and the environment's
 * state. Undefined when it read something that is not a file (/proc, /sys).
 */
async function filesDecidingTheResult(root: string, reads: ReadTracker, modules: readonly string[], stateDirectory: string | undefined): Promise<Set<string> | undefined> {
  const read = [...reads.paths];
  const engineState = path.join(root, '.cache') + path.sep;
  const files = new Set<string>();
  const inPackages = (file: string) => file.includes(`${path.sep}node_modules${path.sep}`);
  for (const file of read) {
    if (file.startsWith('/proc/') || file.startsWith('/sys/')) return undefined;
    // The engine's own caches under .cache/ only memoise what is tracked here; packages are covered below.
    if (file.startsWith(engineState) || inPackages(file) || file.startsWith('/dev/')) continue;
    files.add(file);
  }
  for (const url of modules) {
    const file = fileURLToPath(url);
    if (!inPackages(file)) files.add(file);
  }
  const { glob } = await import('tinyglobby');
  for (const file of await glob(['lib/**/*.{ts,mts,mjs,js,json}'], { cwd: engineRoot, absolute: true })) files.add(path.normalize(file));
  if (process.argv[1]) files.add(path.resolve(process.argv[1]));
  for (const directory of new Set([root, engineRoot])) {
    for (const name of ['tsconfig.json', 'package.json', path.join('node_modules', '.package-lock.json')]) files.add(path.join(directory, name));
  }
  if (stateDirectory !== undefined) {
    files.add(path.join(stateDirectory, 'state.json'));
    files.add(path.join(stateDirectory, 'state.journal'));
  }
  return files;
}
