import { clusterGroup, clusterInput, everyCluster, playbook, tasks } from '../shared/kit.js';
import { clusterVms } from '../infrastructure/index.js';

/** Host preparation of one cluster's nodes, over Ansible. */
export const nodePrep = tasks.task({
  name: 'node-prep',
  description: "Prepare one cluster's nodes: packages, kernel settings, swap, registry mirrors",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyCluster,
  // The cluster's nodes exist and answer.
  deps: ({ cluster }) => [clusterVms.with({ cluster })],
  estimate: '5m',
  sources: ['tasks/node-prep/playbooks/node-prep.yml'],
  tools: ['ansible-playbook'],
  retries: 1,
  run: async (context) => {
    const { config, inputs } = context;
    await playbook(context, 'tasks/node-prep/playbooks/node-prep.yml', { cluster: inputs.cluster }, {
      extraVars: {
        cluster_name: inputs.cluster,
        cluster_group: clusterGroup(inputs.cluster),
        node_packages: config.packages.nodes,
        apply_host_changes: config.site.applyHostChanges,
      },
    });
  },
});
