import { existsSync, rmSync } from 'node:fs';
import type { TaskId } from '../../lib/dsl/ids.js';
import { instanceId, parseInstanceId } from '../../lib/dsl/instance-id.js';
import type { DeployedState } from '../../lib/dsl/task.js';
import { kubectlDelete } from '../../lib/tools/kubernetes.js';
import { tofuWorkspaceDelete } from '../../lib/tools/tofu.js';
import { clusterName, type Environment } from '../../environments/schema.js';
import { dns } from '../dns/index.js';
import { applyClusterVms, clusterVmsBackend } from '../infrastructure/index.js';
import { clusterTokenPath, clustersOf, keptNodeNames, kubeconfigPath, managementCluster, tasks } from '../shared/kit.js';

/** Clusters this environment deployed (their VM step has a stamp) and no longer declares. */
function undeclaredClusters(config: Environment, deployed: DeployedState): string[] {
  const declared = new Set(clustersOf(config).map((cluster) => cluster.name));
  const deployedClusters = deployed.stampedInputs('cluster-vms').map((inputs) => inputs.cluster);
  return [...new Set(deployedClusters.filter((cluster): cluster is string => typeof cluster === 'string' && !declared.has(cluster)))].sort();
}

/** Every stamp a cluster left: its per-cluster steps, its nodes' steps (the nodes its VM step last saw). */
function stampsOf(cluster: string, deployed: DeployedState): TaskId[] {
  const nodes = new Set(keptNodeNames(deployed, instanceId('cluster-vms', { cluster }), cluster));
  return deployed.stamped().filter((id) => {
    const inputs = parseInstanceId(id)?.inputs ?? {};
    return inputs.cluster === cluster || inputs.name === cluster || (typeof inputs.node === 'string' && nodes.has(inputs.node));
  });
}

/**
 * A cluster taken out of the environment, taken down: its VMs destroyed with OpenTofu in its own workspace
 * (which is then deleted), its registration Secret removed from MCM, its kubeconfig and join token deleted,
 * and every stamp it left forgotten; its DNS records go with the zone, which no longer has them. A run asks
 * first, unless --yes. Its instances are the clusters the state has and the environment does not.
 */
export const decommission = tasks.task({
  name: 'decommission',
  description: 'Take down a cluster the environment no longer declares: VMs, DNS records, registration, kubeconfig, stamps',
  supportsDryRun: true,
  inputs: { cluster: clusterName },
  instances: (config, deployed) => undeclaredClusters(config, deployed).map((cluster) => ({ cluster })),
  destroys: 'always',
  // And its own stamp: once done, the cluster is no longer an instance.
  retires: ({ cluster }, _config, deployed) => [...stampsOf(cluster, deployed), instanceId('decommission', { cluster })],
  // The zone is rewritten without the cluster's names.
  deps: [dns],
  estimate: '5m',
  tools: ['kubectl'],
  pool: 'proxmox-api',
  timeout: '30m',
  run: async (context) => {
    const { config, inputs, root } = context;
    const management = kubeconfigPath(root, config, managementCluster(config).name);
    // Its registration with MCM, where MCM was deployed.
    if (existsSync(management)) await kubectlDelete(context, { kubeconfig: management, namespace: 'openspace-clusters', kind: 'secret', name: `${inputs.cluster}-kubeconfig` });
    if (config.infrastructure === 'proxmox') {
      await applyClusterVms(context, inputs.cluster, []);
      await tofuWorkspaceDelete(context, { ...(await clusterVmsBackend(context)), name: inputs.cluster });
    } else {
      context.log.info(`the nodes of ${inputs.cluster} exist outside Onboarder (infrastructure: 'existing'): they are left running`);
    }
    if (!context.dryRun) {
      rmSync(kubeconfigPath(root, config, inputs.cluster), { force: true });
      rmSync(clusterTokenPath(root, config, inputs.cluster), { force: true });
    }
  },
});
