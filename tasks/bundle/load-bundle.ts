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
