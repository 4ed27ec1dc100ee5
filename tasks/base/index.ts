import path from 'node:path';
import { OpnsenseEndpointMissing, reconcileCollection } from '../../lib/tools/opnsense.js';
import { operatorPublicKey, playbook, secretValue, tasks } from '../shared/kit.js';
import { collections, desiredFirewall, managedAlias, managedDescription } from './opnsense.js';
import { aptMirrorVars } from '../shared/apt-mirrors.js';

const base = tasks.namespace('base');
const playbooks = 'tasks/base/playbooks';

export const copySshKey = base.task({
  name: 'copy-ssh-key',
  description: "Authorize the operators' SSH keys on the management hosts",
  supportsDryRun: true,
  estimate: '1m',
  sources: [`${playbooks}/copy-ssh-key.yml`],
  tools: ['ansible-playbook'],
  run: async (context) => {
    await playbook(context, `${playbooks}/copy-ssh-key.yml`, { hosts: 'management' }, { extraVars: { operator_keys: [operatorPublicKey(context)] } });
  },
});

export const packages = base.task({
  name: 'packages',
  description: "Install the packages of a KVM management host; its clock follows the site's time servers",
  supportsDryRun: true,
  // Ansible logs in with the operator's key that copy-ssh-key authorized.
  deps: [copySshKey],
  estimate: '4m',
  sources: [`${playbooks}/packages.yml`, 'tasks/shared/playbooks/includes/apt-mirrors.yml', 'tasks/shared/playbooks/includes/package-manager-ready.yml', 'tasks/shared/playbooks/includes/package-lists.yml', 'tasks/shared/playbooks/includes/time-sync.yml'],
  tools: ['ansible-playbook'],
  retries: 2,
  run: async (context) => {
    const { config } = context;
    // The management hosts that are Proxmox nodes too (the same address): Proxmox VE brings its own QEMU.
    const proxmoxAddresses = new Set((config.proxmox?.nodes ?? []).map((node) => node.address));
    const proxmoxHosts = config.managementHosts.filter((host) => proxmoxAddresses.has(host.address)).map((host) => host.name);
    await playbook(context, `${playbooks}/packages.yml`, { hosts: 'management' }, { extraVars: { management_packages: config.packages.management, ntp_servers: config.site.ntpServers, proxmox_hosts: proxmoxHosts, ...aptMirrorVars(config, context.root) } });
  },
});

export const bridges = base.task({
  name: 'bridges',
  description: 'Bridges and VLANs of the management hosts',
  supportsDryRun: true,
  // bridge-utils and ifupdown2, which write the bridges, are among the packages.
  deps: [packages],
  estimate: '2m',
  sources: [`${playbooks}/bridges.yml`],
  tools: ['ansible-playbook'],
  run: async (context) => {
    await playbook(context, `${playbooks}/bridges.yml`, { hosts: 'management' }, {});
  },
});

export const opnsense = base.task({
  name: 'opnsense',
  description: "OPNsense firewalls through their API: the site's aliases, VLANs and the clusters' rules",
  supportsDryRun: true,
  // The firewall's interfaces sit on the management hosts' bridges and VLANs.
  deps: [bridges],
  estimate: '3m',
  retries: 2,
  pool: 'opnsense-api',
  skipWhen: (config) => config.firewalls.length === 0 && 'no firewalls in this environment',
  run: async (context) => {
    const { config, root } = context;
    for (const firewall of config.firewalls) {
      const desired = desiredFirewall(config, firewall);
      const counted = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
      const sizes = [counted(desired.aliases.length, 'alias', 'aliases'), counted(desired.vlans.length, 'VLAN', 'VLANs'), counted(desired.rules.length, 'rule', 'rules'), counted(desired.forwards.length, 'DNS forward', 'DNS forwards')].join(', ');
      if (context.dryRun) {
        // The plan lists it beside the commands: what would be reconciled, and where.
        context.commands.started(`reconcile OPNsense ${firewall.name} at https://${firewall.address}:${firewall.port}/api: ${sizes} (search, then add, set or delete what differs, apply once)`)(0);
        continue;
      }
      const endpoint = {
        name: firewall.name,
        address: firewall.address,
        port: firewall.port,
        ...(firewall.caFile ? { caFile: path.resolve(root, firewall.caFile) } : {}),
        apiKey: secretValue(context, firewall.apiKey),
        apiSecret: secretValue(context, firewall.apiSecret),
      };
      // Aliases first: the rules name them. Each collection is applied once, when it changed.
      const done: string[] = [];
      for (const kind of ['aliases', 'vlans', 'rules', 'forwards'] as const) {
        let changes;
        try {
          changes = await reconcileCollection(context, endpoint, collections[kind], desired[kind], kind === 'aliases' ? managedAlias : managedDescription);
        } catch (error) {
          // Query Forwarding's API came with OPNsense 23.7: an older firewall is kept as ever, and says so.
          if (kind !== 'forwards' || !(error instanceof OpnsenseEndpointMissing)) throw error;
          context.log.warn(`${firewall.name} has no Unbound query forwarding API (OPNsense 23.7 and later): forward the zone ${config.dns.zone} to ${config.dns.servers.map((server) => server.address).join(', ')} there by hand, or update it`);
          continue;
        }
        for (const [verb, names] of Object.entries(changes)) if (names.length > 0) done.push(`${verb} ${collections[kind].label} ${names.join(', ')}`);
      }
      context.log.info(done.length === 0 ? `${firewall.name}: up to date (${sizes}), nothing changed` : `${firewall.name}: ${done.join('; ')}`);
    }
  },
});

export const baseTarget = tasks.task({ name: 'base', description: 'Base infrastructure: management hosts, networking, firewalls', deps: [copySshKey, packages, bridges, opnsense] });
