import type { Environment } from '../../environments/schema.js';
import { mirrored } from '../images/download.js';

/** Where a connected node's apt finds the Kubernetes packages, as kubernetes-binaries.yml takes it. */
export interface KubernetesPackages {
  /** pkgs.k8s.io's repository of the release's minor version, or the mirror upstreamMirrors names for it. */
  readonly repository: string;
  /** Its signing key, from the same place. */
  readonly key: string;
  /** The mirror's host name (apt's per-host setting takes no port) where upstreamMirrors says not to verify its TLS certificate (insecure), else ''. */
  readonly unverified_host: string;
}

export function kubernetesPackages(config: Pick<Environment, 'versions' | 'upstreamMirrors'>): KubernetesPackages {
  const minor = /^v?(\d+\.\d+)/.exec(config.versions.kubernetes)![1];
  const repository = `https://pkgs.k8s.io/core:/stable:/v${minor}/deb/`;
  const mirror = config.upstreamMirrors.find((each) => repository.startsWith(each.prefix));
  const through = mirrored(repository, config.upstreamMirrors);
  return { repository: through, key: `${through}Release.key`, unverified_host: mirror?.insecure && through.startsWith('https://') ? new URL(through).hostname : '' };
}
