import path from 'node:path';
import type { Environment } from '../environments/schema.js';
import { chartImages } from './chart-images.js';
import { kubeadmImageTags } from './kubeadm-images.js';

/**
 * Where an artifact's sha256 comes from. Never a value written by hand without its publisher:
 * - `pinned`: the publisher's digest copied here, `from` names where it was published;
 * - `checksumFile`: the publisher's checksum file beside the artifact (`sha256sum` lines, or dl.k8s.io's lone
 *   digest); `entry` is the name it lists (the artifact's file name when absent);
 * - `helmIndex`: the chart repository's index.yaml, whose entry for the version carries the digest and URL;
 * - `registry`: an image's manifest digest, as its registry answers for the tag;
 * - `firstFetch`: the publisher publishes no digest (`why` says so); the first fetch, over verified TLS from
 *   the release's tagged URL, records what it got.
 * Whatever the source, the first fetch records the digest and size in images/manifest.lock.json, and every
 * later fetch, bundle and air-gapped check verifies against that lock.
 */
export type DigestSource =
  | { readonly pinned: string; readonly from: string }
  | { readonly checksumFile: string; readonly entry?: string }
  | { readonly helmIndex: string }
  | { readonly registry: true }
  | { readonly firstFetch: string };

/** Which sites need an artifact: every site, sites that build VMs on Proxmox, or air-gapped sites only. */
export type NeededFor = 'always' | 'proxmox' | 'air-gapped';

/** The files and charts of the manifest, by name: what `images:fetch[artifact=...]` takes and tasks depend on. */
export const rke2ArtifactNames = ['rke2-checksums', 'rke2-binary', 'rke2-images', 'rke2-install'] as const;
export const kubernetesBinaryNames = ['kubeadm', 'kubeadm-checksum', 'kubelet', 'kubelet-checksum', 'kubectl', 'kubectl-checksum', 'crictl', 'crictl-checksum'] as const;
export const platformChartNames = ['ingress-nginx', 'kube-prometheus-stack', 'cert-manager', 'velero', 'metrics-server', 'kubelet-csr-approver'] as const;
/** etcd's release (etcdctl, etcdutl) and its checksum file: a kubeadm cluster's snapshots are taken and restored with them. */
export const etcdReleaseNames = ['etcd-release', 'etcd-checksums'] as const;
export type FileArtifactName =
  | 'ubuntu-cloud'
  | 'tofu-provider-proxmox'
  | 'packer-plugin-proxmox'
  | 'cilium'
  | (typeof rke2ArtifactNames)[number]
  | (typeof kubernetesBinaryNames)[number]
  | (typeof etcdReleaseNames)[number]
  | (typeof platformChartNames)[number];

interface ArtifactBase {
  /** Unique in the manifest of one environment: the name `images:fetch[artifact=...]` takes. */
  readonly name: string;
  readonly version: string;
  readonly neededFor: NeededFor;
}

/** A file kept under images/ (`file` is relative to the project root). */
export interface FileArtifact extends ArtifactBase {
  readonly kind: 'file';
  readonly name: FileArtifactName;
  readonly file: string;
  readonly url: string;
  readonly digest: Exclude<DigestSource, { readonly helmIndex: string } | { readonly registry: true }>;
}

/** A Helm chart's package, kept under images/charts/; its URL and digest come from the repository's index unless pinned. */
export interface ChartArtifact extends ArtifactBase {
  readonly kind: 'chart';
  readonly name: FileArtifactName;
  readonly file: string;
  /** The chart repository (its index.yaml is `${repository}/index.yaml`). */
  readonly repository: string;
  readonly digest: { readonly helmIndex: string } | { readonly pinned: string; readonly from: string; readonly url: string };
}

/**
 * A container image (or an OCI chart), by tag. Its digest is the one its chart pins (images/chart-images.ts),
 * or else its registry's, recorded in the lock at the first fetch.
 */
export interface ImageArtifact extends ArtifactBase {
  readonly kind: 'image';
  /** `registry/repository:tag`, as a node asks for it. */
  readonly reference: string;
  readonly digest: { readonly registry: true } | { readonly pinned: string; readonly from: string };
}

export type Artifact = FileArtifact | ChartArtifact | ImageArtifact;

