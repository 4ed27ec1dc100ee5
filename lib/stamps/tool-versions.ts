import { execFile } from 'node:child_process';
import { accessSync, constants, promises as fs, statSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { keyedRecord } from '../dsl/keyed-record.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { rememberableSignature, signatureOf } from './file-signature.js';

/** A version as a tool printed it, and the executable it came from. */
interface RememberedVersion {
  readonly path: string;
  /** The executable's signature (file-signature.ts; its device tells the container image's file apart). */
  readonly signature: string;
  readonly version: string;
}

/**
 * The first line a tool prints for its version (see versionArgumentsOf; 'not installed' when it is not on
 * PATH). Stamps include it, so upgrading ansible re-runs the tasks that declared it, and
 * `--versions` prints them.
 *
 * Asking costs a process start, ~270 ms for ansible's Python, on every `--status`, dry run and re-run. So
 * answers are remembered across runs (a file under .cache/) for as long as the executable found on PATH is
 * the same file: same path and file signature (device, inode, mode, size, modification and change times),
 * which a package upgrade changes (ccache checks a compiler the same way). An executable changed just
 * before it was asked is asked again next time. A wrapper script whose target is upgraded in place keeps
 * its old answer until `--versions`, which always asks afresh.
 */
export class ToolVersions {
  private readonly asked = new Map<string, Promise<string>>();
  private remembered = keyedRecord<RememberedVersion>();
  private cacheFile: string | undefined;
  private dirty = false;

  /** Remembers answers in `cacheFile` from now on, starting with those saved there before. */
  async load(cacheFile: string): Promise<void> {
    this.cacheFile = cacheFile;
    try {
      const saved = JSON.parse(await fs.readFile(cacheFile, 'utf8')) as Record<string, Partial<RememberedVersion> | null>;
      // Entries of another shape (an edit by hand, another version) are left out: those tools are asked again.
      for (const [key, entry] of Object.entries(saved ?? {})) {
        if (typeof entry?.path === 'string' && typeof entry.signature === 'string' && typeof entry.version === 'string') this.remembered[key] = entry as RememberedVersion;
      }
    } catch {
      // Missing or unreadable: the tools are asked again.
    }
  }

  async save(): Promise<void> {
    if (!this.cacheFile || !this.dirty) return;
    this.dirty = false;
    await writeFileAtomic(this.cacheFile, `${JSON.stringify(this.remembered, null, 1)}\n`);
  }

  /** The tool's version, asked once per process; with `fresh`, asked now whatever was remembered. */
  version(tool: string, args: readonly string[], options: { readonly fresh?: boolean } = {}): Promise<string> {
    const key = [tool, ...args].join(' ');
    let version = options.fresh ? undefined : this.asked.get(key);
    if (!version) {
      version = this.find(key, tool, args, options.fresh === true);
      this.asked.set(key, version);
    }
    return version;
  }

  private async find(key: string, tool: string, args: readonly string[], fresh: boolean): Promise<string> {
    const executable = findExecutable(tool);
    if (!executable) return 'not installed';
    const known = this.remembered[key];
    const { path: file, stats } = executable;
    if (!fresh && known && known.path === file && known.signature === signatureOf(stats)) return known.version;
    const version = await ask(file, args);
    const signature = rememberableSignature(stats);
    if (signature) this.remembered[key] = { path: file, signature, version };
    else delete this.remembered[key];
    this.dirty = true;
    return version;
  }
}

/** Where a command is found the way execvp finds it: a path with a slash as is, else the first on PATH. */
export function findExecutable(command: string): { path: string; stats: BigIntStats } | undefined {
  const candidates = command.includes('/')
    ? [path.resolve(command)]
    : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((directory) => path.join(directory, command));
  for (const candidate of candidates) {
    const stats = statSync(candidate, { bigint: true, throwIfNoEntry: false });
    if (!stats?.isFile()) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return { path: candidate, stats };
    } catch {
      // Not executable: execvp goes on to the next directory too.
    }
  }
  return undefined;
}

function ask(executable: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(executable, [...args], { timeout: 30_000, env: { ...process.env, CHECKPOINT_DISABLE: '1' } }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') return resolve('not installed');
      const line = `${stdout}\n${stderr}`.split('\n').map((text) => text.trim()).find((text) => text !== '' && !/warning/i.test(text));
      resolve(line ?? 'unknown');
    });
  });
}

/**
 * How the tools that reject `--version` are asked. (Changing how a tool is asked changes its answer, and so
 * the stamps of the tasks that declare it: list only tools whose `--version` fails.)
 */
const versionArguments: Readonly<Record<string, readonly string[]>> = {
  dig: ['-v'],
  ssh: ['-V'],
  kubectl: ['version', '--client'],
  helm: ['version', '--short'],
};

/** The arguments that make `tool` print its version. */
export function versionArgumentsOf(tool: string): readonly string[] {
  return versionArguments[path.basename(tool)] ?? ['--version'];
}

/** The engine's tool versions: the CLI loads and saves them around each command that assesses tasks. */
export const toolVersions = new ToolVersions();

/** The version of `tool` (see ToolVersions), asked with the arguments it understands. */
export function toolVersion(tool: string): Promise<string> {
  return toolVersions.version(tool, versionArgumentsOf(tool));
}
