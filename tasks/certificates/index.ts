import type { Dependency } from '../../lib/dsl/task.js';
import type { ToolContext } from '../../lib/tools/command.js';
import type { Environment } from '../../environments/schema.js';
import { kubeconfigPath, kubernetes, workersJoined } from '../kubernetes/index.js';
import { clusterGroup, inventoryNode, clusterInput, clusterOf, clustersOf, everyCluster, membersFirst, playbook, tasks, type NamedCluster } from '../shared/kit.js';
import { expiringAuthorities, expiringCertificates, nodeCertificates } from './node-certificates.js';

/** At most this many certificates are named in a line; the rest are counted. */
const shownCertificates = 4;

/**
 * The certificates of a cluster's nodes that renewal renews, read on every node at once: the control
 * plane's (kubeadm's PKI and kubeconfigs, RKE2's server and agent certificates) and, on RKE2, the agents'.
 * A CA that expires within the window is named as a warning: no renewal renews it.
 */
async function expiring(context: ToolContext & { readonly config: Environment }, cluster: NamedCluster): Promise<string[]> {
  const days = context.config.certificates.renewBefore;
  const read = await Promise.all([
    ...cluster.controlPlane.map((node) => nodeCertificates(context, node, cluster.distribution, 'controlPlane')),
    ...(cluster.distribution === 'rke2' ? cluster.workers.map((node) => nodeCertificates(context, node, 'rke2', 'worker')) : []),
  ]);
  const now = new Date();
  for (const authority of expiringAuthorities(read.flat(), now, days)) context.log.warn(`${authority}: renewing the cluster's certificates does not renew a CA; plan its rotation`);
  return expiringCertificates(read.flat(), now, days);
}

const listed = (lines: readonly string[]) => `${lines.slice(0, shownCertificates).join('; ')}${lines.length > shownCertificates ? `; and ${lines.length - shownCertificates} more` : ''}`;

/**
 * Renews a cluster's certificates when one of its nodes holds one that expires within
 * certificates.renewBefore days (kubeadm's and RKE2's last a year; a cluster not upgraded in that time
 * stops answering). Its drift probe reads every node's certificates, so a run does nothing until then; run
 * it from cron (`tsx deploy.ts certificates`, monthly, as kubespray's timer does). The renewal goes one
 * node at a time so the API keeps answering: kubeadm `certs renew all` and a restart of the control
 * plane's static pods; RKE2 `rke2 certificate rotate` on each server, then each agent restarted. The
 * engine's admin kubeconfig is fetched again after.
 */
export const clusterCertificates = tasks.task({
  name: 'cluster-certificates',
  description: "Renew a cluster's certificates when one expires within certificates.renewBefore days, one node at a time",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyCluster,
  // The cluster is up, its workers (RKE2 agents restart) in it.
  deps: ({ cluster }, config): Dependency[] => [kubernetes.with({ cluster }), ...workersJoined(cluster, config)],
  estimate: '5m',
  sources: ['tasks/certificates/playbooks/renew-certificates.yml', 'tasks/kubernetes/playbooks/includes/admin-kubeconfig.yml', 'tasks/shared/playbooks/includes/rke2-node-ready.yml'],
  tools: ['ansible-playbook'],
  timeout: '1h',
  check: async (context) => {
    const soon = await expiring(context, clusterOf(context.config, context.inputs.cluster));
    return soon.length === 0 ? true : { drift: `certificates expire within ${context.config.certificates.renewBefore} days: ${listed(soon)}` };
  },
  run: async (context) => {
    const { config, inputs, root } = context;
    const cluster = clusterOf(config, inputs.cluster);
    // A first run (no stamp yet) renews nothing that is not due.
    if (!context.dryRun) {
      const soon = await expiring(context, cluster);
      if (soon.length === 0) return context.log.info(`every certificate of ${cluster.name} is valid for more than ${config.certificates.renewBefore} days: nothing to renew`);
      context.log.info(`renewing the certificates of ${cluster.name}: ${listed(soon)}`);
    }
    const ordered = await membersFirst(context, cluster);
    const nodes = { cluster, controlPlane: ordered.controlPlane.map(inventoryNode), workers: cluster.distribution === 'rke2' ? cluster.workers.map(inventoryNode) : [] };
    await playbook(context, 'tasks/certificates/playbooks/renew-certificates.yml', nodes, {
      become: true,
      extraVars: { cluster_group: clusterGroup(cluster.name), kubeconfig_path: kubeconfigPath(root, config, cluster.name) },
    });
    if (context.dryRun) return;
    const left = await expiring(context, cluster);
    if (left.length > 0) throw new Error(`certificates of ${cluster.name} still expire within ${config.certificates.renewBefore} days after their renewal: ${listed(left)}`);
  },
});

/** Every cluster's certificates renewed where one is due (cluster-certificates of each). */
export const certificates = tasks.task({
  name: 'certificates',
  description: "Renew every cluster's certificates where one expires within certificates.renewBefore days",
  // Every cluster the environment declares.
  deps: (_, config) => clustersOf(config).map(({ name }) => clusterCertificates.with({ cluster: name })),
});
