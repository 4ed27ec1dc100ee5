import path from 'node:path';
import { sshExec } from '../../lib/tools/ssh.js';
import { tofuApply, tofuInit, tofuPlan, tofuWorkspace } from '../../lib/tools/tofu.js';
import { dns } from '../dns/index.js';
import { goldenImage } from '../golden-image/index.js';
import { clusterInput, clusterOf, everyCluster, proxmoxOf, secretValue, sshTarget, tasks } from '../shared/kit.js';

const terraformDirectory = 'tasks/infrastructure/terraform';

/**
 * The VMs of one cluster (the seed's phase 3): OpenTofu plan, then apply of exactly that plan, in the
 * cluster's own workspace. Where the nodes exist already (`infrastructure: 'existing'`), this checks that
 * every node answers over SSH instead.
 */
export const clusterVms = tasks.task({
  name: 'cluster-vms',
  description: "OpenTofu plan and apply of one cluster's VMs (or a reachability check of existing nodes)",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyCluster,
  // The VMs are clones of the golden image.
  deps: [goldenImage],
  // Their names resolve before their first boot (cloud-init, time and package mirrors by name); a record
  // added for another cluster changes nothing here, so DNS orders this step without re-running it.
  after: [dns],
  estimate: '5m',
  sources: [`${terraformDirectory}/main.tf`],
  pool: 'proxmox-api',
  timeout: '30m',
  run: async (context) => {
    const { config, inputs } = context;
    const cluster = clusterOf(config, inputs.cluster);
    const nodes = [...cluster.controlPlane, ...cluster.workers];
    if (config.infrastructure === 'existing') {
      for (const node of nodes) await sshExec(context, sshTarget(config, context.root, node), ['true'], { timeoutMs: 30_000 });
      return context.log.info(`${nodes.length} existing nodes of ${inputs.cluster} answer over SSH`);
    }
    const proxmox = proxmoxOf(config);
    const dir = path.resolve(context.root, terraformDirectory);
    const network = config.networks.find((entry) => entry.name === 'clusters') ?? config.networks[0];
    if (!network) throw new Error('environment has no network for the cluster VMs: add one named "clusters" under networks');
    const vars = {
      proxmox_endpoint: proxmox.apiUrl.replace(/\/api2\/json$/, ''),
      proxmox_api_token: `${proxmox.tokenId}=${secretValue(context, proxmox.token)}`,
      template_vm_id: proxmox.templates.goldenVmId,
      storage: proxmox.storage.pool,
      gateway: network.gateway,
      prefix_length: Number(network.cidr.split('/')[1]),
      nodes: nodes.map((node, index) => ({
        name: node.name,
        address: node.address,
        vm_id: node.vmId,
        cores: node.cores,
        memory: node.memoryMiB,
        disk: node.diskGiB,
        node_name: proxmox.nodes[index % proxmox.nodes.length]!.name,
      })),
    };
    // State and plans live with the environment's state, one workspace per cluster, never in the repository.
    const stateDirectory = path.join(context.root, '.cache', 'state', config.name, 'tofu');
    const options = { dir, workspace: inputs.cluster, lockTimeout: '5m' };
    await tofuInit(context, { dir, backendConfig: { path: path.join(stateDirectory, 'terraform.tfstate'), workspace_dir: path.join(stateDirectory, 'workspaces') } });
    await tofuWorkspace(context, { dir, name: inputs.cluster });
    const plan = await tofuPlan(context, { ...options, vars, out: path.join(stateDirectory, `${inputs.cluster}.tfplan`) });
    if (plan.changed) await tofuApply(context, { ...options, planFile: plan.planFile });
    else context.log.info('no changes');
  },
});
