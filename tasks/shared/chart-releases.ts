import { hostnamePattern, type Environment } from '../../environments/schema.js';
import { clusterOf } from './kit.js';

/** What a release's values are made of: the site, the cluster it goes on, and the secrets it carries. */
export interface ReleaseTarget {
  readonly config: Environment;
  readonly cluster: string;
  /**
   * Velero's credentials file for the S3 store (the chart's `credentials.secretContents.cloud`): the
   * environment's secrets when installing, a placeholder where the chart is only rendered for its images.
   */
  readonly veleroCredentials: string;
  /** The PEM of the CA the S3 endpoint's certificate is verified with (velero.caFile), when there is one. */
  readonly veleroCa?: string;
  /** The storage driver's Proxmox API token (proxmox-csi-token's); placeholders where only rendered. */
  readonly proxmoxCsiToken: { readonly tokenId: string; readonly token: string };
}

/** The topology region of a site's Proxmox nodes (proxmox-csi-plugin's `region`, the nodes' label): the environment's name. */
export const proxmoxRegion = (config: Environment): string => config.name;

/**
 * Proxmox CSI, as its install guide sets it up: the site's Proxmox API (its certificate verified, as the VMs'
 * OpenTofu provider does) with the driver's own token, the region the nodes are labelled with (each node's
 * zone is the Proxmox node its VM runs on: platform-services labels them), and the default StorageClass on
 * the environment's storage pool.
 */
function proxmoxCsiValues({ config, proxmoxCsiToken }: ReleaseTarget): Record<string, unknown> {
  const proxmox = config.proxmox;
  // Rendered for its images only (a site without Proxmox): the chart's own defaults.
  if (!proxmox) return {};
  return {
    config: { clusters: [{ url: proxmox.apiUrl, insecure: false, token_id: proxmoxCsiToken.tokenId, token_secret: proxmoxCsiToken.token, region: proxmoxRegion(config) }] },
    storageClass: [{ name: 'proxmox-data', storage: proxmox.storage.pool, reclaimPolicy: 'Delete', fstype: 'ext4', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }],
  };
}

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
  readonly values: (target: ReleaseTarget) => Readonly<Record<string, unknown>>;
  /** Why a cluster does not get the release (its site lacks what the release needs, or it has its own), or false. */
  readonly notInstalledBecause?: (config: Environment, cluster: string) => string | false;
}

/**
 * The Velero schedule platform-services makes: its key in the chart's values, and its name, which the chart
 * makes `<release's full name>-<key>` (the release is `velero`). velero-restore restores its newest backup.
 */
export const veleroSchedule = { key: 'onboarder', name: 'velero-onboarder' } as const;

/**
 * Velero backing up the cluster's objects to the site's S3 store, as `velero install --provider aws` with
 * MinIO sets it up: the AWS plugin as an init container, one backup location (the bucket, under a prefix of
 * the cluster's name, path-style addressing), the credentials as the chart's secret, and a schedule of
 * every namespace kept for the environment's ttl. Volume snapshots are off (Proxmox CSI takes none), so the
 * volumes' data goes with the objects by Velero's file-system backup (`velero install --use-node-agent
 * --default-volumes-to-fs-backup`, kopia): the node agent on every node, whatever its taints, reads each
 * pod's volumes; without it a restore would bring back every claim empty.
 */
function veleroValues({ config, cluster, veleroCredentials, veleroCa }: ReleaseTarget): Record<string, unknown> {
  const velero = config.velero;
  const plugin = {
    initContainers: [{ name: 'velero-plugin-for-aws', image: `velero/velero-plugin-for-aws:${config.versions.veleroAwsPlugin}`, imagePullPolicy: 'IfNotPresent', volumeMounts: [{ mountPath: '/target', name: 'plugins' }] }],
    snapshotsEnabled: false,
    // platform-services applies the chart's CRDs itself before each upgrade (applyCrds): the chart's own
    // upgrade job would run a docker.io/bitnami/kubectl image, which Bitnami no longer publishes.
    upgradeCRDs: false,
    deployNodeAgent: true,
    nodeAgent: { tolerations: [{ operator: 'Exists' }] },
  };
  // Rendered for its images only (a site without a store): the plugin, no location.
  if (!velero) return { ...plugin, backupsEnabled: false };
  return {
    ...plugin,
    configuration: {
      backupStorageLocation: [
        {
          name: 'default',
          provider: 'aws',
          bucket: velero.bucket,
          prefix: cluster,
          default: true,
          ...(veleroCa ? { caCert: Buffer.from(veleroCa).toString('base64') } : {}),
          config: { region: velero.region, s3ForcePathStyle: 'true', s3Url: velero.s3Url },
        },
      ],
      volumeSnapshotLocation: [],
      defaultVolumesToFsBackup: true,
      uploaderType: 'kopia',
    },
    credentials: { useSecret: true, secretContents: { cloud: veleroCredentials } },
    schedules: { [veleroSchedule.key]: { disabled: false, schedule: velero.schedule, useOwnerReferencesInBackup: false, template: { ttl: velero.ttl, includedNamespaces: ['*'], defaultVolumesToFsBackup: true } } },
  };
}

/**
 * ingress-nginx as kubespray's ingress_nginx addon and RKE2's own run it: a DaemonSet on every schedulable
 * node, answering on the node's ports 80 and 443, behind a ClusterIP Service. Proxmox VMs have no load
 * balancer to give a LoadBalancer Service an address, so such a Service would stay pending and `helm
 * --wait` would wait for it until it fails. The IngressClass is the cluster's default.
 */
