import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageRegistries } from '../images/manifest.js';
import { defineEnvironment, type EnvironmentDefinition } from './schema.js';

/**
 * The lab's hosts: whole-machine test hosts in network namespaces (`npx tsx environments/lab-hosts.ts up`).
 * osdc-w2 and osdc-b-cp1 are spares the site does not use yet: a worker to add to osdc, the node of a cluster to add.
 * Each checkout has its own subnet (from its path), so two labs on one machine, or a lab and the tests, never
 * share addresses; `up` refuses a subnet already in use.
 */
const checkout = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const chosenSubnet = process.env.LAB_SUBNET;
if (chosenSubnet !== undefined && !/^10\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)$/.test(chosenSubnet)) {
  throw new Error(`LAB_SUBNET '${chosenSubnet}' is not the first three octets of a 10.x.y.0/24 subnet (for example 10.213.7)`);
}
/** The lab's /24: LAB_SUBNET where set (when two checkouts' paths give the same one), else from the checkout's path. */
export const labSubnet = chosenSubnet ?? `10.213.${parseInt(createHash('sha256').update(checkout).digest('hex').slice(0, 4), 16) % 250}`;
/** What the lab's package mirror holds: every package its playbooks install. */
export const labMirrorPackages = ['openssh-server', 'python3', 'dnsmasq-base', 'bridge-utils', 'ifupdown2', 'conntrack', 'socat', 'ebtables', 'ethtool', 'ipset', 'iptables', 'containerd', 'openssh-client'];
export const labHostNames = ['kvm1', 'mcm-cp1', 'osms-cp1', 'osdc-cp1', 'osdc-w1', 'osdc-w2', 'osdc-b-cp1', 'kvm2'] as const;
export const labRigDirectory = '.cache/lab/rig';
/** Who Onboarder logs in as on the lab's hosts: not root, but a user with sudo (lab-hosts.ts makes it on each host). */
export const labLoginUser = 'deploy';

const address = (name: (typeof labHostNames)[number]) => `${labSubnet}.${11 + labHostNames.indexOf(name)}`;
const node = (name: (typeof labHostNames)[number], vmId: number) => ({ name, address: address(name), vmId });

/** The lab's component versions, every chart pinned. */
const labVersions = {
  rke2: 'v1.30.4+rke2r1',
  kubernetes: 'v1.30.4',
  cilium: '1.16.1',
  kubeVip: 'v0.8.3',
  veleroAwsPlugin: 'v1.10.1',
  charts: { 'ingress-nginx': '4.11.2', 'kube-prometheus-stack': '62.3.1', 'cert-manager': 'v1.15.3', 'proxmox-csi-plugin': '0.2.8', velero: '7.2.1', 'metrics-server': '3.12.2', 'kubelet-csr-approver': '1.1.0' },
};

/**
 * A site made of throwaway local hosts: the nodes exist already (`infrastructure: 'existing'`), so the
 * Proxmox, packer and OpenTofu phases have nothing to do, and host preparation (Ansible over SSH) and DNS
 * (a dnsmasq on kvm1 and one on kvm2, so that a node resolves while one is down, checked with dig) run
 * for real.
 */
export const lab: EnvironmentDefinition = defineEnvironment({
  name: 'lab',
  // The lab's namespaces have no route out: it is air-gapped in earnest, with a package mirror on its bridge.
  // Its hosts share the machine's kernel: module loads and kernel-wide sysctls are written, not applied.
  site: { name: 'Local lab', domain: 'lab.openspace.test', kernelWideSettings: 'skip', airGapped: true },
  packages: { management: ['python3', 'dnsmasq-base', 'bridge-utils', 'ifupdown2'], nodes: ['python3', 'conntrack', 'socat'] },
  ssh: { knownHosts: `${labRigDirectory}/known_hosts`, privateKey: `${labRigDirectory}/id_ed25519`, user: labLoginUser },
  infrastructure: 'existing',
  managementHosts: (['kvm1', 'kvm2'] as const).map((name) => ({ name, address: address(name), bridges: [{ name: 'br-lab' }] })),
  clusters: {
    mcm: { role: 'mcm', distribution: 'rke2', controlPlane: [node('mcm-cp1', 2101)], apiAddress: address('mcm-cp1'), podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16' },
    osms: { role: 'osms', distribution: 'kubeadm', controlPlane: [node('osms-cp1', 3101)], apiAddress: address('osms-cp1'), podCidr: '10.44.0.0/16', serviceCidr: '10.45.0.0/16' },
    osdc: { role: 'osdc', distribution: 'kubeadm', controlPlane: [node('osdc-cp1', 4101)], workers: [node('osdc-w1', 4111)], apiAddress: address('osdc-cp1'), podCidr: '10.46.0.0/16', serviceCidr: '10.47.0.0/16' },
  },
  dns: { servers: [{ name: 'kvm1', address: address('kvm1') }, { name: 'kvm2', address: address('kvm2') }], zone: 'lab.openspace.test', records: [{ name: 'registry', type: 'A', value: address('kvm1') }] },
  // Its nodes pull every image through the site's registry name (kvm1's), as a site with its own
  // pull-through registry does (an air-gapped site names one, or a siteRegistry that bundle:load fills).
  registryMirrors: imageRegistries(labVersions).map((registry) => ({ registry, mirror: 'https://registry.lab.openspace.test:5000' })),
  versions: labVersions,
});
