import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Environment } from '../../environments/schema.js';
import { mirrored } from '../images/download.js';

/** Where a connected node's apt finds the Kubernetes packages, as kubernetes-binaries.yml takes it. */
export interface KubernetesPackages {
  /** pkgs.k8s.io's repository of the release's minor version, or the mirror upstreamMirrors names for it. */
  readonly repository: string;
  /** Its signing key, from the same place. */
  readonly key: string;
  /**
   * The mirror's host name where apt verifies its TLS certificate otherwise than with the system's CAs (apt's
   * per-host settings take no port): against `mirror_ca`, or not at all (upstreamMirrors' insecure); else ''.
   */
  readonly mirror_host: string;
  /** The PEM of the CA that signed the mirror's certificate (upstreamMirrors' caFile), else ''. */
  readonly mirror_ca: string;
}

export function kubernetesPackages(config: Pick<Environment, 'versions' | 'upstreamMirrors'>, root: string): KubernetesPackages {
  const minor = /^v?(\d+\.\d+)/.exec(config.versions.kubernetes)![1];
  const repository = `https://pkgs.k8s.io/core:/stable:/v${minor}/deb/`;
  const mirror = config.upstreamMirrors.find((each) => repository.startsWith(each.prefix));
  const through = mirrored(repository, config.upstreamMirrors);
  const ownTls = through.startsWith('https://') && (mirror?.insecure || mirror?.caFile);
  return {
    repository: through,
    key: `${through}Release.key`,
    mirror_host: ownTls ? new URL(through).hostname : '',
    mirror_ca: ownTls && mirror?.caFile ? readFileSync(path.resolve(root, mirror.caFile), 'utf8') : '',
  };
}
