import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { PermanentFailure } from '../../lib/dsl/command-failure.js';
import { issueLine } from '../../lib/dsl/schema-issue.js';
import { processExists } from '../../lib/state/process-exists.js';
import { digestFile } from '../../lib/stamps/digest.js';
import type { ToolContext } from '../../lib/tools/command.js';
import { bundleFiles, partDigestProblems, readBundleEntry, unpackBundle } from './archive.js';
import { bundleIndexShape, type BundleIndex } from './bundle-index.js';
import { publicKeyFingerprint, signatureIsValid } from './signing.js';

/**
 * A directory of this process under .cache/bundle/ (a bundle being staged, or one unpacked to be checked):
 * in the project, on the file system of images/, so files are hard-linked and gigabytes are not written to
 * the temp directory. Those of processes that are gone (a killed run) are removed first.
 */
export function bundleDirectory(root: string, what: 'staging' | 'open'): string {
  const parent = path.join(root, '.cache', 'bundle');
  for (const name of existsSync(parent) ? readdirSync(parent) : []) {
    const owner = /^(?:staging|open)-(\d+)$/.exec(name)?.[1];
    if (owner !== undefined && !processExists(Number(owner))) rmSync(path.join(parent, name), { recursive: true, force: true });
  }
  return path.join(parent, `${what}-${process.pid}`);
}


/**
 * A bundle's signed index, read without unpacking the bundle (its parts located and their list's signature
 * checked): what it carries, whether its signature is valid for `publicKey`, and the sha256 of index.json,
 * which names the bundle (a differential bundle names the one it builds on so).
 */
export async function readBundleIndex(file: string, publicKey: string): Promise<SignedIndex> {
  const located = bundleFiles(file, publicKey);
  if (located.problems.length > 0) throw new PermanentFailure(`bundle ${file}: ${located.problems.join('; ')}`);
  const [text, signature] = await Promise.all(['index.json', 'index.json.sig'].map((entry) => readBundleEntry(located.files, entry)));
  const read = parseSignedIndex(text, signature, publicKey, 'reported');
  if ('problem' in read) throw new PermanentFailure(`bundle ${file}: ${read.problem} (bundle:verify checks the whole bundle)`);
  return read;
}

type SignedIndex = { readonly index: BundleIndex; readonly signed: boolean; readonly digest: string };

/**
 * index.json and index.json.sig as bundle:create wrote them, checked: the index, whether its signature is
 * valid for `publicKey`, and the sha256 of index.json; or the one problem that makes it no index. A
 * `required` signature is checked before the index is read (a tampered index says so, whatever it holds); a
 * `reported` one is only reported, for inspect.
 */
export function parseSignedIndex(text: Buffer | undefined, signatureText: Buffer | undefined, publicKey: string, signature: 'required' | 'reported'): SignedIndex | { readonly problem: string } {
  if (!text || !signatureText) return { problem: 'index.json or index.json.sig is missing: not an Onboarder bundle' };
  const json = (data: Buffer): { value: unknown } | undefined => {
    try {
      return { value: JSON.parse(data.toString('utf8')) };
    } catch {
      return undefined;
    }
  };
  const signatureJson = json(signatureText);
  if (!signatureJson) return { problem: 'index.json.sig is not JSON: damaged or tampered with' };
  const signed = signatureIsValid(publicKey, text, String((signatureJson.value as { signature?: unknown } | null)?.signature ?? ''));
  if (!signed && signature === 'required') return { problem: `index.json: the signature does not match ${path.basename(publicKey)} (key ${publicKeyFingerprint(publicKey)}): tampered with, or signed by another key` };
  const indexJson = json(text);
  if (!indexJson) return { problem: 'index.json is not JSON: damaged or tampered with' };
  const parsed = bundleIndexShape.safeParse(indexJson.value);
  if (!parsed.success) return { problem: `index.json at ${issueLine(parsed.error)}` };
  return { index: parsed.data, signed, digest: createHash('sha256').update(text).digest('hex') };
}

/** A bundle checked end to end: the parts, the archive, the index's signature, every entry's digest and every image blob's. */
export async function openBundle(context: ToolContext, file: string, publicKey: string): Promise<{ directory: string; index: BundleIndex; fingerprint: string }> {
  const fail = (problems: readonly string[]): never => {
    for (const problem of problems) context.log.warn(`bad: ${problem}`);
    throw new PermanentFailure(`bundle ${file}: ${problems.length === 1 ? problems[0] : `${problems.length} bad entries (each above), the first: ${problems[0]}`}`);
  };
  const located = bundleFiles(file, publicKey);
  if (located.problems.length > 0) fail(located.problems);
  const partProblems = await partDigestProblems(file, located.files);
  if (partProblems.length > 0) fail(partProblems);
  const directory = bundleDirectory(context.root, 'open');
  rmSync(directory, { recursive: true, force: true });
  try {
    await unpackBundle(located.files, directory);
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    fail([`the archive is damaged: ${(error as Error).message}`]);
  }
  try {
    const fileIn = (name: string) => (existsSync(path.join(directory, name)) ? readFileSync(path.join(directory, name)) : undefined);
    const read = parseSignedIndex(fileIn('index.json'), fileIn('index.json.sig'), publicKey, 'required');
    if ('problem' in read) return fail([read.problem]);
    const { index } = read;
    const problems: string[] = [];
    for (const entry of index.artifacts) {
      if (entry.kind === 'image') continue;
      const where = path.join(directory, entry.path);
      if (!existsSync(where)) problems.push(`${entry.key}: ${entry.path} is missing`);
      else if (statSync(where).size !== entry.size) problems.push(`${entry.key}: ${entry.path} is ${statSync(where).size} bytes, expected ${entry.size}`);
      else {
        const found = await digestFile(where);
        if (found !== entry.sha256) problems.push(`${entry.key}: ${entry.path}: expected sha256 ${entry.sha256}, found ${found}`);
      }
    }
    problems.push(...(await imageProblems(directory, index)));
    if (problems.length > 0) fail(problems);
    return { directory, index, fingerprint: publicKeyFingerprint(publicKey) };
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
}

/** Each image's manifest is in the OCI layout under its reference with its pinned digest; every blob hashes to its name. */
async function imageProblems(directory: string, index: BundleIndex): Promise<string[]> {
  const images = index.artifacts.filter((entry) => entry.kind === 'image');
  if (images.length === 0) return [];
  const layout = path.join(directory, 'oci');
  const problems: string[] = [];
  let ociIndex: { manifests?: { digest: string; annotations?: Record<string, string> }[] } = { manifests: [] };
  try {
    if (existsSync(path.join(layout, 'index.json'))) ociIndex = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8'));
  } catch {
    return ['oci/index.json is not JSON: damaged or tampered with'];
  }
  for (const image of images) {
    const found = ociIndex.manifests?.find((manifest) => manifest.annotations?.['org.opencontainers.image.ref.name'] === image.reference);
    if (!found) problems.push(`${image.key}: ${image.reference} is not in the bundle's OCI layout`);
    else if (found.digest !== `sha256:${image.sha256}`) problems.push(`${image.key}: expected manifest sha256:${image.sha256}, found ${found.digest}`);
  }
  const blobs = path.join(layout, 'blobs', 'sha256');
  for (const blob of existsSync(blobs) ? readdirSync(blobs) : []) {
    const found = await digestFile(path.join(blobs, blob));
    if (found !== blob) problems.push(`oci blob ${blob}: found sha256 ${found}`);
  }
  return problems;
}