/** An image reference's parts: quay.io/cilium/cilium:v1 -> registry quay.io, path cilium/cilium, tag v1. */
export function imageReferenceParts(reference: string): { readonly registry: string; readonly path: string; readonly tag: string } {
  const at = reference.lastIndexOf(':');
  const name = reference.slice(0, at);
  const slash = name.indexOf('/');
  return { registry: name.slice(0, slash), path: name.slice(slash + 1), tag: reference.slice(at + 1) };
}

/**
 * The registries the catalog's images come from at these versions (docker.io always: an image named without
 * one comes from there): what an air-gapped site's nodes and helm must reach through its site registry or
 * its registryMirrors.
 */
export function imageRegistries(versions: Environment['versions']): string[] {
  const registries = artifactsFor(versions).flatMap((artifact) => (artifact.kind === 'image' ? [imageReferenceParts(artifact.reference).registry] : []));
  return [...new Set(['docker.io', ...registries])].sort();
}

/** The key an artifact has in the lock file and the bundle's index. */
export const artifactKey = (artifact: Artifact): string => `${artifact.kind}:${artifact.name}@${artifact.version}`;

/** Digests published for exact versions, each with where it was published. Other versions use their publisher's checksum file or index. */
const pinnedDigests: Readonly<Record<string, { readonly sha256: string; readonly from: string; readonly sizeBytes?: number }>> = {
  'file:ubuntu-cloud@release-20240821': {
    sha256: '0e25ca6ee9f08ec5d4f9910054b66ae7163c6152e81a3e67689d89bd6e4dfa69',
    from: "lima-vm/lima examples/ubuntu.yaml (it pins the same release's image by this digest)",
  },
  'chart:cilium@1.16.1': {
    sha256: '406c5bba515262c52e53b859af31af412cd8d2c332e277e98ec3e5f14382ecbf',
    from: "cilium/charts index.yaml, entry cilium 1.16.1 (203,668 bytes)",
    sizeBytes: 203_668,
  },
};

/** The Ubuntu cloud image the golden image is built from: one release, pinned. */
export const ubuntuCloudRelease = 'release-20240821';
export const ubuntuCloudImageFile = 'images/noble-server-cloudimg-amd64.img';

/**
 * The Proxmox provider OpenTofu creates the VMs with: the exact version tasks/infrastructure/terraform/main.tf
 * requires (a test holds them equal). Every Proxmox site installs this package, verified against the
 * provider's own SHA256SUMS, from a filesystem mirror and never from a registry (lib/tools/tofu.ts).
 */
export const tofuProxmoxProvider = { source: 'bpg/proxmox', version: '0.69.0' } as const;
const tofuProviderRelease = `https://github.com/bpg/terraform-provider-proxmox/releases/download/v${tofuProxmoxProvider.version}`;
/** Where the provider's package is kept: images/tofu-providers/, under its release's file name. */
export const tofuProxmoxProviderFile = `images/tofu-providers/terraform-provider-proxmox_${tofuProxmoxProvider.version}_linux_amd64.zip`;

/**
 * Packer's Proxmox plugin the golden image is built with: the exact version tasks/golden-image/ubuntu-golden.pkr.hcl
 * requires (a test holds them equal), installed from its release zip, verified against the plugin's own
 * SHA256SUMS, into the plugin directory packer loads (lib/tools/packer.ts): `packer init` downloads nothing.
 */
export const packerProxmoxPlugin = { source: 'github.com/hashicorp/proxmox', version: '1.2.2' } as const;
const packerPluginRelease = `https://github.com/hashicorp/packer-plugin-proxmox/releases/download/v${packerProxmoxPlugin.version}`;
/** Where the plugin's release zip is kept: images/packer-plugins/, under its release's file name. */
export const packerProxmoxPluginFile = `images/packer-plugins/packer-plugin-proxmox_v${packerProxmoxPlugin.version}_x5.0_linux_amd64.zip`;

/**
 * The cluster-proportional-autoscaler that scales a kubeadm cluster's CoreDNS (tasks/kubernetes/dns-autoscaler.ts),
 * at kubespray's version (its dnsautoscaler_version); its digest is the registry's, locked at the first fetch.
 */
export const dnsAutoscalerImage = 'registry.k8s.io/cpa/cluster-proportional-autoscaler:v1.8.8';

/** The cri-tools release that goes with a Kubernetes version: the same minor, patch 0 (cri-tools' versioning). */
export function crictlVersion(kubernetes: string): string {
  const [major, minor] = kubernetes.replace(/^v/, '').split('.');
  return `v${major}.${minor}.0`;
}

