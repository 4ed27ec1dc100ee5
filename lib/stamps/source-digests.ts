import { promises as fs } from 'node:fs';
import path from 'node:path';
import pLimit from 'p-limit';
import { glob, isDynamicPattern } from 'tinyglobby';
import { keyedRecord } from '../dsl/keyed-record.js';
import type { SourcePattern } from '../dsl/task.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { digestFile } from './digest.js';
import { rememberableSignature, signatureOf } from './file-signature.js';

interface CachedDigest {
  /** The file's signature (file-signature.ts) when it was read. */
  readonly signature: string;
  readonly digest: string;
}

/** Reads a file whole and returns its digest. */
export type ReadDigest = (file: string) => Promise<string>;

export type SourceDigestResult =
  | { readonly ok: true; readonly digests: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly missing: string };

/**
 * Digests of source files, cached by path and file signature (device, inode, mode, size, modification and
 * change times) so that an unchanged multi-GB image is not read again. A file changed just before it was
 * read is not cached (it could change again unseen within the clock's tick). The cache lives in one file
 * under .cache/ and is saved after a run.
 */
export class SourceDigests {
  private readonly cache = new Map<string, CachedDigest>();
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly limit = pLimit(4);
  private dirty = false;

  private constructor(
    private readonly root: string,
    private readonly cacheFile: string,
    private readonly readDigest: ReadDigest,
  ) {}

  static async open(root: string, cacheFile: string, readDigest: ReadDigest = digestFile): Promise<SourceDigests> {
    const digests = new SourceDigests(root, cacheFile, readDigest);
    try {
      const saved = JSON.parse(await fs.readFile(cacheFile, 'utf8')) as Record<string, Partial<CachedDigest> | null> | null;
      // Entries of an older format (no signature) are left out: those files are read once more.
      for (const [file, entry] of Object.entries(saved ?? {})) {
        if (typeof entry?.signature === 'string' && typeof entry.digest === 'string') digests.cache.set(file, { signature: entry.signature, digest: entry.digest });
      }
    } catch {
      // A missing or unreadable cache only costs re-reading the files.
    }
    return digests;
  }

  /** Expands the patterns (relative to the project root) and digests every file they match. */
  async digest(patterns: readonly SourcePattern[]): Promise<SourceDigestResult> {
    const files = new Set<string>();
    const absent: string[] = [];
    for (const entry of patterns) {
      const pattern = typeof entry === 'string' ? entry : entry.path;
      if (isDynamicPattern(pattern)) {
        for (const file of await glob(pattern, { cwd: this.root, onlyFiles: true, dot: true })) files.add(file);
        continue;
      }
      const exists = await fs.stat(path.resolve(this.root, pattern)).catch(() => undefined);
      if (!exists && typeof entry !== 'string') {
        absent.push(path.normalize(pattern));
        continue;
      }
      if (!exists) return { ok: false, missing: pattern };
      if (exists.isDirectory()) {
        for (const file of await glob(`${pattern.replace(/\/$/, '')}/**`, { cwd: this.root, onlyFiles: true, dot: true })) files.add(file);
      } else {
        files.add(path.normalize(pattern));
      }
    }
    const sorted = [...files].sort();
    const digests = await Promise.all(sorted.map((file) => this.digestOne(file)));
    const result = keyedRecord<string>();
    for (const [index, file] of sorted.entries()) result[file] = digests[index]!;
    for (const file of absent) result[file] = 'absent';
    return { ok: true, digests: result };
  }

  private digestOne(file: string): Promise<string> {
    const running = this.inFlight.get(file);
    if (running) return running;
    const promise = this.limit(async () => {
      const absolute = path.resolve(this.root, file);
      const stats = await fs.stat(absolute, { bigint: true });
      const cached = this.cache.get(file);
      if (cached && cached.signature === signatureOf(stats)) return cached.digest;
      const digest = await this.readDigest(absolute);
      // Judged once the read is over: a file that changed while it was read does not match `stats` again.
      const signature = rememberableSignature(stats);
      if (signature) this.cache.set(file, { signature, digest });
      else this.cache.delete(file);
      this.dirty = true;
      return digest;
    });
    this.inFlight.set(file, promise);
    void promise.finally(() => this.inFlight.delete(file)).catch(() => undefined);
    return promise;
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    const entries = keyedRecord<unknown>();
    for (const [file, entry] of this.cache) entries[file] = entry;
    await writeFileAtomic(this.cacheFile, JSON.stringify(entries));
    this.dirty = false;
  }
}
