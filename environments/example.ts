import { defineEnvironment, type EnvironmentDefinition } from './schema.js';

const node = (name: string, last: number, vmId: number) => ({ name, address: `192.0.2.${last}`, vmId });

/**
 * A realistic site with documentation addresses (192.0.2.0/24, 198.51.100.0/24): 3 management hosts, a
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
      { name: 'br-mgmt', address: `198.51.100.${10 + index}/24` },
      { name: 'br-vlan20', vlan: 20 },
      { name: 'br-vlan30', vlan: 30 },
    ],
  })),
  networks: [
    { name: 'management', vlan: 10, cidr: '198.51.100.0/24', gateway: '198.51.100.1' },
    { name: 'clusters', vlan: 20, cidr: '192.0.2.0/24', gateway: '192.0.2.1' },
  ],
  firewalls: [{ name: 'opnsense1', address: '198.51.100.2', apiKey: { file: 'environments/example/secrets/opnsense-key' }, apiSecret: { file: 'environments/example/secrets/opnsense-secret' } }],
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
    osms: {
      role: 'osms',
      distribution: 'kubeadm',
      controlPlane: [node('osms-cp1', 31, 3101), node('osms-cp2', 32, 3102), node('osms-cp3', 33, 3103)],
      workers: [node('osms-w1', 34, 3111), node('osms-w2', 35, 3112), node('osms-w3', 36, 3113)],
      apiAddress: '192.0.2.30',
      podCidr: '10.44.0.0/16',
      serviceCidr: '10.45.0.0/16',
    },
    'osdc-a': {
      role: 'osdc',
      distribution: 'kubeadm',
      controlPlane: [node('osdc-a-cp1', 41, 4101), node('osdc-a-cp2', 42, 4102), node('osdc-a-cp3', 43, 4103)],
      workers: [node('osdc-a-w1', 44, 4111), node('osdc-a-w2', 45, 4112), node('osdc-a-w3', 46, 4113)],
      apiAddress: '192.0.2.40',
      podCidr: '10.46.0.0/16',
      serviceCidr: '10.47.0.0/16',
    },
    'osdc-b': {
      role: 'osdc',
      distribution: 'kubeadm',
      controlPlane: [node('osdc-b-cp1', 51, 5101), node('osdc-b-cp2', 52, 5102), node('osdc-b-cp3', 53, 5103)],
      workers: [node('osdc-b-w1', 54, 5111), node('osdc-b-w2', 55, 5112), node('osdc-b-w3', 56, 5113)],
      apiAddress: '192.0.2.50',
      podCidr: '10.48.0.0/16',
      serviceCidr: '10.49.0.0/16',
    },
  },
  dns: { server: { name: 'kvm1', address: '198.51.100.11' }, zone: 'example.openspace.test', records: [{ name: 'registry', type: 'A', value: '198.51.100.30' }] },
  registryMirrors: [{ registry: 'docker.io', mirror: 'https://registry.example.openspace.test' }],
  versions: {
    rke2: 'v1.30.4+rke2r1',
    kubernetes: 'v1.30.4',
    cilium: '1.16.1',
    charts: { 'ingress-nginx': '4.11.2', 'kube-prometheus-stack': '62.3.1', 'cert-manager': 'v1.15.3', 'proxmox-csi-plugin': '0.2.8', velero: '7.2.1' },
  },
  vaultPassword: { file: 'environments/example/secrets/vault-password' },
});