/**
 * The etcd release whose etcdctl and etcdutl go with a Kubernetes version: the one kubeadm runs (its etcd
 * image's tag without the image revision, 3.5.12-0 -> v3.5.12), or undefined where kubeadm-images.ts has no line.
 */
export function etcdVersion(kubernetes: string): string | undefined {
  const tag = kubeadmImageTags[kubernetes]?.etcd;
  return tag === undefined ? undefined : `v${tag.replace(/-\d+$/, '')}`;
}

/** Where an etcd release's files are kept on the controller: images/etcd/<version>/. */
export const etcdReleaseDirectory = (version: string): string => `images/etcd/${version}`;

/** The chart repositories of the platform services and Cilium (each publishes an index.yaml with digests). */
const chartRepositories = {
  cilium: 'https://helm.cilium.io',
  'ingress-nginx': 'https://kubernetes.github.io/ingress-nginx',
  'kube-prometheus-stack': 'https://prometheus-community.github.io/helm-charts',
  'cert-manager': 'https://charts.jetstack.io',
  velero: 'https://vmware-tanzu.github.io/helm-charts',
  'metrics-server': 'https://kubernetes-sigs.github.io/metrics-server',
  'kubelet-csr-approver': 'https://postfinance.github.io/kubelet-csr-approver',
} as const;

/** Where a chart's package is kept: images/charts/<name>-<version>.tgz (the file `helm` installs on air-gapped sites). */
export const chartFile = (name: string, version: string): string => `images/charts/${name}-${version}.tgz`;

function chart(name: keyof typeof chartRepositories, version: string): ChartArtifact {
  const repository = chartRepositories[name];
  const pin = pinnedDigests[`chart:${name}@${version}`];
  return {
    kind: 'chart',
    name,
    version,
    // Every site installs the package it verified (chartSource): a connected one fetches it first.
    neededFor: 'always',
    file: chartFile(name, version),
    repository,
    digest: pin ? { pinned: pin.sha256, from: pin.from, url: `${repository}/${name}-${version}.tgz` } : { helmIndex: `${repository}/index.yaml` },
  };
}

/**
 * The digests the charts pin for the images they run (`tag@sha256:...` lines of images/chart-images.ts), by
 * the reference with its tag, with the chart that published each.
 */
const chartPinnedDigests: ReadonlyMap<string, { readonly sha256: string; readonly from: string }> = new Map(
  Object.entries(chartImages).flatMap(([chart, references]) =>
    references.flatMap((line) => {
      const [reference, digest] = line.split('@sha256:');
      return digest === undefined ? [] : [[reference!, { sha256: digest, from: `the ${chart} chart's values.yaml (images/chart-images.ts)` }] as const];
    }),
  ),
);

const image = (name: string, reference: string, neededFor: NeededFor = 'air-gapped'): ImageArtifact => {
  const pin = chartPinnedDigests.get(reference);
  return {
    kind: 'image',
    name,
    version: reference.slice(reference.lastIndexOf(':') + 1),
    reference,
    neededFor,
    digest: pin ? { pinned: pin.sha256, from: pin.from } : { registry: true },
  };
};

/** kubeadm's images for a Kubernetes version beyond the control plane's four (etcd, CoreDNS, pause), or none where the table has no line. */
export function kubeadmExtraImages(kubernetes: string): ImageArtifact[] {
  const tags = kubeadmImageTags[kubernetes];
  if (!tags) return [];
  return [image('etcd', `registry.k8s.io/etcd:${tags.etcd}`), image('coredns', `registry.k8s.io/coredns/coredns:${tags.coredns}`), image('pause', `registry.k8s.io/pause:${tags.pause}`)];
}

/** The images a chart runs at `version` as images/chart-images.ts lists them, each named `<chart>/<repository's last part>`. */
export function chartImageArtifacts(chart: string, version: string): ImageArtifact[] {
  const references = (chartImages[`${chart}@${version}`] ?? []).map((line) => line.split('@')[0]!);
  const names = new Map<string, number>();
  return references.map((reference) => {
    const base = `${chart}/${imageReferenceParts(reference).path.split('/').at(-1)}`;
    const seen = names.get(base) ?? 0;
    names.set(base, seen + 1);
    return image(seen === 0 ? base : `${base}-${seen + 1}`, reference);
  });
}

