import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CatalogEntry } from '../lib/graph/build-graph.js';
import * as base from './base/index.js';
import * as dns from './dns/index.js';
import * as kubernetes from './kubernetes/index.js';
import * as nodePrep from './node-prep/index.js';
import { vmStatePull } from './infrastructure/vm-state-pull.js';
import type { Project } from '../lib/cli/project.js';
import type { Environment } from '../environments/schema.js';
import { nodesOf, proxmoxParallelOperations, tasks } from './shared/kit.js';

/** The Proxmox/Kubernetes flow of the second seed, for every cluster. */
export const proxmoxKubernetes = tasks.task({
  name: 'proxmox-k8s',
  description: 'Foundation, golden image, DNS, VMs, Kubernetes and platform services for every cluster',
  // Every cluster the environment declares, by role.
  deps: [kubernetes.mcm, kubernetes.osms, kubernetes.osdc],
});

/** Host preparation on every host (what the lab runs for real): base, DNS, and node preparation. */
export const hosts = tasks.task({
  name: 'hosts',
  description: 'Host preparation everywhere: management hosts, DNS, every cluster\'s nodes',
  // The management hosts, the DNS server, and the nodes of every cluster the environment declares.
  deps: (_, config) => [base.baseTarget, dns.dns, ...nodesOf(config).map(({ node }) => nodePrep.nodePrep.with({ node }))],
});

/** The catalog's own state in an environment's PostgreSQL database, brought back by `state pull`: the VMs'. */
export const statePulls = [vmStatePull];

/**
 * Capacity of each named pool. Proxmox: what the site's storage takes at once (proxmoxParallelOperations);
 * OPNsense's API applies one change at a time.
 */
export const pools = { 'proxmox-api': proxmoxParallelOperations, 'opnsense-api': 1 } satisfies Project<Environment>['pools'];

/**
 * The modules of tasks: every folder under tasks/ with an index.ts, and every other .ts file here, in name
 * order; shared/ holds what tasks use, not tasks. A new module is part of the catalog by being there.
 */
function taskModuleFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true })
    .flatMap((entry) => {
      if (entry.isDirectory()) return entry.name !== 'shared' && existsSync(path.join(directory, entry.name, 'index.ts')) ? [`./${entry.name}/index.js`] : [];
      return entry.name.endsWith('.ts') && entry.name !== 'index.ts' && !entry.name.endsWith('.d.ts') ? [`./${entry.name.replace(/\.ts$/, '.js')}`] : [];
    })
    .sort();
}

const modules = await Promise.all(taskModuleFiles(path.dirname(fileURLToPath(import.meta.url))).map((file) => import(file) as Promise<Record<string, unknown>>));

/** Every task the CLI knows (`tsx deploy.ts --list`): each module's exported tasks, then the two defined here. */
export const catalog: CatalogEntry[] = modules
  .flatMap((module) => Object.values(module))
  .filter((value): value is CatalogEntry => typeof value === 'object' && value !== null && 'name' in value && 'spec' in value)
  .concat([proxmoxKubernetes, hosts]);
