import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { PermanentFailure } from '../../lib/dsl/command-failure.js';
import { digestFile } from '../../lib/stamps/digest.js';
import type { ToolContext } from '../../lib/tools/command.js';
import { copyImage, registryHas } from '../../lib/tools/skopeo.js';
import { imageReferenceParts } from '../../images/manifest.js';
import type { Environment } from '../../environments/schema.js';
import { ArtifactLock } from '../images/artifact-lock.js';
import { withSiteRegistry } from '../registry/site-registry.js';
import type { BundleIndex } from './bundle-index.js';

/**
 * Places a verified bundle's files under images/ (what is already there with the same digest is left alone)
 * and records each in the lock, as a fetch would have.
 */
export async function placeFiles(context: ToolContext, directory: string, index: BundleIndex): Promise<{ placed: number; same: number }> {
  const lock = ArtifactLock.read(context.root);
  let placed = 0;
  let same = 0;
  for (const entry of index.artifacts) {
    if (entry.kind === 'image') continue;
    const target = path.resolve(context.root, entry.target);
    if (existsSync(target) && (await digestFile(target)) === entry.sha256) same++;
    else {
      mkdirSync(path.dirname(target), { recursive: true });
      copyFileSync(path.join(directory, entry.path), `${target}.partial`);
      await rename(`${target}.partial`, target);
      placed++;
    }
    if (entry.name !== 'onboarder-runner') await lock.record(entry.key, { sha256: entry.sha256, size: entry.size, source: entry.source });
  }
  return { placed, same };
}

/**
 * A differential bundle loads only where the bundle it builds on has been loaded: each file it leaves to
 * that bundle under images/ with its digest, each image in the site registry by its digest. Checked before
 * anything is placed, so a bundle refused changes nothing.
 */
export async function checkBasePresent(context: ToolContext, config: Environment, index: BundleIndex): Promise<void> {
  if (!index.basedOn || index.fromBase.length === 0) return;
  const missing: string[] = [];
  for (const entry of index.fromBase) {
    if (entry.kind === 'image') continue;
    const target = path.resolve(context.root, entry.target);
    if (!existsSync(target)) missing.push(`${entry.target} (${entry.key})`);
    else if ((await digestFile(target)) !== entry.sha256) missing.push(`${entry.target} with sha256 ${entry.sha256.slice(0, 12)} (${entry.key}: another file is there)`);
  }
  const images = index.fromBase.filter((entry) => entry.kind === 'image');
  if (images.length > 0) {
    const registry = config.siteRegistry;
    if (!registry) throw new PermanentFailure(`the bundle builds on one that carried ${images.length} images, and environment ${config.name} names no siteRegistry to find them in: set siteRegistry`);
    await withSiteRegistry(context, registry, async (access) => {
      for (const image of images) {
        const { path: repository } = imageReferenceParts(image.reference);
        if (!(await registryHas(context, `${registry.address}/${repository}@sha256:${image.sha256}`, access))) missing.push(`${image.reference}@sha256:${image.sha256.slice(0, 12)} in ${registry.address}`);
      }
    });
  }
  if (missing.length === 0) return;
  const named = missing.length > 3 ? `${missing.slice(0, 3).join(', ')} and ${missing.length - 3} more` : missing.join(', ');
  throw new PermanentFailure(`this differential bundle builds on bundle ${index.basedOn.index.slice(0, 12)} (made ${index.basedOn.created}), and the site lacks ${missing.length} of what that one carried: ${named}; load that bundle first (bundle:inspect names a bundle by the same digest), then this one; nothing was loaded`);
}

/** Pushes each image by digest unless the site registry has it already (loading twice changes nothing). */
export async function pushImages(context: ToolContext, config: Environment, directory: string, index: BundleIndex): Promise<{ pushed: number; present: number }> {
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
