import { PermanentFailure } from '../../lib/dsl/command-failure.js';
import { registryHas } from '../../lib/tools/skopeo.js';
import { artifactKey, artifactsFor, imageReferenceParts } from '../../images/manifest.js';
import type { Environment } from '../../environments/schema.js';
import { ArtifactLock } from '../images/artifact-lock.js';
import { tasks } from '../shared/kit.js';
import { withSiteRegistry } from './site-registry.js';

/** Why a site has no registry step: online sites pull from the images' own registries. */
function noSiteRegistry(config: Environment): string | false {
  if (!config.site.airGapped) return "online: nodes pull from the images' own registries";
  return !config.siteRegistry && 'this air-gapped environment names no siteRegistry (nodes pull through registryMirrors alone)';
}

/**
 * The site registry of an air-gapped site holds every image the catalog's clusters pull, each by the digest
 * the lock pins (what bundle:load pushed): checked before any cluster is deployed, so that a missing image
 * is named here and not found later as a pod stuck in ImagePullBackOff. The nodes' mirrors point at it
 * (node preparation and RKE2's registries.yaml, with its CA).
 */
export const siteRegistry = tasks.task({
  name: 'registry',
  description: 'The site registry holds every image the clusters pull, by the locked digest (air-gapped sites)',
  supportsDryRun: true,
  skipWhen: noSiteRegistry,
  // Asked every run: a registry's contents change outside Onboarder (a cleanup, a restore).
  policy: 'always',
  tools: ['skopeo'],
  retries: 2,
  run: async (context) => {
    const { config, root } = context;
    const registry = config.siteRegistry!;
    const lock = ArtifactLock.read(root);
    const images = artifactsFor(config.versions).filter((artifact) => artifact.kind === 'image');
    const missing = await withSiteRegistry(context, registry, async (access) => {
      const problems: string[] = [];
      for (const image of images) {
        const locked = lock.get(artifactKey(image));
        if (!locked) problems.push(`${image.reference} (not in images/manifest.lock.json)`);
        else if (!context.dryRun && !(await registryHas(context, `${registry.address}/${imageReferenceParts(image.reference).path}@sha256:${locked.sha256}`, access))) problems.push(image.reference);
      }
      return problems;
    });
    if (missing.length > 0) {
      for (const image of missing) context.log.warn(`missing: ${image}`);
      throw new PermanentFailure(`site registry ${registry.address} lacks ${missing.length} of ${images.length} images (each above), the first ${missing[0]}: load a bundle made for these versions (bundle:load[file=...])`);
    }
    context.log.info(`site registry ${registry.address} holds all ${images.length} images by their locked digests`);
  },
});

/** The registry step for the clusters of a site that has one: a dependency of each cluster's deployment. */
export const registryNeeded = (config: Environment) => (noSiteRegistry(config) ? [] : [siteRegistry]);