/**
 * Everything a deployment of the catalog needs at the environment's versions: what `images:fetch` fetches
 * (online) or verifies (air-gapped), and what `bundle:create` carries to a disconnected site.
 */
export function artifactsFor(versions: Environment['versions']): Artifact[] {
  // An image two lists name (the agent Cilium's chart runs, say) is carried once, under its first name.
  const carried = new Set<string>();
  return catalogArtifacts(versions).filter((artifact) => artifact.kind !== 'image' || (!carried.has(artifact.reference) && Boolean(carried.add(artifact.reference))));
}

function catalogArtifacts(versions: Environment['versions']): Artifact[] {
  const { rke2, kubernetes, cilium, kubeVip, veleroAwsPlugin } = versions;
  const rke2Release = `https://github.com/rancher/rke2/releases/download/${encodeURIComponent(rke2)}`;
  const rke2Checksums = `${rke2Release}/sha256sum-amd64.txt`;
  const k8sRelease = `https://dl.k8s.io/release/${kubernetes}/bin/linux/amd64`;
  const crictl = crictlVersion(kubernetes);
  const crictlFile = `crictl-${crictl}-linux-amd64.tar.gz`;
  const crictlUrl = `https://github.com/kubernetes-sigs/cri-tools/releases/download/${crictl}/${crictlFile}`;
  const ubuntuPin = pinnedDigests[`file:ubuntu-cloud@${ubuntuCloudRelease}`]!;
  const rke2File = (name: FileArtifactName, file: string, digest: FileArtifact['digest']): FileArtifact => ({
    kind: 'file',
    name,
    version: rke2,
    neededFor: 'always',
    file: `images/rke2/${rke2}/${file}`,
    url: `${rke2Release}/${file}`,
    digest,
  });
  const k8sFile = (name: FileArtifactName, file: string, url: string, digest: FileArtifact['digest'], version = kubernetes): FileArtifact => ({
    kind: 'file',
    name,
    version,
    neededFor: 'air-gapped',
    file: `images/kubernetes/${kubernetes}/${file}`,
    url,
    digest,
  });
  const noChecksumOfItself = (what: string) => ({ firstFetch: `${what} is the publisher's checksum file: nothing publishes a digest of it` });
  const etcd = etcdVersion(kubernetes);
  const etcdRelease = `https://github.com/etcd-io/etcd/releases/download/${etcd}`;
  const etcdFile = (name: FileArtifactName, file: string, digest: FileArtifact['digest']): FileArtifact => ({
    kind: 'file',
    name,
    version: etcd!,
    // Every site: no OS package carries the etcdctl of the etcd kubeadm runs.
    neededFor: 'always',
    file: `${etcdReleaseDirectory(etcd!)}/${file}`,
    url: `${etcdRelease}/${file}`,
    digest,
  });
  return [
    {
      kind: 'file',
      name: 'ubuntu-cloud',
      version: ubuntuCloudRelease,
      neededFor: 'proxmox',
      file: ubuntuCloudImageFile,
      url: `https://cloud-images.ubuntu.com/releases/noble/${ubuntuCloudRelease}/ubuntu-24.04-server-cloudimg-amd64.img`,
      digest: { pinned: ubuntuPin.sha256, from: ubuntuPin.from },
    },
    {
      kind: 'file',
      name: 'tofu-provider-proxmox',
      version: tofuProxmoxProvider.version,
      neededFor: 'proxmox',
      file: tofuProxmoxProviderFile,
      url: `${tofuProviderRelease}/terraform-provider-proxmox_${tofuProxmoxProvider.version}_linux_amd64.zip`,
      digest: { checksumFile: `${tofuProviderRelease}/terraform-provider-proxmox_${tofuProxmoxProvider.version}_SHA256SUMS` },
    },
    {
      kind: 'file',
      name: 'packer-plugin-proxmox',
      version: packerProxmoxPlugin.version,
      neededFor: 'proxmox',
      file: packerProxmoxPluginFile,
      url: `${packerPluginRelease}/${path.posix.basename(packerProxmoxPluginFile)}`,
      digest: { checksumFile: `${packerPluginRelease}/packer-plugin-proxmox_v${packerProxmoxPlugin.version}_SHA256SUMS` },
    },
    // RKE2's air-gap install: the release's checksum file, the tarballs it lists, and the installer.
    rke2File('rke2-checksums', 'sha256sum-amd64.txt', noChecksumOfItself('sha256sum-amd64.txt')),
    rke2File('rke2-binary', 'rke2.linux-amd64.tar.gz', { checksumFile: rke2Checksums }),
    rke2File('rke2-images', 'rke2-images.linux-amd64.tar.zst', { checksumFile: rke2Checksums }),
    {
      ...rke2File('rke2-install', 'install.sh', { firstFetch: 'get.rke2.io publishes no checksum for install.sh; it is fetched from the release tag' }),
      url: `https://raw.githubusercontent.com/rancher/rke2/${encodeURIComponent(rke2)}/install.sh`,
    },
    // kubeadm clusters on air-gapped sites (online sites install pinned packages from pkgs.k8s.io).
    ...(['kubeadm', 'kubelet', 'kubectl'] as const).flatMap((binary) => [
      k8sFile(binary, binary, `${k8sRelease}/${binary}`, { checksumFile: `${k8sRelease}/${binary}.sha256`, entry: binary }),
      k8sFile(`${binary}-checksum` as const, `${binary}.sha256`, `${k8sRelease}/${binary}.sha256`, noChecksumOfItself(`${binary}.sha256`)),
    ]),
    k8sFile('crictl', crictlFile, crictlUrl, { checksumFile: `${crictlUrl}.sha256` }, crictl),
    k8sFile('crictl-checksum', `${crictlFile}.sha256`, `${crictlUrl}.sha256`, noChecksumOfItself(`${crictlFile}.sha256`), crictl),
    // etcdctl and etcdutl of the etcd kubeadm runs, as kubespray installs them on control planes (etcd-backup).
    ...(etcd === undefined
      ? []
      : [etcdFile('etcd-release', `etcd-${etcd}-linux-amd64.tar.gz`, { checksumFile: `${etcdRelease}/SHA256SUMS` }), etcdFile('etcd-checksums', 'SHA256SUMS', noChecksumOfItself('SHA256SUMS'))]),
    chart('cilium', cilium),
    ...platformChartNames.map((name) => chart(name, versions.charts[name])),
    // The images an air-gapped site's registry must hold for what the catalog starts: kube-vip's static pod,
    // Cilium's agent and operator, cert-manager's four, the kubeadm control plane with etcd, CoreDNS and
    // pause, CoreDNS's autoscaler, and the OCI chart.
    image('kube-vip', `ghcr.io/kube-vip/kube-vip:${kubeVip}`),
    image('cilium-agent', `quay.io/cilium/cilium:v${cilium}`),
    image('cilium-operator', `quay.io/cilium/operator-generic:v${cilium}`),
    ...['controller', 'webhook', 'cainjector', 'startupapicheck'].map((part) => image(`cert-manager-${part}`, `quay.io/jetstack/cert-manager-${part}:${versions.charts['cert-manager']}`)),
    ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'].map((part) => image(part, `registry.k8s.io/${part}:${kubernetes}`)),
    ...kubeadmExtraImages(kubernetes),
    image('dns-autoscaler', dnsAutoscalerImage),
    // Velero's AWS plugin, its init container: the environment's version (tasks/shared/chart-releases.ts).
    image('velero-plugin-for-aws', `docker.io/velero/velero-plugin-for-aws:${veleroAwsPlugin}`),
    image('proxmox-csi-plugin-chart', `ghcr.io/sergelogvinov/charts/proxmox-csi-plugin:${versions.charts['proxmox-csi-plugin']}`),
    // What the charts run beyond the images above, as images/chart-images.ts lists them.
    ...chartImageArtifacts('cilium', cilium),
    ...platformChartNames.map((name) => chartImageArtifacts(name, versions.charts[name])).flat(),
    ...chartImageArtifacts('proxmox-csi-plugin', versions.charts['proxmox-csi-plugin']),
  ];
}

/** The artifact of this environment named `name`, or undefined. */
export function artifactNamed(versions: Environment['versions'], name: string): Artifact | undefined {
  return artifactsFor(versions).find((artifact) => artifact.name === name);
}

/** The ubuntu cloud image's entry (the foundation phase uploads it). */
export function ubuntuCloudImage(versions: Environment['versions']): FileArtifact {
  return artifactNamed(versions, 'ubuntu-cloud') as FileArtifact;
}
