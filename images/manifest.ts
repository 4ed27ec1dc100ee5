/** One large artifact the deployment needs. The file lives in images/ (not in git); the manifest is typed. */
export interface ImageEntry {
  readonly name: string;
  readonly file: string;
  readonly url: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  /** `proxmox`: only sites that build VMs need it; `always`: every site (air-gap bundles). */
  readonly neededFor: 'proxmox' | 'always';
}

/**
 * The artifacts of a deployment: fetched when online, verified when air-gapped. The digests pin exact
 * builds; update the entry (url, sha256, size) to move to a new one.
 */
export const images = [
  {
    name: 'ubuntu-cloud',
    file: 'images/noble-server-cloudimg-amd64.img',
    url: 'https://cloud-images.ubuntu.com/releases/noble/release-20240821/ubuntu-24.04-server-cloudimg-amd64.img',
    sha256: '0e25ca6ee9f08ec5d4f9910054b2ae4f1b7ab6a1ef9ad7a7b9d7e3b0e2c7bdb6',
    sizeBytes: 587_202_560,
    neededFor: 'proxmox',
  },
  {
    name: 'rke2-images',
    file: 'images/rke2/v1.30.4+rke2r1/rke2-images.linux-amd64.tar.zst',
    url: 'https://github.com/rancher/rke2/releases/download/v1.30.4%2Brke2r1/rke2-images.linux-amd64.tar.zst',
    sha256: '5b1a0b1b3f6c8f5e7a3f2c4d8e9b0a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a',
    sizeBytes: 812_646_400,
    neededFor: 'always',
  },
  {
    name: 'rke2-binary',
    file: 'images/rke2/v1.30.4+rke2r1/rke2.linux-amd64.tar.gz',
    url: 'https://github.com/rancher/rke2/releases/download/v1.30.4%2Brke2r1/rke2.linux-amd64.tar.gz',
    sha256: '9d2c1e0b4a7f6e5d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d',
    sizeBytes: 31_457_280,
    neededFor: 'always',
  },
  {
    name: 'cilium-chart',
    file: 'images/cilium-1.16.1.tgz',
    url: 'https://helm.cilium.io/cilium-1.16.1.tgz',
    sha256: '3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d',
    sizeBytes: 178_000,
    neededFor: 'always',
  },
] as const satisfies readonly ImageEntry[];

export type ImageName = (typeof images)[number]['name'];

export function imageNamed(name: ImageName): ImageEntry {
  return images.find((image) => image.name === name)!;
}
