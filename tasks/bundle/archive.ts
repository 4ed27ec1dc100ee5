import { createReadStream, createWriteStream, existsSync, readFileSync, statSync, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { writeFileAtomic } from '../../lib/fs/atomic-write.js';
import { issueLine } from '../../lib/dsl/schema-issue.js';
import { digestFile } from '../../lib/stamps/digest.js';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import * as tar from 'tar';
import { z } from 'zod';
import { signatureIsValid, signWith } from './signing.js';

/**
 * A bundle on disk: one tar file, or, split for small media (`max-size`), its parts `<file>.001`, `.002`, ...
 * with `<file>.parts.json`, which lists each part's size and sha256 and is signed, so a truncated or swapped
 * part is named before anything is unpacked.
 */
const partsShape = z.strictObject({
  version: z.literal(1),
  bundle: z.string().min(1),
  parts: z.array(z.strictObject({ file: z.string().min(1), size: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) })).min(1),
  signature: z.string().min(1),
});
type Parts = z.infer<typeof partsShape>;

const partsBody = (parts: Omit<Parts, 'signature'>) => Buffer.from(JSON.stringify({ version: parts.version, bundle: parts.bundle, parts: parts.parts }));

/** Writes the staging directory's `entries` as a tar at `out` (or its parts), never leaving a half-written file under a final name. */
export async function packBundle(staging: string, entries: readonly string[], out: string, options: { readonly maxSize?: number; readonly privateKey: string }): Promise<string[]> {
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  const writer = new PartWriter(out, options.maxSize);
  try {
    await pipeline(tar.create({ cwd: staging, portable: true, noMtime: true }, [...entries]), writer);
  } catch (error) {
    await writer.discard();
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`writing the bundle ${out} failed${code ? ` (${code})` : ''}: ${(error as Error).message}; nothing was kept: free space there or write it elsewhere (out=...)`);
  }
  const written = writer.parts;
  if (written.length === 1 && !options.maxSize) {
    await rename(written[0]!.partial, out);
    return [out];
  }
  const parts = written.map((part, index) => ({ file: `${path.basename(out)}.${String(index + 1).padStart(3, '0')}`, size: part.size, sha256: part.sha256 }));
  const body = { version: 1 as const, bundle: path.basename(out), parts };
  const manifest: Parts = { ...body, signature: signWith(options.privateKey, partsBody(body)).signature };
  for (const [index, part] of written.entries()) await rename(part.partial, path.join(path.dirname(out), parts[index]!.file));
  await writeFileAtomic(`${out}.parts.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  return [...parts.map((part) => path.join(path.dirname(out), part.file)), `${out}.parts.json`];
}

/** Splits what it is given into `<out>.partN.partial` files of at most `maxSize` bytes, hashing each. */
class PartWriter extends Writable {
  readonly parts: { partial: string; size: number; sha256: string; hash: ReturnType<typeof createHash>; stream: WriteStream }[] = [];

  constructor(
    private readonly out: string,
    private readonly maxSize: number | undefined,
  ) {
    super();
  }

  private open(): (typeof this.parts)[number] {
    const partial = `${this.out}.${String(this.parts.length + 1).padStart(3, '0')}.partial`;
    const part = { partial, size: 0, sha256: '', hash: createHash('sha256'), stream: createWriteStream(partial, { mode: 0o644 }) };
    // Errors (a full disk) reach the writes' and end's callbacks; without a listener they would also be thrown.
    part.stream.on('error', () => undefined);
    this.parts.push(part);
    return part;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    void this.writeChunk(chunk).then(() => done(), done);
  }

  private async writeChunk(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (rest.length > 0) {
      let part = this.parts.at(-1);
      if (!part || (this.maxSize && part.size >= this.maxSize)) part = this.open();
      const room = this.maxSize ? this.maxSize - part.size : rest.length;
      const piece = rest.subarray(0, room);
      rest = rest.subarray(piece.length);
      part.size += piece.length;
      part.hash.update(piece);
      await writeTo(part.stream, piece);
    }
  }

  override _final(done: (error?: Error | null) => void): void {
    if (this.parts.length === 0) this.open();
    Promise.all(this.parts.map((part) => new Promise<void>((resolve, reject) => part.stream.end((error?: Error | null) => (error ? reject(error) : resolve())))))
      .then(() => {
        for (const part of this.parts) part.sha256 = part.hash.digest('hex');
        done();
      }, done);
  }

  async discard(): Promise<void> {
    for (const part of this.parts) {
      part.stream.destroy();
      await rm(part.partial, { force: true });
    }
  }
}

function writeTo(stream: WriteStream, piece: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    stream.once('error', onError);
    const flushed = stream.write(piece, (error) => {
      stream.off('error', onError);
      if (error) reject(error);
      else if (flushed) resolve();
    });
    if (!flushed) stream.once('drain', resolve);
  });
}

/** The files a bundle is made of, in order: the tar alone, or its parts after checking them against the signed parts list. */
export function bundleFiles(file: string, publicKey: string): { readonly files: string[]; readonly problems: string[] } {
  const partsFile = file.endsWith('.parts.json') ? file : `${file}.parts.json`;
  if (!existsSync(partsFile)) {
    if (!existsSync(file)) return { files: [], problems: [`${file}: no such bundle (nor ${path.basename(partsFile)} for a split one)`] };
    return { files: [file], problems: [] };
  }
  let parts: Parts;
  try {
    const parsed = partsShape.safeParse(JSON.parse(readFileSync(partsFile, 'utf8')));
    if (!parsed.success) return { files: [], problems: [`${partsFile} at ${issueLine(parsed.error)}`] };
    parts = parsed.data;
  } catch (error) {
    return { files: [], problems: [`${partsFile} is not JSON: ${(error as Error).message}`] };
  }
  if (!signatureIsValid(publicKey, partsBody(parts), parts.signature)) return { files: [], problems: [`${partsFile}: the signature does not match ${publicKey} (tampered with, or signed by another key)`] };
  const problems: string[] = [];
  const files = parts.parts.map((part) => path.join(path.dirname(partsFile), part.file));
  for (const [index, part] of parts.parts.entries()) {
    const where = files[index]!;
    const size = existsSync(where) ? statSync(where).size : undefined;
    if (size === undefined) problems.push(`part ${index + 1} of ${parts.parts.length} (${part.file}) is missing`);
    else if (size !== part.size) problems.push(`part ${index + 1} of ${parts.parts.length} (${part.file}) is ${size < part.size ? 'truncated' : 'too long'}: ${size} bytes, expected ${part.size}`);
  }
  return { files, problems };
}

/** Checks each part's digest (after their sizes were checked), naming each bad one. */
export async function partDigestProblems(file: string, files: readonly string[]): Promise<string[]> {
  const partsFile = file.endsWith('.parts.json') ? file : `${file}.parts.json`;
  if (!existsSync(partsFile)) return [];
  const parts = partsShape.parse(JSON.parse(readFileSync(partsFile, 'utf8')));
  const problems: string[] = [];
  for (const [index, part] of parts.parts.entries()) {
    const found = await digestFile(files[index]!);
    if (found !== part.sha256) problems.push(`part ${index + 1} of ${parts.parts.length} (${part.file}): expected sha256 ${part.sha256}, found ${found}`);
  }
  return problems;
}

/** Unpacks the bundle's files, in order as one stream, into `directory` (tar keeps every entry inside it). */
export async function unpackBundle(files: readonly string[], directory: string): Promise<void> {
  await mkdir(directory, { recursive: true });
  const joined = new PassThrough();
  const feeding = (async () => {
    for (const file of files) await pipeline(createReadStream(file), joined, { end: false });
    joined.end();
  })();
  await Promise.all([pipeline(joined, tar.extract({ cwd: directory, strict: true })), feeding]);
}

/** Reads one entry of the bundle (index.json, say) without unpacking the rest. */
export async function readBundleEntry(files: readonly string[], entry: string): Promise<Buffer | undefined> {
  const joined = new PassThrough();
  let found: Buffer | undefined;
  const chunks: Buffer[] = [];
  const parser = new tar.Parser({
    filter: (name) => name.replace(/^\.\//, '') === entry,
    onReadEntry: (read) => {
      read.on('data', (chunk: Buffer) => chunks.push(chunk));
      read.on('end', () => (found = Buffer.concat(chunks)));
    },
  });
  const feeding = (async () => {
    for (const file of files) await pipeline(createReadStream(file), joined, { end: false });
    joined.end();
  })();
  await Promise.all([pipeline(joined, parser), feeding]);
  return found;
}
