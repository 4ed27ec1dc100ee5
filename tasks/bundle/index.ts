import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { PermanentFailure } from '../../lib/dsl/command-failure.js';
import { imageArchive, imageTag } from '../../lib/container/launcher.js';
import { digestFile } from '../../lib/stamps/digest.js';
import type { ToolContext } from '../../lib/tools/command.js';
import { copyImage, registryHas, registryDigest, type RegistryAccess } from '../../lib/tools/skopeo.js';
import { artifactKey, artifactsFor, imageReferenceParts, type Artifact } from '../../images/manifest.js';
import type { Environment } from '../../environments/schema.js';
import { ArtifactLock } from '../images/artifact-lock.js';
import { bytesText, mirrored } from '../images/download.js';
import { fetchArtifact } from '../images/fetch-artifact.js';
import { tasks, withoutProxmox } from '../shared/kit.js';
import { withSiteRegistry } from '../registry/site-registry.js';
import { bundleFiles, packBundle, partDigestProblems, readBundleEntry, unpackBundle } from './archive.js';
import { bundleIndexShape, type BundleEntry, type BundleIndex } from './bundle-index.js';
import { defaultPrivateKey, defaultPublicKey, generateSigningKey, publicKeyFingerprint, signatureIsValid, signWith } from './signing.js';

/**
 * Air-gapped delivery, as Zarf and Hauler do it: `bundle:create` (connected) fetches and verifies every
 * artifact the environment's versions need into one signed archive; `bundle:verify` and `bundle:inspect`
 * check and list one; `bundle:load` (at the site) verifies it, places the files under images/ and pushes the
 * images into the site registry. Their inputs are free values given on the command line:
 * `tsx deploy.ts 'bundle:load[file=/media/site.tar]'`.
 */
const bundle = tasks.namespace('bundle');
const path_ = z.string().min(1);
/** A size for `max-size`: bytes, or with a unit (K, M, G; powers of 1000, as media are sold). */
const size = z.union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?[KMG]?B?$/i, 'is a size such as 4G, 700M or 1000000')]);

