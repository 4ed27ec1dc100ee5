import type { CatalogEntry } from '../lib/graph/build-graph.js';
import * as base from './base/index.js';
import * as bundle from './bundle/index.js';
import * as decommission from './decommission/index.js';
import * as dns from './dns/index.js';
import * as foundation from './foundation/index.js';
import * as goldenImage from './golden-image/index.js';
import * as images from './images/index.js';
import * as infrastructure from './infrastructure/index.js';
import * as kubernetes from './kubernetes/index.js';
import * as nodePrep from './node-prep/index.js';
import * as registry from './registry/index.js';
import { nodesOf, tasks } from './shared/kit.js';

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

/** Capacity of each named pool: Proxmox's API takes two heavy operations at once, OPNsense's one. */
export const pools = { 'proxmox-api': 2, 'opnsense-api': 1 };

/** Every task the CLI knows: `tsx deploy.ts --list`. */
export const catalog: CatalogEntry[] = [base, bundle, decommission, dns, foundation, goldenImage, images, infrastructure, kubernetes, nodePrep, registry]
  .flatMap((module) => Object.values(module) as unknown[])
  .filter((value): value is CatalogEntry => typeof value === 'object' && value !== null && 'name' in value && 'spec' in value)
  .concat([proxmoxKubernetes, hosts]);
