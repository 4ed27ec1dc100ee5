import { z } from 'zod';
import { artifactsFor, type Artifact, type ChartArtifact, type FileArtifact, type FileArtifactName } from '../../images/manifest.js';
import type { Environment } from '../../environments/schema.js';
import { tasks, withoutProxmox } from '../shared/kit.js';
import { fetchArtifact } from './fetch-artifact.js';

/** The files and charts of the environment's manifest (images travel in bundles and registries, not as files). */
export const fileArtifacts = (config: Environment): (FileArtifact | ChartArtifact)[] =>
  artifactsFor(config.versions).filter((artifact): artifact is FileArtifact | ChartArtifact => artifact.kind !== 'image');

/** Why a site of this environment does not need the artifact, or false when it does. */
export function notNeededBecause(config: Environment, artifact: Artifact): string | false {
  if (artifact.neededFor === 'proxmox') return withoutProxmox(config);
  if (artifact.neededFor === 'air-gapped') return !config.site.airGapped && 'online sites install it from its publisher';
  return false;
}

function fileArtifactNamed(config: Environment, name: string): FileArtifact | ChartArtifact {
  const artifact = fileArtifacts(config).find((each) => each.name === name);
  if (!artifact) throw new Error(`images/manifest.ts has no file or chart named '${name}' (it has ${fileArtifacts(config).map((each) => each.name).join(', ')})`);
  return artifact;
}

/**
 * Makes one file or chart of the manifest present and intact: online, fetched when missing or wrong (a cut
 * download resumes) and verified against the lock or its publisher's digest, which the lock then records;
 * air-gapped, verified against the lock, with the expected and found digest when it is not intact.
 */
export const fetchImage = tasks.namespace('images').task({
  name: 'fetch',
  description: 'Fetch (online) or verify (air-gapped) one file or chart of images/manifest.ts',
  supportsDryRun: true,
  inputs: { artifact: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'is an artifact name from images/manifest.ts') },
  instances: (config: Environment) => fileArtifacts(config).map(({ name }) => ({ artifact: name })),
  skipWhen: (config, { artifact }) => notNeededBecause(config, fileArtifactNamed(config, artifact)),
  retries: 3,
  retryDelay: '5s',
  timeout: '2h',
  run: async (context) => {
    const artifact = fileArtifactNamed(context.config, context.inputs.artifact);
    await fetchArtifact(artifact, {
      root: context.root,
      online: !context.config.site.airGapped,
      mirrors: context.config.upstreamMirrors,
      signal: context.signal,
      log: context.log,
      dryRun: context.dryRun,
      downloading: (url, file) => context.commands.started(`download ${url} -> ${file}`),
    });
  },
});

/**
 * The fetch (or air-gapped check) of each named file or chart this site needs: deps of the steps that install
 * them (an online site installs Kubernetes packages and charts from their publishers, and needs none of those).
 */
export const fetched = (config: Environment, names: readonly FileArtifactName[]) =>
  names
    // A release the manifest has no entry for at these versions (etcd of a Kubernetes version kubeadm-images.ts
    // does not know): the step that reads it says what to add.
    .filter((artifact) => fileArtifacts(config).some((each) => each.name === artifact))
    .filter((artifact) => !notNeededBecause(config, fileArtifactNamed(config, artifact)))
    .map((artifact) => fetchImage.with({ artifact }));
