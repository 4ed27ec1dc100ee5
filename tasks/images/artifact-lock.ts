import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PermanentFailure } from '../../lib/dsl/command-failure.js';
import { firstIssue } from '../../lib/dsl/schema-issue.js';
import { writeFileAtomic } from '../../lib/fs/atomic-write.js';

/**
 * images/manifest.lock.json: the digest and size each artifact had when it was first fetched and verified
 * against its publisher, committed beside the manifest as package-lock.json is. Every later fetch, bundle
 * and air-gapped check verifies against it: a publisher that changes a file under the same name is caught.
 */
export const lockFileName = 'images/manifest.lock.json';

const lockedArtifact = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'is not a sha256 in hex'),
  size: z.number().int().min(0).optional(),
  /** Where the digest was checked: the checksum file, index or registry it came from. */
  source: z.string().min(1),
});
const lockShape = z.strictObject({ version: z.literal(1), artifacts: z.record(z.string(), lockedArtifact) });

export type LockedArtifact = z.infer<typeof lockedArtifact>;

/** The lock of a project: read once per use, written atomically (entries sorted), one writer at a time in a run. */
export class ArtifactLock {
  private constructor(
    private readonly file: string,
    private readonly entries: Map<string, LockedArtifact>,
  ) {}

  /** Reads the project's lock; a missing file is an empty lock, a malformed one an error naming the file and key. */
  static read(root: string): ArtifactLock {
    const file = path.join(root, lockFileName);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new ArtifactLock(file, new Map());
      throw error;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new PermanentFailure(`${lockFileName} is not JSON (${(error as Error).message}): restore it from git`);
    }
    const parsed = lockShape.safeParse(value);
    if (!parsed.success) {
      const issue = firstIssue(parsed.error);
      throw new PermanentFailure(`${lockFileName} at ${issue.path.join('.') || '(top)'}: ${issue.message}: restore it from git`);
    }
    return new ArtifactLock(file, new Map(Object.entries(parsed.data.artifacts)));
  }

  get(key: string): LockedArtifact | undefined {
    return this.entries.get(key);
  }

  /**
   * Records a verified artifact. A key already locked to another digest is refused: the publisher changed
   * the file under the same name, or the lock was edited; either way a person decides.
   */
  async record(key: string, entry: LockedArtifact): Promise<void> {
    await serialized(this.file, async () => {
      const current = ArtifactLock.read(path.dirname(path.dirname(this.file)));
      const locked = current.entries.get(key);
      if (locked && locked.sha256 !== entry.sha256) {
        throw new PermanentFailure(`${lockFileName} locks ${key} to sha256 ${locked.sha256}, but ${entry.source} now gives ${entry.sha256}: find out why before removing the entry`);
      }
      if (locked && locked.size === entry.size) return;
      current.entries.set(key, { ...locked, ...entry });
      this.entries.set(key, current.entries.get(key)!);
      const artifacts = Object.fromEntries([...current.entries].sort(([a], [b]) => a.localeCompare(b)));
      await writeFileAtomic(this.file, `${JSON.stringify({ version: 1, artifacts }, null, 2)}\n`);
    });
  }
}

/** One read-modify-write of a lock file at a time in this process (tasks fetch in parallel). */
const queues = new Map<string, Promise<unknown>>();
function serialized<T>(file: string, body: () => Promise<T>): Promise<T> {
  const next = (queues.get(file) ?? Promise.resolve()).then(body, body);
  queues.set(file, next.catch(() => undefined));
  return next;
}
