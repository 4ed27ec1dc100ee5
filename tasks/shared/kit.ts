import path from 'node:path';
import { z } from 'zod';
import { defineTasks } from '../../lib/dsl/define-tasks.js';
import { runPlaybook, type PlaybookOptions, type PlaybookResult } from '../../lib/tools/ansible.js';
import type { ToolContext } from '../../lib/tools/command.js';
import type { Inventory, InventoryHost } from '../../lib/tools/inventory.js';
import type { SshTarget } from '../../lib/tools/ssh.js';
import { readSecret } from '../../environments/load-environment.js';
import type { ClusterName, Environment, SecretReference } from '../../environments/schema.js';

/** Every OpenSpace task reads the environment as `context.config`, typed. */
export const tasks = defineTasks<Environment>();

export const clusterNames = ['mcm', 'osms', 'osdc'] as const satisfies readonly ClusterName[];
export const clusterInput = { cluster: z.enum(clusterNames) };

interface Endpoint {
  readonly address: string;
  readonly port?: number;
  readonly user?: string;
}

/** How to reach a host over SSH with the environment's key and pinned known_hosts. */
export function sshTarget(config: Environment, root: string, endpoint: Endpoint): SshTarget {
  return {
    host: endpoint.address,
    port: endpoint.port ?? 22,
    user: endpoint.user ?? config.ssh.user,
    knownHostsFile: path.resolve(root, config.ssh.knownHosts),
    ...(config.ssh.privateKey ? { privateKey: path.resolve(root, config.ssh.privateKey) } : {}),
  };
}

/** The Ansible inventory of the whole site, generated from the typed configuration for each run. */
export function siteInventory(config: Environment): Inventory {
  const host = (endpoint: Endpoint): InventoryHost => ({ address: endpoint.address, port: endpoint.port ?? 22, user: endpoint.user ?? config.ssh.user });
  const groups: Record<string, Inventory['groups'][string]> = {
    management: { hosts: Object.fromEntries(config.managementHosts.map((entry) => [entry.name, { ...host(entry), vars: { bridges: entry.bridges } }])) },
    dns: { hosts: { [config.dns.server.name]: host(config.dns.server) } },
  };
  if (config.proxmox) groups.proxmox = { hosts: Object.fromEntries(config.proxmox.nodes.map((entry) => [entry.name, host(entry)])) };
  for (const name of clusterNames) {
    const cluster = config.clusters[name];
    groups[`${name}_control_plane`] = { hosts: Object.fromEntries(cluster.controlPlane.map((node) => [node.name, host(node)])) };
    groups[`${name}_workers`] = { hosts: Object.fromEntries(cluster.workers.map((node) => [node.name, host(node)])) };
    groups[name] = {
      children: [`${name}_control_plane`, `${name}_workers`],
      vars: { cluster_name: name, distribution: cluster.distribution, cni: cluster.cni, api_address: cluster.apiAddress, pod_cidr: cluster.podCidr, service_cidr: cluster.serviceCidr },
    };
  }
  return {
    groups,
    vars: {
      site_domain: config.site.domain,
      air_gapped: config.site.airGapped,
      registry_mirrors: config.registryMirrors,
      versions: config.versions,
      ansible_python_interpreter: '/usr/bin/python3',
    },
  };
}

/** Runs one of the repository's playbooks against the site inventory, with the environment's SSH settings. */
export function playbook(
  context: ToolContext & { readonly config: Environment },
  file: string,
  options: Omit<PlaybookOptions, 'playbook' | 'inventory' | 'knownHostsFile' | 'privateKey'> = {},
): Promise<PlaybookResult> {
  const { config, root } = context;
  return runPlaybook(context, {
    playbook: path.resolve(root, file),
    inventory: siteInventory(config),
    knownHostsFile: path.resolve(root, config.ssh.knownHosts),
    ...(config.ssh.privateKey ? { privateKey: path.resolve(root, config.ssh.privateKey) } : {}),
    ...options,
  });
}

/** A secret's value for a task body, marked secret so it is redacted everywhere. */
export function secretValue(context: ToolContext, reference: SecretReference): string {
  const value = readSecret(reference, context.root);
  if (!value.ok) throw new Error(value.error);
  return context.secret(value.value);
}

/** The Proxmox part of the configuration, for tasks that only make sense on Proxmox. */
export function proxmoxOf(config: Environment): NonNullable<Environment['proxmox']> {
  if (!config.proxmox) throw new Error("this environment has no Proxmox configuration (infrastructure is 'existing')");
  return config.proxmox;
}

/** skipWhen for the Proxmox phases: where the nodes exist already there is nothing for them to do. */
export function withoutProxmox(config: Environment): string | false {
  return config.infrastructure === 'existing' && "the nodes exist already (infrastructure: 'existing')";
}
