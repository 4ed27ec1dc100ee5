import type { Environment } from '../../environments/schema.js';

/**
 * The platform services' Helm releases, with their values: platform-services installs them (this file is one
 * of its sources: a changed value installs again), and bundle:find-images renders the same charts with the
 * same values to learn which images they run.
 */
export interface ChartRelease {
  readonly release: keyof Environment['versions']['charts'];
  /** The chart as a connected site installs it: `repository/chart`, or an `oci://` reference. */
  readonly chart: string;
  readonly namespace: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** The platform services every cluster gets, in the order they are installed. */
export const platformReleases: readonly ChartRelease[] = [
  { release: 'ingress-nginx', chart: 'ingress-nginx/ingress-nginx', namespace: 'ingress-nginx', values: { controller: { replicaCount: 2 } } },
  { release: 'kube-prometheus-stack', chart: 'prometheus-community/kube-prometheus-stack', namespace: 'monitoring', values: { grafana: { enabled: true } } },
  { release: 'cert-manager', chart: 'jetstack/cert-manager', namespace: 'cert-manager', values: { crds: { enabled: true } } },
  { release: 'proxmox-csi-plugin', chart: 'oci://ghcr.io/sergelogvinov/charts/proxmox-csi-plugin', namespace: 'csi-proxmox', values: {} },
  { release: 'velero', chart: 'vmware-tanzu/velero', namespace: 'velero', values: { snapshotsEnabled: false } },
];
