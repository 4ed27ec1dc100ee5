import { copyFileSync, linkSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { PermanentFailure } from '../../lib/dsl/command-failure.js';
import { digestFile } from '../../lib/stamps/digest.js';
import { withScratchDirectory } from '../../lib/state/scratch-directory.js';
import type { ToolContext } from '../../lib/tools/command.js';
import { copyImage, registryDigest, type RegistryAccess } from '../../lib/tools/skopeo.js';
import { artifactKey, artifactsFor, type Artifact } from '../../images/manifest.js';
import type { Environment } from '../../environments/schema.js';
import { ArtifactLock } from '../images/artifact-lock.js';
import { mirrored, mirrorOf } from '../images/download.js';
import { fetchArtifact } from '../images/fetch-artifact.js';
import { withoutProxmox } from '../shared/kit.js';
import type { BaseEntry, BundleEntry } from './bundle-index.js';

/** What a bundle for this environment carries: every artifact an air-gapped site of its shape needs. */
function carried(config: Environment, artifact: Artifact): boolean {
  return artifact.neededFor !== 'proxmox' || !withoutProxmox(config);
}

/** What the bundle's steps use of a task's context. */
export type BundleContext = ToolContext & { readonly config: Environment };

/**
 * What the site holds already, for a differential bundle: every artifact the bundle it builds on carried or
 * itself left to its own base, by key.
 */
export type BaseArtifacts = ReadonlyMap<string, BaseEntry>;

/** An artifact the base has with this digest: left to it. */
function inBase(base: BaseArtifacts | undefined, key: string, sha256: string | undefined): BaseEntry | undefined {
  const found = base?.get(key);
  return found && found.sha256 === sha256 ? found : undefined;
}

/** The entry a differential bundle lists for what it leaves to its base. */
export function baseEntryOf(entry: BundleEntry | BaseEntry): BaseEntry {
  if (entry.kind === 'image') return entry;
  const { kind, key, name, version, source, sha256, size, target } = entry;
  return { kind, key, name, version, source, sha256, size, target };
}

/**
 * Fetches (online) and verifies the artifacts a bundle for this environment carries into `staging`: its
 * files and charts under files/ (hard links to images/), or its images into one OCI layout under oci/.
 * Returns the index entries, and, for a differential bundle, those left to its `base` (same key, same
 * digest): never copied into the bundle, and not even fetched where the lock already has their digest
 * (charts aside, which are small and whose packages the chart-image check reads).
 */
export async function stageArtifacts(context: BundleContext, staging: string, which: 'files' | 'images', base?: BaseArtifacts): Promise<{ carried: BundleEntry[]; fromBase: BaseEntry[] }> {
  const staged = { carried: [] as BundleEntry[], fromBase: [] as BaseEntry[] };
  for (const artifact of artifactsFor(context.config.versions).filter((each) => carried(context.config, each) && (each.kind === 'image') === (which === 'images'))) {
    const key = artifactKey(artifact);
    // Charts are fetched all the same: the images they run are checked from their packages here.
    const known = artifact.kind === 'chart' ? undefined : inBase(base, key, ArtifactLock.read(context.root).get(key)?.sha256);
    if (known) {
      staged.fromBase.push(known);
      continue;
    }
    keepOrLeaveToBase(artifact.kind === 'image' ? await stageImage(context, artifact, staging, base) : await stageFile(context, artifact, staging), staging, base, staged);
  }
  return staged;
}

/**
 * A staged entry kept in the bundle, or, where the base has it at the same digest, left to the base (its
 * staged copy removed).
 */
export function keepOrLeaveToBase(entry: BundleEntry, staging: string, base: BaseArtifacts | undefined, staged: { carried: BundleEntry[]; fromBase: BaseEntry[] }): void {
  const same = inBase(base, entry.key, entry.sha256);
  if (same && entry.kind !== 'image') rmSync(path.join(staging, entry.path));
  if (same) staged.fromBase.push(same);
  else staged.carried.push(entry);
}

/** Fetches a file or chart from its publisher into images/ (or finds it there), verified against the lock. */
export async function fetchOnline(context: BundleContext, artifact: Exclude<Artifact, { kind: 'image' }>): Promise<void> {
  const { config, root } = context;
  await fetchArtifact(artifact, {
    root,
    online: true,
    mirrors: config.upstreamMirrors,
    signal: context.signal,
    log: context.log,
    downloading: (url, file) => context.commands.started(`download ${url} -> ${file}`),
  });
}

/** The charts (packages under images/charts/) a bundle for this environment carries. */
export function carriedCharts(config: Environment): Extract<Artifact, { kind: 'chart' }>[] {
  return artifactsFor(config.versions).filter((artifact): artifact is Extract<Artifact, { kind: 'chart' }> => artifact.kind === 'chart' && carried(config, artifact));
}

async function stageFile(context: BundleContext, artifact: Exclude<Artifact, { kind: 'image' }>, staging: string): Promise<BundleEntry> {
  const { root } = context;
  await fetchOnline(context, artifact);
  const key = artifactKey(artifact);
  const locked = ArtifactLock.read(root).get(key)!;
  const inBundle = `files/${artifact.file.replace(/^images\//, '')}`;
  linkInto(path.resolve(root, artifact.file), path.join(staging, inBundle));
  return { kind: artifact.kind, key, name: artifact.name, version: artifact.version, source: locked.source, sha256: locked.sha256, size: statSync(path.resolve(root, artifact.file)).size, path: inBundle, target: artifact.file };
}

async function stageImage(context: BundleContext, artifact: Extract<Artifact, { kind: 'image' }>, staging: string, base: BaseArtifacts | undefined): Promise<BundleEntry> {
  const { config, root } = context;
  const key = artifactKey(artifact);
  const lock = ArtifactLock.read(root);
  const from = mirrored(artifact.reference, config.upstreamMirrors);
  const mirror = mirrorOf(artifact.reference, config.upstreamMirrors);
  const sha256 = await withMirrorAccess(root, mirror, async (access) => {
    let locked = lock.get(key)?.sha256;
    if (!locked) {
      const found = imageDigestToLock(artifact, from, (await registryDigest(context, from, access)).slice('sha256:'.length));
      await lock.record(key, found);
      locked = found.sha256;
    }
    // One the base carries at this digest is not copied (stageArtifacts leaves it to the base).
    if (inBase(base, key, locked)) return locked;
    const repository = from.slice(0, from.lastIndexOf(':'));
    await copyImage(context, `docker://${repository}@sha256:${locked}`, `oci:${path.join(staging, 'oci')}:${artifact.reference}`, { source: access });
    return locked;
  });
  return { kind: 'image', key, name: artifact.name, version: artifact.version, source: lock.get(key)?.source ?? `the registry's digest of ${artifact.reference}`, sha256, reference: artifact.reference };
}

/**
 * Runs `body` with how skopeo reaches an image's upstream mirror: its CA in a cert directory (skopeo reads
 * `*.crt` there) where the environment names one, unverified where it says insecure, else the system's CAs.
 */
function withMirrorAccess<T>(root: string, mirror: Environment['upstreamMirrors'][number] | undefined, body: (access: RegistryAccess) => Promise<T>): Promise<T> {
  if (!mirror?.caFile) return body(mirror?.insecure ? { insecure: true } : {});
  const caFile = mirror.caFile;
  return withScratchDirectory('mirror', async (scratch) => {
    copyFileSync(path.resolve(root, caFile), path.join(scratch, 'ca.crt'));
    return body({ certDirectory: scratch });
  });
}

/**
 * What the lock records for an image at its first fetch: the digest its registry gives for the tag, which
 * must be the one its chart pins where the chart pins one (a mirror or a re-pushed tag serving another image
 * is refused before anything is copied).
 */
export function imageDigestToLock(artifact: Extract<Artifact, { kind: 'image' }>, from: string, found: string): { sha256: string; source: string } {
  const digest = artifact.digest;
  if (!('pinned' in digest)) return { sha256: found, source: `the registry's digest of ${artifact.reference}` };
  if (found !== digest.pinned) {
    throw new PermanentFailure(`${artifactKey(artifact)}: ${from} has sha256 ${found}, but ${digest.from} pins ${digest.pinned}: the registry (or the upstream mirror) serves another image under that tag; nothing was copied`);
  }
  return { sha256: found, source: `pinned from ${digest.from}` };
}

export async function stageRunnerImage(file: string, staging: string, root: string): Promise<BundleEntry> {
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

