import { copyFileSync, linkSync, mkdirSync, statSync } from 'node:fs';
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
import type { BundleEntry } from './bundle-index.js';

/** What a bundle for this environment carries: every artifact an air-gapped site of its shape needs. */
function carried(config: Environment, artifact: Artifact): boolean {
  return artifact.neededFor !== 'proxmox' || !withoutProxmox(config);
}

/** What the bundle's steps use of a task's context. */
export type BundleContext = ToolContext & { readonly config: Environment };

/**
 * Fetches (online) and verifies the artifacts a bundle for this environment carries into `staging`: its
 * files and charts under files/ (hard links to images/), or its images into one OCI layout under oci/.
 * Returns the index entries.
 */
export async function stageArtifacts(context: BundleContext, staging: string, which: 'files' | 'images'): Promise<BundleEntry[]> {
  const entries: BundleEntry[] = [];
  for (const artifact of artifactsFor(context.config.versions).filter((each) => carried(context.config, each) && (each.kind === 'image') === (which === 'images'))) {
    entries.push(artifact.kind === 'image' ? await stageImage(context, artifact, staging) : await stageFile(context, artifact, staging));
  }
  return entries;
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

async function stageImage(context: BundleContext, artifact: Extract<Artifact, { kind: 'image' }>, staging: string): Promise<BundleEntry> {
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

