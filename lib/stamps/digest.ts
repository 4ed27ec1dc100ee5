import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { canonicalJson } from '../dsl/canonical-json.js';
import type { Fingerprint } from '../dsl/ids.js';

/** sha256 (hex) of a string or a value's canonical JSON. */
export function digestOf(value: unknown): string {
  const text = typeof value === 'string' ? value : canonicalJson(value);
  return createHash('sha256').update(text).digest('hex');
}

export function fingerprintOf(value: unknown): Fingerprint {
  return digestOf(value) as Fingerprint;
}

/** sha256 (hex) of a file's contents, streamed so multi-GB images do not fill memory. */
export async function digestFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
