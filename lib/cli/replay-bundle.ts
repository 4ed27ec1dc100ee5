// The replay's modules compiled into one file. A re-run answered from the up-to-date cache loads ~27 of the
// engine's modules (reporters, log files, lock, run records), and tsx costs ~0.8 ms a module on top of
// Node's own load (its hooks run on another thread, one round trip per resolve and load): a third of what a
// replay adds to a bare tsx start. The run that saves a cache entry also bundles those modules with esbuild
// (tsx's own compiler) into .cache/up-to-date/replay-<digest>.mjs; the replay loads that one file.
//
// Sound because the entry it belongs to already holds every engine module's signature (a change to any of
// them makes the entry stale, and the project is loaded afresh): the bundle is kept only when each of its
// sources still has the signature the entry recorded once it is built, and it is named by its digest, which
// the replay checks before loading it. Anything amiss, and the replay loads the modules themselves.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fileSignature } from '../stamps/file-signature.js';

export type ReplayModules = typeof import('./replay-modules.js');

const entryModule = fileURLToPath(new URL('./replay-modules.ts', import.meta.url));
const bundleName = /^replay-[0-9a-f]{64}\.mjs$/;

/** The replay's modules: from the entry's bundle when it is there and whole, else one by one through tsx. */
export async function loadReplayModules(directory: string, bundle: string | undefined): Promise<ReplayModules> {
  if (bundle !== undefined && bundleName.test(bundle)) {
    const file = path.join(directory, bundle);
    try {
      const contents = readFileSync(file);
      if (`replay-${createHash('sha256').update(contents).digest('hex')}.mjs` === bundle) return (await import(pathToFileURL(file).href)) as ReplayModules;
    } catch {
      // Removed meanwhile, unreadable, or failing to load: the modules themselves below.
    }
  }
  return import('./replay-modules.js');
}

/**
 * Bundles the replay's modules into `directory` (mode 0600, atomically) and returns the file's name, when
 * every source of the bundle has the signature in `recorded` (taken before it was built) still after;
 * undefined when one changed meanwhile or is not among them.
 */
export async function buildReplayBundle(directory: string, recorded: Readonly<Record<string, string>>): Promise<string | undefined> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [entryModule],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: path.dirname(entryModule),
  });
  const output = result.outputFiles[0];
  // A module that finds files next to itself (import.meta.url) would look in .cache/ once bundled.
  if (!output || !result.metafile || output.text.includes('import.meta')) return undefined;
  for (const input of Object.keys(result.metafile.inputs)) {
    const file = path.resolve(path.dirname(entryModule), input);
    // Installed packages are covered by node_modules/.package-lock.json, which every entry records.
    if (file.includes(`${path.sep}node_modules${path.sep}`)) continue;
    const signature = recorded[file];
    if (signature === undefined || signature === 'racy' || fileSignature(file) !== signature) return undefined;
  }
  const name = `replay-${createHash('sha256').update(output.contents).digest('hex')}.mjs`;
  const file = path.join(directory, name);
  if (!existsSync(file)) {
    const { writeFileAtomic } = await import('../state/atomic-write.js');
    await writeFileAtomic(file, output.text);
  }
  return name;
}

/**
 * Removes the replay bundles in `directory` that no kept entry names. A bundle another command has written
 * and not yet named in its entry may go too (commands with the same engine write the same file, which the
 * entry saved here names); that command's replays then load the modules one by one until its next save.
 */
export function removeUnnamedBundles(directory: string, named: ReadonlySet<string>): void {
  for (const name of readdirSync(directory)) if (bundleName.test(name) && !named.has(name)) rmSync(path.join(directory, name), { force: true });
}
