import type { Environment } from '../../environments/schema.js';
import type { OpnsenseCollection, OpnsenseItem } from '../../lib/tools/opnsense.js';
import { clustersOf } from '../shared/kit.js';

/** What Onboarder manages on a firewall starts with these: other aliases, VLANs and rules are left alone. */
export const managedAlias = 'onb_';
export const managedDescription = 'onboarder: ';

/**
 * The collections Onboarder keeps on a firewall, as OPNsense's API names them. `forwards` are Unbound's
 * query forwards (Services > Unbound DNS > Query Forwarding, the `dot` model of type `forward`, OPNsense
 * 23.7 and later): the firewall's resolver asks the site's DNS servers for the site's zone, so the operators'
 * machines resolve each node, `api.<cluster>` and `*.apps.<cluster>`.
 */
export const collections = {
  aliases: { label: 'alias', controller: 'firewall/alias', item: 'alias', verbs: { search: 'searchItem', get: 'getItem', add: 'addItem', set: 'setItem', del: 'delItem' }, apply: 'firewall/alias/reconfigure', key: 'name' },
  vlans: { label: 'VLAN', controller: 'interfaces/vlan_settings', item: 'vlan', verbs: { search: 'searchItem', get: 'getItem', add: 'addItem', set: 'setItem', del: 'delItem' }, apply: 'interfaces/vlan_settings/reconfigure', key: 'descr' },
  rules: { label: 'rule', controller: 'firewall/filter', item: 'rule', verbs: { search: 'searchRule', get: 'getRule', add: 'addRule', set: 'setRule', del: 'delRule' }, apply: 'firewall/filter/apply', key: 'description' },
  forwards: { label: 'DNS forward', controller: 'unbound/settings', item: 'dot', verbs: { search: 'searchForward', get: 'getForward', add: 'addForward', set: 'setForward', del: 'delForward' }, apply: 'unbound/service/reconfigure', key: 'description' },
} as const satisfies Record<string, OpnsenseCollection>;

/** An alias name: letters, digits and '_' (OPNsense allows no '-'), at most 32 characters. */
const aliasName = (kind: string, name: string) => `${managedAlias}${kind}_${name.replace(/-/g, '_')}`.slice(0, 32);

type Firewall = Environment['firewalls'][number];

/**
 * What one firewall should hold for the site: an alias per network, per cluster its API address and its
 * nodes; a VLAN interface per network on the firewall's VLAN parent; and the rules the clusters need: their
 * API (6443, and RKE2's supervisor 9345 for MCM), their node ports, their ingress (80 and 443 on the nodes),
 * and DNS to the site's servers; and Unbound's forwards of the site's zone to those servers.
 */
export function desiredFirewall(config: Environment, firewall: Firewall): { aliases: OpnsenseItem[]; vlans: OpnsenseItem[]; rules: OpnsenseItem[]; forwards: OpnsenseItem[] } {
  const aliases: OpnsenseItem[] = config.networks.map((network) => ({ enabled: '1', name: aliasName('net', network.name), type: 'network', content: network.cidr, description: `${managedDescription}network ${network.name}` }));
  const rules: OpnsenseItem[] = [];
  const rule = (description: string, protocol: string, destination: string, port: string): OpnsenseItem => ({
    enabled: '1',
    action: 'pass',
    // Several interfaces in one rule: OPNsense's filter rules take a list (comma-separated), sorted as the
    // comparison with what the firewall holds reads it.
    interface: firewall.ruleInterface.join(','),
    direction: 'in',
    ipprotocol: 'inet',
    protocol,
    source_net: 'any',
    destination_net: destination,
    destination_port: port,
    description: `${managedDescription}${description}`,
  });
  for (const cluster of clustersOf(config)) {
    const api = aliasName('api', cluster.name);
    const nodes = aliasName('nodes', cluster.name);
    aliases.push({ enabled: '1', name: api, type: 'host', content: cluster.apiAddress, description: `${managedDescription}API of cluster ${cluster.name}` });
    aliases.push({ enabled: '1', name: nodes, type: 'host', content: [...cluster.controlPlane, ...cluster.workers].map((node) => node.address).join('\n'), description: `${managedDescription}nodes of cluster ${cluster.name}` });
    rules.push(rule(`${cluster.name} API`, 'TCP', api, '6443'));
    if (cluster.distribution === 'rke2') rules.push(rule(`${cluster.name} RKE2 supervisor`, 'TCP', api, '9345'));
    rules.push(rule(`${cluster.name} node ports`, 'TCP/UDP', nodes, '30000-32767'));
    // ingress-nginx answers on every schedulable node's ports 80 and 443 (chart-releases.ts).
    rules.push(rule(`${cluster.name} ingress HTTP`, 'TCP', nodes, '80'), rule(`${cluster.name} ingress HTTPS`, 'TCP', nodes, '443'));
  }
  aliases.push({ enabled: '1', name: aliasName('dns', 'server'), type: 'host', content: config.dns.servers.map((server) => server.address).join('\n'), description: `${managedDescription}the site's DNS servers` });
  rules.push(rule('DNS', 'TCP/UDP', aliasName('dns', 'server'), '53'));
  const vlans: OpnsenseItem[] = firewall.vlanParent
    ? config.networks.map((network) => ({ if: firewall.vlanParent!, tag: String(network.vlan), pcp: '0', descr: `${managedDescription}${network.name}` }))
    : [];
  // The zone's names, from each of the site's DNS servers (Unbound asks the next when one does not answer).
  const forwards: OpnsenseItem[] = config.dns.servers.map((server) => ({ enabled: '1', type: 'forward', domain: config.dns.zone, server: server.address, port: '53', description: `${managedDescription}zone ${config.dns.zone} from ${server.name}` }));
  return { aliases, vlans, rules, forwards };
}
