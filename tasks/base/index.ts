import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { playbook, secretValue, tasks } from '../shared/kit.js';

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
    const keyFile = context.config.ssh.privateKey ? `${path.resolve(context.root, context.config.ssh.privateKey)}.pub` : path.join(os.homedir(), '.ssh', 'id_ed25519.pub');
    const key = context.dryRun ? '(operator key)' : readFileSync(keyFile, 'utf8').trim();
    await playbook(context, `${playbooks}/copy-ssh-key.yml`, { hosts: 'management' }, { extraVars: { operator_keys: [key] } });
  },
});

export const packages = base.task({
  name: 'packages',
  description: 'Install the packages of a KVM management host',
  supportsDryRun: true,
  // Ansible logs in with the operator's key that copy-ssh-key authorized.
  deps: [copySshKey],
  estimate: '4m',
  sources: [`${playbooks}/packages.yml`],
  tools: ['ansible-playbook'],
  retries: 2,
  run: async (context) => {
    await playbook(context, `${playbooks}/packages.yml`, { hosts: 'management' }, { extraVars: { management_packages: context.config.packages.management } });
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
  description: 'OPNsense firewall aliases for every network, through the API',
  supportsDryRun: true,
  // The firewall's interfaces sit on the management hosts' bridges and VLANs.
  deps: [bridges],
  estimate: '3m',
  sources: [`${playbooks}/opnsense.yml`],
  tools: ['ansible-playbook'],
  retries: 2,
  pool: 'opnsense-api',
  skipWhen: (config) => config.firewalls.length === 0 && 'no firewalls in this environment',
  run: async (context) => {
    const firewalls = context.config.firewalls.map((firewall) => ({
      name: firewall.name,
      address: firewall.address,
      api_key: secretValue(context, firewall.apiKey),
      api_secret: secretValue(context, firewall.apiSecret),
    }));
    await playbook(context, `${playbooks}/opnsense.yml`, { hosts: 'management' }, { extraVars: { firewalls, networks: context.config.networks } });
  },
});

export const baseTarget = tasks.task({ name: 'base', description: 'Base infrastructure: management hosts, networking, firewalls', deps: [copySshKey, packages, bridges, opnsense] });
