import pLimit from 'p-limit';
import type { Dependency } from '../../lib/dsl/task.js';
import { sshExec } from '../../lib/tools/ssh.js';
import { kubernetes, upgrade, workersJoined } from '../kubernetes/index.js';
import { clusterGroup, clusterInput, clusterOf, clustersOf, everyCluster, membersFirst, playbook, rollWidth, sshTarget, tasks } from '../shared/kit.js';

/** The packages `apt-get --simulate upgrade` would upgrade, from its `Inst <package> [...]` lines. */
export function pendingUpgrades(simulation: string): string[] {
  return simulation.split('\n').flatMap((line) => (line.startsWith('Inst ') ? [line.split(' ')[1]!] : []));
}

/**
 * Security patches of the operating system on one cluster's nodes, rolled as the upgrade step rolls them
 * (control planes one at a time, then the cluster's workersAtOnce): cordon, drain, the pending apt
 * upgrades, a reboot when they ask for one, Ready, uncordon.
 * Run when asked (`tsx deploy.ts 'os-patches[cluster=osdc-a]'`), not by the cluster's target. Its drift
 * probe asks every node what it would upgrade from its own sources, so a re-run rolls only when some node
 * has a patch pending, and the plan names them.
 */
export const osPatches = tasks.task({
  name: 'os-patches',
  description: "Apply the operating system's pending updates to a cluster's nodes, one node at a time",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyCluster,
  // The cluster is up: a node is drained through its API before it is patched.
  deps: ({ cluster }): Dependency[] => [kubernetes.with({ cluster })],
  // Every worker is in the cluster, so each is drained and patched in its turn; never during a version roll.
  after: ({ cluster }, config): Dependency[] => [
    ...workersJoined(cluster, config),
    upgrade.with({ cluster }),
  ],
  estimate: '10m',
  sources: ['tasks/os-patches/playbooks/os-patches.yml', 'tasks/os-patches/playbooks/includes/patch-node.yml', 'tasks/shared/playbooks/includes/drain-node.yml', 'tasks/shared/playbooks/includes/return-node.yml', 'tasks/shared/playbooks/includes/return-drained-nodes.yml', 'tasks/shared/playbooks/includes/cluster-kubectl.yml'],
  tools: ['ansible-playbook'],
  timeout: '6h',
  check: async (context) => {
    const { config, inputs, root } = context;
    const cluster = clusterOf(config, inputs.cluster);
    // Ten nodes at a time, as Ansible's forks would: each refreshes its package lists first.
    const limit = pLimit(10);
    const perNode = await Promise.all(
      [...cluster.controlPlane, ...cluster.workers].map((node) =>
        limit(async () => {
          const target = sshTarget(config, root, node);
          const sudo = target.user !== 'root';
          await sshExec(context, target, ['apt-get', '--quiet', '--quiet', 'update'], { sudo, timeoutMs: 300_000 });
          const upgrades = pendingUpgrades((await sshExec(context, target, ['apt-get', '--simulate', '--quiet', 'upgrade'], { sudo, timeoutMs: 120_000 })).stdout);
          return upgrades.length === 0 ? [] : [`${node.name}: ${upgrades.length} to upgrade (${upgrades.slice(0, 5).join(', ')}${upgrades.length > 5 ? ', ...' : ''})`];
        }),
      ),
    );
    const pending = perNode.flat();
    return pending.length === 0 ? true : { drift: `patches pending on ${pending.join('; ')}` };
  },
  run: async (context) => {
    const { config, inputs } = context;
    const cluster = clusterOf(config, inputs.cluster);
    // The nodes are drained through the first control-plane node: one that is in the cluster.
    const everyNode = { cluster, controlPlane: (await membersFirst(context, cluster)).controlPlane.map((node) => ({ ...node })), workers: cluster.workers.map((node) => ({ ...node })) };
    await playbook(context, 'tasks/os-patches/playbooks/os-patches.yml', everyNode, { become: true, extraVars: { cluster_group: clusterGroup(cluster.name), workers_at_once: rollWidth(config, cluster.name) } });
  },
});

/** Every cluster's OS patches: each cluster rolls its own nodes one at a time, the clusters side by side. */
export const securityPatches = tasks.task({
  name: 'security-patches',
  description: "Apply the operating system's pending updates to every cluster's nodes (os-patches of each)",
  // Every cluster the environment declares.
  deps: (_, config) => clustersOf(config).map(({ name }) => osPatches.with({ cluster: name })),
});