const ingressValues = {
  controller: {
    kind: 'DaemonSet',
    hostPort: { enabled: true, ports: { http: 80, https: 443 } },
    service: { type: 'ClusterIP' },
    publishService: { enabled: false },
    ingressClassResource: { default: true },
  },
};

/**
 * kube-prometheus-stack scrapes the control plane where Onboarder has it answer (the controller manager and
 * scheduler on their secure ports of the node's address, etcd's metrics on 2381: vars/kubeadm-apiserver.yml,
 * RKE2's config.yaml), so that none shows as down. kube-proxy is not scraped: kubeadm clusters run none
 * (Cilium replaces it) and RKE2's answers on the loopback only.
 */
const monitoringValues = {
  grafana: { enabled: true },
  kubeControllerManager: { service: { port: 10257, targetPort: 10257 }, serviceMonitor: { https: true, insecureSkipVerify: true } },
  kubeScheduler: { service: { port: 10259, targetPort: 10259 }, serviceMonitor: { https: true, insecureSkipVerify: true } },
  kubeEtcd: { service: { port: 2381, targetPort: 2381 } },
  kubeProxy: { enabled: false },
};

/**
 * kubelet-csr-approver, as kubespray installs it with `kubelet_rotate_server_certificates`: a kubeadm
 * cluster's kubelets ask the cluster's CA for their serving certificates (`serverTLSBootstrap`), and this
 * approves a request only from a node's own credentials, for its own name (one DNS name, the node's) and its
 * own address in the environment (each node's, alone), so that metrics-server and the API server verify
 * every kubelet they talk to. No DNS lookup: a node's name need not resolve inside the cluster. Renewals are
 * approved as they come, all year. Its own step (kubelet-csr-approver[cluster]), which a node added or taken
 * out runs again, installs it: platform-services does not read the nodes.
 */
function csrApproverValues({ config, cluster }: ReleaseTarget): Record<string, unknown> {
  const named = Object.hasOwn(config.clusters, cluster) ? clusterOf(config, cluster) : undefined;
  const prefixes = named ? [...named.controlPlane, ...named.workers].map((node) => `${node.address}/32`) : [];
  return { providerRegex: hostnamePattern.source, providerIpPrefixes: prefixes, allowedDnsNames: 1, bypassDnsResolution: true };
}

/**
 * metrics-server, as RKE2 bundles it and kubespray installs it, except that it verifies every kubelet's
 * certificate against the cluster's CA (the approver above has them signed) instead of kubespray's default
 * `--kubelet-insecure-tls`: the chart's arguments as they are.
 */
const metricsServerValues = {};

/** A release RKE2 brings itself: not installed on an RKE2 cluster, with the reason. */
const kubeadmOnly = (what: string) => (config: Environment, cluster: string) =>
  clusterOf(config, cluster).distribution === 'rke2' && `RKE2 ${what}`;

/** kubelet-csr-approver's release, which its own step installs before the platform services. */
export const csrApproverRelease: ChartRelease = {
  release: 'kubelet-csr-approver',
  chart: 'kubelet-csr-approver/kubelet-csr-approver',
  namespace: 'kube-system',
  values: csrApproverValues,
  notInstalledBecause: kubeadmOnly("signs its kubelets' serving certificates itself"),
};

/** The platform services every cluster gets, in the order they are installed. */
export const platformReleases: readonly ChartRelease[] = [
  { release: 'metrics-server', chart: 'metrics-server/metrics-server', namespace: 'kube-system', values: () => metricsServerValues, notInstalledBecause: kubeadmOnly('runs its own (rke2-metrics-server)') },
  { release: 'ingress-nginx', chart: 'ingress-nginx/ingress-nginx', namespace: 'ingress-nginx', values: () => ingressValues },
  { release: 'kube-prometheus-stack', chart: 'prometheus-community/kube-prometheus-stack', namespace: 'monitoring', values: () => monitoringValues },
  { release: 'cert-manager', chart: 'jetstack/cert-manager', namespace: 'cert-manager', values: () => ({ crds: { enabled: true } }) },
  {
    release: 'proxmox-csi-plugin',
    chart: 'oci://ghcr.io/sergelogvinov/charts/proxmox-csi-plugin',
    namespace: 'csi-proxmox',
    values: proxmoxCsiValues,
    notInstalledBecause: (config) => (config.infrastructure === 'existing' || !config.proxmox) && "the nodes are not Proxmox VMs (infrastructure: 'existing'): Proxmox CSI has no disks to give them",
  },
  {
    release: 'velero',
    chart: 'vmware-tanzu/velero',
    namespace: 'velero',
    values: veleroValues,
    notInstalledBecause: (config) => config.velero === undefined && 'the environment names no S3 store for its backups (velero: { s3Url, bucket, accessKeyId, secretAccessKey })',
  },
];

/** Every release the catalog installs on a cluster (the approver's and the platform services): what a bundle renders. */
export const everyRelease: readonly ChartRelease[] = [csrApproverRelease, ...platformReleases];

/** The credentials file velero-plugin-for-aws reads (an AWS shared credentials file). */
export function veleroCredentialsFile(accessKeyId: string, secretAccessKey: string): string {
  return `[default]\naws_access_key_id=${accessKeyId}\naws_secret_access_key=${secretAccessKey}\n`;
}
