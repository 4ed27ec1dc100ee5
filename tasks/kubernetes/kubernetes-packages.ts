import type { Environment } from '../../environments/schema.js';
import { mirrored, mirrorOf } from '../images/download.js';
import { mirrorCaPath } from '../shared/apt-mirrors.js';

/** Where a connected node's apt finds the Kubernetes packages, as kubernetes-binaries.yml takes it. */
export interface KubernetesPackages {
  /** pkgs.k8s.io's repository of the release's minor version, or the mirror upstreamMirrors names for it. */
  readonly repository: string;
  /** Its signing key, from the same place. */
  readonly key: string;
  /**
   * How the key's fetch verifies the mirror's TLS certificate: against the CA node preparation put on the
   * node (upstreamMirrors' caFile; '' for the system's CAs), or not at all (`validate_certs` false: insecure).
   * apt itself verifies the mirror as apt-mirrors.yml set it up.
   */
  readonly ca_file: string;
  readonly validate_certs: boolean;
  /**
   * The fingerprints the key must have (every primary key in the file one of them), checked before apt is
   * given it: a mirror serves the key beside the packages it signs, so a key taken on trust would let
   * whoever controls the mirror sign what the nodes install. The publisher's, or the mirror's own signingKeys.
   */
  readonly key_fingerprints: readonly string[];
}

/**
 * pkgs.k8s.io's signing key ("isv:kubernetes OBS Project"), one for every minor's repository: the fingerprint
 * `gpg --show-keys` prints for https://pkgs.k8s.io/core:/stable:/v1.XX/deb/Release.key, as quoted in
 * kubernetes/kubernetes#128609 and kubernetes/release#3818 (the key's expiry renewed, the key the same).
 */
export const pkgsK8sIoSigningKey = 'DE15B14486CD377B9E876E1A234654DA9A296436';

export function kubernetesPackages(config: Pick<Environment, 'versions' | 'upstreamMirrors'>): KubernetesPackages {
  const minor = /^v?(\d+\.\d+)/.exec(config.versions.kubernetes)![1];
  const repository = `https://pkgs.k8s.io/core:/stable:/v${minor}/deb/`;
  const mirror = mirrorOf(repository, config.upstreamMirrors);
  const through = mirrored(repository, config.upstreamMirrors);
  const tls = through.startsWith('https://') ? mirror : undefined;
  return {
    repository: through,
    key: `${through}Release.key`,
    ca_file: tls?.caFile ? mirrorCaPath(new URL(through).hostname) : '',
    validate_certs: !tls?.insecure,
    key_fingerprints: mirror?.signingKeys ?? [pkgsK8sIoSigningKey],
  };
}
