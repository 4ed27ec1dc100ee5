import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PermanentFailure } from '../../lib/dsl/command-failure.js';

/** Where `bundle:keygen` puts the signing key (kept on the connected machine) and the public key (committed: sites trust it). */
export const defaultPrivateKey = '.cache/bundle/signing.key';
export const defaultPublicKey = 'bundle-signing.pub';

/** Makes an ed25519 key pair: the private key 0600, never overwritten (a lost key would orphan every bundle signed with it). */
export function generateSigningKey(privateFile: string, publicFile: string): { readonly fingerprint: string } {
  for (const file of [privateFile, publicFile]) {
    if (existsSync(file)) throw new PermanentFailure(`${file} exists: keygen never replaces a key; move it away first if you mean to rotate`);
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(path.dirname(privateFile), { recursive: true, mode: 0o700 });
  mkdirSync(path.dirname(publicFile), { recursive: true });
  writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  writeFileSync(publicFile, publicPem, { flag: 'wx' });
  return { fingerprint: keyFingerprint(publicPem) };
}

/** A short, stable name of a public key: sha256 of its DER, 16 hex digits. */
export function keyFingerprint(publicPem: string): string {
  return createHash('sha256').update(createPublicKey(publicPem).export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

function readKey(file: string, what: string): string {
  if (!existsSync(file)) throw new PermanentFailure(`${what} ${file} is missing: run bundle:keygen on the connected machine (or name another with key=...)`);
  return readFileSync(file, 'utf8');
}

/** Fails at once when the signing key is missing or not a private key: before gigabytes are downloaded. */
export function checkSigningKey(privateFile: string): void {
  createPrivateKey(readKey(privateFile, 'the signing key'));
}

/** The base64 ed25519 signature of `data` with the private key in `privateFile`. */
export function signWith(privateFile: string, data: Buffer): { readonly signature: string; readonly fingerprint: string } {
  const key = createPrivateKey(readKey(privateFile, 'the signing key'));
  return { signature: sign(null, data, key).toString('base64'), fingerprint: keyFingerprint(createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string) };
}

/** Whether `signature` (base64) is the signature of `data` by the public key in `publicFile`; throws when the key is missing. */
export function signatureIsValid(publicFile: string, data: Buffer, signature: string): boolean {
  const key = createPublicKey(readKey(publicFile, 'the public key'));
  try {
    return verify(null, data, key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export function publicKeyFingerprint(publicFile: string): string {
  return keyFingerprint(readKey(publicFile, 'the public key'));
}
