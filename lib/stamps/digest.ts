import crypto from 'node:crypto';
import { createReadStream } from 'node:fs';
import { canonicalJson } from '../dsl/canonical-json.js';

// One-shot hashing (Node >= 20.12) allocates no Hash stream object: it runs twice per task on every run.
export const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');

/** sha256 (hex) of a string or a value's canonical JSON. */
export function digestOf(value: unknown): string {
  return sha256Hex(typeof value === 'string' ? value : canonicalJson(value));
}

/** sha256 (hex) of a file's contents, streamed so multi-GB images do not fill memory. */
export async function digestFile(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
