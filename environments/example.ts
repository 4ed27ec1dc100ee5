import { defineEnvironment, type EnvironmentDefinition } from './schema.js';

const node = (name: string, last: number, vmId: number, network = '192.0.2') => ({ name, address: `${network}.${last}`, vmId });

/**
 * A kubeadm cluster of 3 control-plane nodes and 3 workers: `<name>-cp1..3` and `<name>-w1..3` at
 * <network>.<slot>1-<slot>6 (192.0.2, the clusters network, by default), VM ids <slot>101-<slot>103 and
 * <slot>111-<slot>113, API at <network>.<slot>0, pod and service networks 10.<38 + 2 * slot>.0.0/16 and the next.
 */
const kubeadmCluster = (name: string, role: 'osms' | 'osdc', slot: number, network = '192.0.2') => ({
  role,
  distribution: 'kubeadm' as const,
  controlPlane: [1, 2, 3].map((index) => node(`${name}-cp${index}`, slot * 10 + index, slot * 1000 + 100 + index, network)),
  // Each worker labelled with its plane (node-labels sets it through the API; `taints` take the same path).
  workers: [1, 2, 3].map((index) => ({ ...node(`${name}-w${index}`, slot * 10 + 3 + index, slot * 1000 + 110 + index, network), labels: { 'openspace.io/plane': role } })),
  apiAddress: `${network}.${slot * 10}`,
  podCidr: `10.${38 + 2 * slot}.0.0/16`,
  serviceCidr: `10.${39 + 2 * slot}.0.0/16`,
});

/**
 * A realistic site with documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24): 3 management hosts, a
 * 3-node RKE2 MCM, one OSMS and two OSDC clusters with 3 control-plane nodes and 3 workers each. Used for plans.
 */
export const example: EnvironmentDefinition = defineEnvironment({
  name: 'example',
  site: { name: 'Example site', domain: 'example.openspace.test' },
  ssh: { knownHosts: 'environments/example/known_hosts', user: 'root' },
  managementHosts: [1, 2, 3].map((index) => ({
    name: `kvm${index}`,
    address: `198.51.100.${10 + index}`,
    bridges: [
      { name: 'br-mgmt', uplink: 'bond0', address: `198.51.100.${10 + index}/24` },
      { name: 'br-vlan20', uplink: 'bond0', vlan: 20 },
      { name: 'br-vlan30', uplink: 'bond0', vlan: 30 },
    ],
  })),
  networks: [
    { name: 'management', vlan: 10, cidr: '198.51.100.0/24', gateway: '198.51.100.1' },
    { name: 'clusters', vlan: 20, cidr: '192.0.2.0/24', gateway: '192.0.2.1' },
    // A data plane on its own VLAN: osdc-b's VMs are tagged with 30 and get their gateway from here.
    { name: 'data', vlan: 30, cidr: '203.0.113.0/24', gateway: '203.0.113.1' },
  ],
  firewalls: [{ name: 'opnsense1', address: '198.51.100.2', apiKey: { file: 'environments/example/secrets/opnsense-key' }, apiSecret: { file: 'environments/example/secrets/opnsense-secret' }, vlanParent: 'igb1' }],
  proxmox: {
    apiUrl: 'https://198.51.100.20:8006/api2/json',
    tokenId: 'packer@pve!onboarder',
    token: { file: 'environments/example/secrets/proxmox-token' },
    nodes: [
      { name: 'pve1', address: '198.51.100.21' },
      { name: 'pve2', address: '198.51.100.22' },
      { name: 'pve3', address: '198.51.100.23' },
    ],
    storage: { pool: 'rbd-vms', type: 'rbd', isoStorage: 'rbd-iso' },
    templates: { baseVmId: 9002, goldenVmId: 9001 },
  },
  // Any number of clusters, by the names the site chooses, each with its role: one management cluster,
  // a management plane and two data planes.
  clusters: {
    mcm: { role: 'mcm', distribution: 'rke2', controlPlane: [node('mcm-cp1', 21, 2101), node('mcm-cp2', 22, 2102), node('mcm-cp3', 23, 2103)], apiAddress: '192.0.2.20', podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16' },
    osms: kubeadmCluster('osms', 'osms', 3),
    'osdc-a': kubeadmCluster('osdc-a', 'osdc', 4),
    'osdc-b': kubeadmCluster('osdc-b', 'osdc', 5, '203.0.113'),
  },
  dns: { servers: [{ name: 'kvm1', address: '198.51.100.11' }, { name: 'kvm2', address: '198.51.100.12' }], zone: 'example.openspace.test', records: [{ name: 'registry', type: 'A', value: '198.51.100.30' }], forwarders: ['198.51.100.2'] },
  registryMirrors: [{ registry: 'docker.io', mirror: 'https://registry.example.openspace.test' }],
  // The site's MinIO, where Velero keeps every cluster's backups (each cluster under its own prefix).
  velero: {
    s3Url: 'https://minio.example.openspace.test:9000',
    bucket: 'openspace-backups',
    accessKeyId: { file: 'environments/example/secrets/velero-access-key' },
    secretAccessKey: { file: 'environments/example/secrets/velero-secret-key' },
  },
  versions: {
    rke2: 'v1.30.4+rke2r1',
    kubernetes: 'v1.30.4',
    cilium: '1.16.1',
    kubeVip: 'v0.8.3',
    veleroAwsPlugin: 'v1.10.1',
    charts: { 'ingress-nginx': '4.11.2', 'kube-prometheus-stack': '62.3.1', 'cert-manager': 'v1.15.3', 'proxmox-csi-plugin': '0.2.8', velero: '7.2.1', 'metrics-server': '3.12.2', 'kubelet-csr-approver': '1.1.0' },
  },
  vaultPassword: { file: 'environments/example/secrets/vault-password' },
});
