import type { PlatformConfig } from './platform-config.js';

/** A realistic example site, used for plans (`--dry-run`); its addresses are documentation ranges. */
export const example: PlatformConfig = {
  site: 'example',
  proxmox: { apiUrl: 'https://192.0.2.10:8006/api2/json', node: 'pve1', storage: 'rbd' },
  clusters: {
    mcm: { distribution: 'rke2', controlPlanes: ['192.0.2.21', '192.0.2.22', '192.0.2.23'], workers: [] },
    osms: { distribution: 'kubeadm', controlPlanes: ['192.0.2.31', '192.0.2.32', '192.0.2.33'], workers: ['192.0.2.34', '192.0.2.35', '192.0.2.36'] },
    osdc: { distribution: 'kubeadm', controlPlanes: ['192.0.2.41', '192.0.2.42', '192.0.2.43'], workers: ['192.0.2.44', '192.0.2.45', '192.0.2.46'] },
  },
  dns: { zone: 'example.openspace.test' },
};