function bytesOf(value: number | string | undefined): number | undefined {
  if (value === undefined || typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)([KMG]?)/i.exec(value)!;
  return Math.floor(Number(match[1]) * ({ '': 1, K: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[match[2]!.toUpperCase()]!);
}

/** What a bundle for this environment carries: every artifact an air-gapped site of its shape needs. */
function carried(config: Environment, artifact: Artifact): boolean {
  return artifact.neededFor !== 'proxmox' || !withoutProxmox(config);
}

/** What the bundle's steps use of a task's context. */
type BundleContext = ToolContext & { readonly config: Environment };

const scratchOf = (root: string, what: string) => path.join(root, '.cache', 'bundle', `${what}-${process.pid}`);

export const keygen = bundle.task({
  name: 'keygen',
  description: 'Make the ed25519 key bundles are signed with (the private key stays here; commit the public one)',
  inputs: { key: path_ },
  policy: 'always',
  run: (context) => {
    const privateKey = path.resolve(context.root, context.inputs.key);
    const { fingerprint } = generateSigningKey(privateKey, path.resolve(context.root, defaultPublicKey));
    context.log.info(`signing key ${fingerprint}: private ${path.relative(context.root, privateKey)} (0600, keep it on this machine), public ${defaultPublicKey} (commit it: sites verify with it)`);
  },
});

export const create = bundle.task({
  name: 'create',
  description: "Fetch, verify and pack every artifact the environment's versions need into one signed bundle",
  inputs: { out: path_, 'max-size': size.optional(), 'runner-image': path_.optional(), key: path_.optional() },
  policy: 'always',
  tools: ['skopeo'],
  timeout: '6h',
  // A cut download resumes on the next attempt (what was fetched and verified is kept).
  retries: 2,
  retryDelay: '2s',
  run: async (context) => {
    const { config, root, inputs } = context;
    const out = path.resolve(root, inputs.out);
    const staging = scratchOf(root, 'staging');
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(path.join(staging, 'files'), { recursive: true });
    try {
      const entries: BundleEntry[] = [];
      for (const artifact of artifactsFor(config.versions).filter((each) => carried(config, each))) {
        entries.push(artifact.kind === 'image' ? await stageImage(context, artifact, staging) : await stageFile(context, artifact, staging));
      }
      const runner = inputs['runner-image'] ? path.resolve(root, inputs['runner-image']) : existsSync(path.join(root, 'Containerfile')) ? imageArchive(root, imageTag(root)) : undefined;
      if (runner && existsSync(runner)) entries.push(await stageRunnerImage(runner, staging, root));
      else context.log.warn(`no runner image in the bundle: save one with --container-save (or pass runner-image=FILE); the site then needs the image some other way`);
      const index: BundleIndex = { version: 1, environment: config.name, created: new Date().toISOString(), versions: config.versions, artifacts: entries };
      const indexText = Buffer.from(`${JSON.stringify(index, null, 2)}\n`);
      writeFileSync(path.join(staging, 'index.json'), indexText);
      const signed = signWith(path.resolve(root, inputs.key ?? defaultPrivateKey), indexText);
      writeFileSync(path.join(staging, 'index.json.sig'), `${JSON.stringify({ signature: signed.signature, key: signed.fingerprint })}\n`);
      const contents = ['index.json', 'index.json.sig', 'files', ...(existsSync(path.join(staging, 'oci')) ? ['oci'] : [])];
      const written = await packBundle(staging, contents, out, { maxSize: bytesOf(inputs['max-size']), privateKey: path.resolve(root, inputs.key ?? defaultPrivateKey) });
      const total = written.reduce((sum, file) => sum + statSync(file).size, 0);
      const images = entries.filter((entry) => entry.kind === 'image').length;
      context.log.info(`bundle ${path.relative(root, out) || out}: ${entries.length - images} files and charts, ${images} images, ${bytesText(total)} in ${written.length === 1 ? 'one file' : `${written.length - 1} parts`}, signed by key ${signed.fingerprint}`);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  },
});

async function stageFile(context: BundleContext, artifact: Exclude<Artifact, { kind: 'image' }>, staging: string): Promise<BundleEntry> {
  const { config, root } = context;
  await fetchArtifact(artifact, {
    root,
    online: true,
    mirrors: config.upstreamMirrors,
    signal: context.signal,
    progress: (line) => context.log.info(`${artifact.name}: ${line}`),
    downloading: (url, file) => context.commands.started(`download ${url} -> ${file}`),
  });
  const key = artifactKey(artifact);
  const locked = ArtifactLock.read(root).get(key)!;
  const inBundle = `files/${artifact.file.replace(/^images\//, '')}`;
  linkInto(path.resolve(root, artifact.file), path.join(staging, inBundle));
  return { kind: artifact.kind, key, name: artifact.name, version: artifact.version, source: locked.source, sha256: locked.sha256, size: statSync(path.resolve(root, artifact.file)).size, path: inBundle, target: artifact.file };
}

async function stageImage(context: BundleContext, artifact: Extract<Artifact, { kind: 'image' }>, staging: string): Promise<BundleEntry> {
  const { config, root } = context;
  const key = artifactKey(artifact);
  const lock = ArtifactLock.read(root);
  const from = mirrored(artifact.reference, config.upstreamMirrors);
  const access: RegistryAccess = { insecure: config.upstreamMirrors.some((mirror) => mirror.insecure && artifact.reference.startsWith(mirror.prefix)) };
  let sha256 = lock.get(key)?.sha256;
  if (!sha256) {
    sha256 = (await registryDigest(context, from, access)).slice('sha256:'.length);
    await lock.record(key, { sha256, source: `the registry's digest of ${artifact.reference}` });
  }
  const repository = from.slice(0, from.lastIndexOf(':'));
  await copyImage(context, `docker://${repository}@sha256:${sha256}`, `oci:${path.join(staging, 'oci')}:${artifact.reference}`, { source: access });
  return { kind: 'image', key, name: artifact.name, version: artifact.version, source: lock.get(key)?.source ?? `the registry's digest of ${artifact.reference}`, sha256, reference: artifact.reference };
}

async function stageRunnerImage(file: string, staging: string, root: string): Promise<BundleEntry> {
  const name = path.basename(file);
  const inBundle = `files/${name}`;
  linkInto(file, path.join(staging, inBundle));
  const version = /^onboarder-([0-9a-f]+)\.tar$/.exec(name)?.[1] ?? 'saved';
  return { kind: 'file', key: `file:onboarder-runner@${version}`, name: 'onboarder-runner', version, source: `saved on the connected machine (${path.relative(root, file) || file})`, sha256: await digestFile(file), size: statSync(file).size, path: inBundle, target: `images/${name}` };
}

/** A hard link where the file system allows (multi-GB files are not copied twice), else a copy. */
function linkInto(from: string, to: string): void {
  mkdirSync(path.dirname(to), { recursive: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/** A bundle checked end to end: the parts, the archive, the index's signature, every entry's digest and every image blob's. */
async function openBundle(context: ToolContext, file: string, publicKey: string): Promise<{ directory: string; index: BundleIndex; fingerprint: string }> {
  const fail = (problems: readonly string[]): never => {
    for (const problem of problems) context.log.warn(`bad: ${problem}`);
    throw new PermanentFailure(`bundle ${file}: ${problems.length === 1 ? problems[0] : `${problems.length} bad entries (each above), the first: ${problems[0]}`}`);
  };
  const located = bundleFiles(file, publicKey);
  if (located.problems.length > 0) fail(located.problems);
  const partProblems = await partDigestProblems(file, located.files);
  if (partProblems.length > 0) fail(partProblems);
  const directory = scratchOf(context.root, 'open');
  rmSync(directory, { recursive: true, force: true });
  try {
    await unpackBundle(located.files, directory);
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    fail([`the archive is damaged: ${(error as Error).message}`]);
  }
  try {
    const index = readIndex(directory, publicKey, fail);
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

function readIndex(directory: string, publicKey: string, fail: (problems: readonly string[]) => never): BundleIndex {
  const indexFile = path.join(directory, 'index.json');
  const signatureFile = path.join(directory, 'index.json.sig');
  if (!existsSync(indexFile) || !existsSync(signatureFile)) return fail(['index.json or index.json.sig is missing: not an Onboarder bundle']);
  const text = readFileSync(indexFile);
  let signature: string;
  try {
    signature = (JSON.parse(readFileSync(signatureFile, 'utf8')) as { signature: string }).signature;
  } catch {
    return fail(['index.json.sig is not the JSON bundle:create writes']);
  }
  if (!signatureIsValid(publicKey, text, signature)) return fail([`index.json: the signature does not match ${path.basename(publicKey)} (key ${publicKeyFingerprint(publicKey)}): tampered with, or signed by another key`]);
  const parsed = bundleIndexShape.safeParse(JSON.parse(text.toString('utf8')));
  if (!parsed.success) return fail([`index.json at ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`]);
  return parsed.data;
}

/** Each image's manifest is in the OCI layout under its reference with its pinned digest; every blob hashes to its name. */
async function imageProblems(directory: string, index: BundleIndex): Promise<string[]> {
  const images = index.artifacts.filter((entry) => entry.kind === 'image');
  if (images.length === 0) return [];
  const layout = path.join(directory, 'oci');
  const problems: string[] = [];
  const ociIndex = existsSync(path.join(layout, 'index.json')) ? (JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests?: { digest: string; annotations?: Record<string, string> }[] }) : { manifests: [] };
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

const publicKeyInput = { 'public-key': path_.optional() };
const publicKeyOf = (root: string, given: string | undefined) => path.resolve(root, given ?? defaultPublicKey);

export const verifyBundle = bundle.task({
  name: 'verify',
  description: "Check a bundle's signature and every digest, naming each bad entry",
  inputs: { file: path_, ...publicKeyInput },
  policy: 'always',
  run: async (context) => {
    const { directory, index, fingerprint } = await openBundle(context, path.resolve(context.root, context.inputs.file), publicKeyOf(context.root, context.inputs['public-key']));
    rmSync(directory, { recursive: true, force: true });
    context.log.info(`bundle ${context.inputs.file} is intact: ${index.artifacts.length} artifacts verified, signed by key ${fingerprint}`);
  },
});

export const inspectBundle = bundle.task({
  name: 'inspect',
  description: "List a bundle's contents (its signed index) without unpacking it",
  inputs: { file: path_, ...publicKeyInput },
  policy: 'always',
  run: async (context) => {
    const file = path.resolve(context.root, context.inputs.file);
    const publicKey = publicKeyOf(context.root, context.inputs['public-key']);
    const located = bundleFiles(file, publicKey);
    if (located.problems.length > 0) throw new Error(`bundle ${context.inputs.file}: ${located.problems.join('; ')}`);
    const [text, signature] = await Promise.all(['index.json', 'index.json.sig'].map((entry) => readBundleEntry(located.files, entry)));
    if (!text || !signature) throw new Error(`bundle ${context.inputs.file} has no index.json: not an Onboarder bundle`);
    const signed = signatureIsValid(publicKey, text, (JSON.parse(signature.toString('utf8')) as { signature: string }).signature);
    const index = bundleIndexShape.parse(JSON.parse(text.toString('utf8')));
    context.log.info(`bundle for environment ${index.environment}, made ${index.created}; index signature ${signed ? `valid (key ${publicKeyFingerprint(publicKey)})` : 'NOT valid for this public key'}`);
    for (const entry of index.artifacts) {
      context.log.info(`${entry.kind.padEnd(5)} ${entry.name} ${entry.version}  ${entry.kind === 'image' ? entry.reference : `${bytesText(entry.size)}  ${entry.target}`}  sha256:${entry.sha256}  (${entry.source})`);
    }
    if (!signed) throw new Error(`bundle ${context.inputs.file}: index.json's signature does not match ${path.relative(context.root, publicKey)}`);
  },
});

export const load = bundle.task({
  name: 'load',
  description: 'Verify a bundle, place its files under images/ and push its images into the site registry',
  inputs: { file: path_, ...publicKeyInput },
  policy: 'always',
  tools: ['skopeo'],
  timeout: '6h',
  run: async (context) => {
    const { root, config } = context;
    const { directory, index, fingerprint } = await openBundle(context, path.resolve(root, context.inputs.file), publicKeyOf(root, context.inputs['public-key']));
    try {
      const lock = ArtifactLock.read(root);
      let placed = 0;
      let same = 0;
      for (const entry of index.artifacts) {
        if (entry.kind === 'image') continue;
        const target = path.resolve(root, entry.target);
        if (existsSync(target) && (await digestFile(target)) === entry.sha256) same++;
        else {
          mkdirSync(path.dirname(target), { recursive: true });
          copyFileSync(path.join(directory, entry.path), `${target}.partial`);
          await rename(`${target}.partial`, target);
          placed++;
        }
        if (entry.name !== 'onboarder-runner') await lock.record(entry.key, { sha256: entry.sha256, size: entry.size, source: entry.source });
      }
      const pushed = await pushImages(context, config, directory, index);
      context.log.info(`loaded ${context.inputs.file} (key ${fingerprint}): ${placed} files placed, ${same} unchanged; ${pushed.pushed} images pushed to ${config.siteRegistry?.address ?? '(no registry)'}, ${pushed.present} already there`);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  },
});

/** Pushes each image by digest unless the site registry has it already (loading twice changes nothing). */
async function pushImages(context: ToolContext, config: Environment, directory: string, index: BundleIndex): Promise<{ pushed: number; present: number }> {
  const images = index.artifacts.filter((entry) => entry.kind === 'image');
  if (images.length === 0) return { pushed: 0, present: 0 };
  const registry = config.siteRegistry;
  if (!registry) throw new PermanentFailure(`the bundle carries ${images.length} images but environment ${config.name} names no siteRegistry: set siteRegistry (address, caFile, credentials) to push them`);
  return withSiteRegistry(context, registry, async (access) => {
    let pushed = 0;
    let present = 0;
    for (const image of images) {
      const { path: repository, tag } = imageReferenceParts(image.reference);
      if (await registryHas(context, `${registry.address}/${repository}@sha256:${image.sha256}`, access)) present++;
      else {
        await copyImage(context, `oci:${path.join(directory, 'oci')}:${image.reference}`, `docker://${registry.address}/${repository}:${tag}`, { destination: access });
        pushed++;
      }
    }
    return { pushed, present };
  });
}
