/**
 * The configuration of one OpenSpace site. Only the parts the current catalog reads are here; the full
 * schema (validated on load) is the environments issue.
 */
export interface PlatformConfig {
  readonly site: string;
  readonly proxmox: { readonly apiUrl: string; readonly node: string; readonly storage: string };
  readonly clusters: Readonly<Record<ClusterName, ClusterConfig>>;
  readonly dns: { readonly zone: string };
}

export type ClusterName = 'mcm' | 'osms' | 'osdc';

export interface ClusterConfig {
  readonly distribution: 'rke2' | 'kubeadm';
  readonly controlPlanes: readonly string[];
  readonly workers: readonly string[];
}
