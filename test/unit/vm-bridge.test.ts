// foundation:validation's reading of a Proxmox node's bridge (`ip -details link show dev <bridge>`), for the
// VLAN-aware bridge this machine's kernel cannot make (no bridge VLAN filtering): the lines are iproute2's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { checkVmBridge } from '../../tasks/foundation/index.js';
import { vmNetworkSettings } from '../../tasks/shared/kit.js';

const config = environmentSchema.parse(example) as Environment;
/** The example with every cluster on the clusters network (VLAN 20): osdc-b moved off its data network. */
const oneNetwork = { ...example, clusters: Object.fromEntries(Object.entries(example.clusters).filter(([name]) => name !== 'osdc-b')) };
const bridge = (filtering: 0 | 1) =>
  '7: vmbr0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\n' +
  '    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 \n' +
  `    bridge forward_delay 0 hello_time 200 max_age 2000 ageing_time 30000 stp_state 0 priority 32768 vlan_filtering ${filtering} vlan_protocol 802.1Q bridge_id 8000.52:54:0:12:34:56 addrgenmode eui64 numtxqueues 1 numrxqueues 1\n`;

test('a VLAN-aware bridge takes the tagged VMs; one that does not filter VLANs, or no bridge, is refused with what to set', () => {
  const single = environmentSchema.parse(oneNetwork) as Environment;
  assert.not.throws(() => checkVmBridge(single, 'pve1', bridge(1)));
  assert.throws(() => checkVmBridge(single, 'pve1', bridge(0)), (error: Error) => error.message === "Proxmox node pve1: bridge vmbr0 is not VLAN-aware, and the VMs' network card is tagged with VLAN 20: set bridge-vlan-aware yes on it, or proxmox.vmBridge.tagVlan false where vmbr0 carries VLAN 20 untagged");
  assert.throws(() => checkVmBridge(single, 'pve1', undefined), /has no bridge vmbr0/);
  // A network card of that name is no bridge.
  assert.throws(() => checkVmBridge(config, 'pve1', '2: vmbr0: <BROADCAST,MULTICAST,UP> mtu 1500\n    link/ether 52:54:00:aa:bb:cc brd ff:ff:ff:ff:ff:ff\n'), /has no bridge vmbr0/);
});

test('VMs on several networks: the message names each VLAN', () => {
  assert.throws(() => checkVmBridge(config, 'pve1', bridge(0)), (error: Error) => error.message.startsWith("Proxmox node pve1: bridge vmbr0 is not VLAN-aware, and the VMs' network cards are tagged with VLANs 20, 30: set bridge-vlan-aware yes on it"));
});

test('untagged VMs need only the bridge', () => {
  const untagged = environmentSchema.parse({ ...oneNetwork, proxmox: { ...oneNetwork.proxmox!, vmBridge: { tagVlan: false } } }) as Environment;
  assert.not.throws(() => checkVmBridge(untagged, 'pve1', bridge(0)));
});

test("each VM gets the VLAN, gateway and prefix of the network its address is on: osdc-b's data plane on VLAN 30, the others on 20", () => {
  assert.equal(vmNetworkSettings(config, config.clusters['osdc-b']!.workers[0]!.address), { vlan_id: 30, gateway: '203.0.113.1', prefix_length: 24 });
  assert.equal(vmNetworkSettings(config, config.clusters['osdc-a']!.controlPlane[0]!.address), { vlan_id: 20, gateway: '192.0.2.1', prefix_length: 24 });
  const untagged = environmentSchema.parse({ ...oneNetwork, proxmox: { ...oneNetwork.proxmox!, vmBridge: { tagVlan: false } } }) as Environment;
  assert.equal(vmNetworkSettings(untagged, untagged.clusters.osms!.workers[0]!.address), { vlan_id: 0, gateway: '192.0.2.1', prefix_length: 24 }, 'the bridge carries it untagged');
});

test.run();
