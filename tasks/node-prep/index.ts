import { hostname } from '../../environments/schema.js';
import { kernelProtectionSysctls } from '../../environments/kubelet-settings.js';
import { dns } from '../dns/index.js';
import { clusterVms } from '../infrastructure/index.js';
import { batchNodes, clusterGroup, everyNode, nodeCluster, nodesOf, nodesPlaybook, tasks } from '../shared/kit.js';
import { proxyEnvironment } from '../shared/site-proxy.js';
import { aptMirrorVars } from '../shared/apt-mirrors.js';

/**
 * Host preparation of one node, over Ansible: one instance per node, so that a node added to a cluster is
 * prepared alone and the others are not touched (kubespray's scale.yml with --limit, as a graph). The
 * nodes of one cluster that are to be prepared at the same time run as one playbook (`batch`).
 */
export const nodePrep = tasks.task({
  name: 'node-prep',
  description: "Prepare one node: the site's DNS and proxy, packages, kernel settings, swap, registry mirrors",
  supportsDryRun: true,
  inputs: { node: hostname },
  instances: everyNode,
  // Its VM exists and answers. Ordering only: a VM added beside it re-plans the cluster's VMs, and must not
  // re-prepare this node (which re-runs when its own configuration changes: it reads it).
  // And it resolves through the site's DNS, which then serves the zone (ordering only too: a record added
  // for another node changes nothing here).
  after: ({ node }, config) => [...nodesOf(config).filter((entry) => entry.node === node).map((entry) => clusterVms.with({ cluster: entry.cluster })), dns],
  batch: nodeCluster,
  estimate: '5m',
  sources: ['tasks/node-prep/playbooks/node-prep.yml', 'tasks/shared/playbooks/includes/package-manager-ready.yml', 'tasks/shared/playbooks/includes/package-lists.yml', 'tasks/shared/playbooks/includes/apt-mirrors.yml', 'tasks/node-prep/playbooks/includes/site-resolver.yml', 'tasks/node-prep/playbooks/includes/node-preflight.yml', 'tasks/node-prep/playbooks/includes/site-proxy.yml', 'tasks/shared/playbooks/includes/time-sync.yml'],
  tools: ['ansible-playbook'],
  retries: 1,
  run: async (context) => {
    const { config } = context;
    const { members, cluster, controlPlane, workers } = batchNodes(context.batch);
    await nodesPlaybook(context, 'tasks/node-prep/playbooks/node-prep.yml', { cluster, controlPlane, workers }, members, {
      extraVars: {
        cluster_group: clusterGroup(cluster.name),
        node_packages: config.packages.nodes,
        kernel_wide_settings: config.site.kernelWideSettings,
        protect_kernel_defaults: cluster.kubelet.protectKernelDefaults,
        kernel_protection_sysctls: kernelProtectionSysctls,
        ntp_servers: config.site.ntpServers,
        dns_servers: config.dns.servers.map((server) => server.address),
        dns_zone: config.dns.zone,
        proxy_environment: proxyEnvironment(context, cluster),
        ...aptMirrorVars(config, context.root),
      },
    });
  },
});
