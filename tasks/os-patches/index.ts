import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import type { Dependency } from '../../lib/dsl/task.js';
import { sshExec } from '../../lib/tools/ssh.js';
import { kubernetes, upgrade, workersJoined } from '../kubernetes/index.js';
import type { ToolContext } from '../../lib/tools/command.js';
import type { Environment } from '../../environments/schema.js';
import { packages } from '../base/index.js';
import { clusterGroup, drainPolicy, inventoryNode, clusterInput, clusterOf, clustersOf, everyCluster, membersFirst, playbook, rollWidth, sshTarget, tasks, type Endpoint } from '../shared/kit.js';

/** The packages `apt-get --simulate upgrade` would upgrade, from its `Inst <package> [...]` lines. */
export function pendingUpgrades(simulation: string): string[] {
  return simulation.split('\n').flatMap((line) => (line.startsWith('Inst ') ? [line.split(' ')[1]!] : []));
}

/**
 * How long a machine's package lock is waited for, as the playbooks' apt tasks wait for it (lock_timeout:
 * 900): a fresh VM's first boot holds it for minutes (apt-daily, unattended-upgrades).
 */
const packageLockWaitMs = 900_000;

/**
 * `apt-get update` on a machine, tried again every 10 s while another apt holds the package lists' lock
 * (apt itself gives up at once there), up to packageLockWaitMs. Any other failure is the command's own, a
 * source that cannot be read among them (apt would only warn, and the probe find nothing pending from lists
 * it did not refresh), as the playbooks' package-lists.yml has it.
 */
async function refreshPackageLists(context: ToolContext, target: ReturnType<typeof sshTarget>): Promise<void> {
  const update = ['apt-get', '--quiet', '--quiet', '-o', 'APT::Update::Error-Mode=any', 'update'];
  const deadline = Date.now() + packageLockWaitMs;
  for (;;) {
    const refresh = await sshExec(context, target, update, { asRoot: true, timeoutMs: 300_000, okExitCodes: [100] });
    if (refresh.exitCode === 0) return;
    if (!refresh.stderr.includes('Could not get lock') || Date.now() > deadline) break;
    await sleep(10_000, undefined, { signal: context.signal });
  }
  // Failed for another reason, or the lock was never free: once more, to fail as a command fails.
  await sshExec(context, target, update, { asRoot: true, timeoutMs: 300_000 });
}

/**
 * The drift probe of a patch roll: each machine, ten at a time (as Ansible's forks would), refreshes its
 * package lists from its own sources (waiting for their lock) and says what `apt-get upgrade` would
 * upgrade; up to date when none has anything, else the drift names each machine with its count and first
 * packages.
 */
async function patchesPending(context: ToolContext & { readonly config: Environment; readonly root: string }, machines: readonly (Endpoint & { readonly name: string; readonly fullUpgrade?: boolean })[]): Promise<true | { drift: string }> {
  const limit = pLimit(10);
  const perMachine = await Promise.all(
    machines.map((machine) =>
      limit(async () => {
        const target = sshTarget(context.config, context.root, machine);
        await refreshPackageLists(context, target);
        const upgrades = pendingUpgrades((await sshExec(context, target, ['apt-get', '--simulate', '--quiet', machine.fullUpgrade ? 'dist-upgrade' : 'upgrade'], { asRoot: true, timeoutMs: 120_000 })).stdout);
        return upgrades.length === 0 ? [] : [`${machine.name}: ${upgrades.length} to upgrade (${upgrades.slice(0, 5).join(', ')}${upgrades.length > 5 ? ', ...' : ''})`];
      }),
    ),
  );
  const pending = perMachine.flat();
  return pending.length === 0 ? true : { drift: `patches pending on ${pending.join('; ')}` };
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
  sources: ['tasks/os-patches/playbooks/os-patches.yml', 'tasks/shared/playbooks/includes/package-manager-ready.yml', 'tasks/shared/playbooks/includes/package-lists.yml', 'tasks/os-patches/playbooks/includes/patch-node.yml', 'tasks/shared/playbooks/includes/drain-node.yml', 'tasks/shared/playbooks/includes/return-node.yml', 'tasks/shared/playbooks/includes/return-drained-nodes.yml', 'tasks/shared/playbooks/includes/cluster-kubectl.yml'],
  tools: ['ansible-playbook'],
  timeout: '6h',
  check: async (context) => {
    const cluster = clusterOf(context.config, context.inputs.cluster);
    return patchesPending(context, [...cluster.controlPlane, ...cluster.workers]);
  },
  run: async (context) => {
    const { config, inputs } = context;
    const cluster = clusterOf(config, inputs.cluster);
    // The nodes are drained through the first control-plane node: one that is in the cluster.
    const everyNode = { cluster, controlPlane: (await membersFirst(context, cluster)).controlPlane.map(inventoryNode), workers: cluster.workers.map(inventoryNode) };
    await playbook(context, 'tasks/os-patches/playbooks/os-patches.yml', everyNode, { become: true, extraVars: { cluster_group: clusterGroup(cluster.name), workers_at_once: rollWidth(config, cluster.name), drain: drainPolicy(config, cluster.name) } });
  },
});

const addressesOf = (machines: readonly Endpoint[]) => new Set(machines.map((machine) => machine.address));

/**
 * Security patches of the site's KVM management hosts, one host at a time: the pending apt upgrades (a
 * full upgrade on a Proxmox node, as Proxmox VE's own updates need), a reboot when they ask for one (never of a Proxmox node, whose cluster VMs would stop undrained: the run
 * names it), and a DNS server answering again before the next host. Run when asked
 * (`tsx deploy.ts management-patches`), or with every cluster's by `security-patches`; its drift probe asks
 * every host, so a re-run with nothing pending does nothing.
 */
export const managementPatches = tasks.task({
  name: 'management-patches',
  description: "Apply the operating system's pending updates to the management hosts, one host at a time",
  supportsDryRun: true,
  // The hosts are set up: logged in to with the operator's key, their packages in.
  deps: [packages],
  estimate: '10m',
  sources: ['tasks/os-patches/playbooks/management-patches.yml', 'tasks/shared/playbooks/includes/package-manager-ready.yml'],
  tools: ['ansible-playbook'],
  timeout: '6h',
  check: async (context) => {
    const proxmoxNodes = addressesOf(context.config.proxmox?.nodes ?? []);
    return patchesPending(context, context.config.managementHosts.map((host) => ({ ...host, fullUpgrade: proxmoxNodes.has(host.address) })));
  },
  run: async (context) => {
    const { config } = context;
    const proxmoxNodes = addressesOf(config.proxmox?.nodes ?? []);
    const dnsServers = addressesOf(config.dns.servers);
    await playbook(context, 'tasks/os-patches/playbooks/management-patches.yml', { hosts: 'management' }, {
      become: true,
      extraVars: {
        proxmox_hosts: config.managementHosts.filter((host) => proxmoxNodes.has(host.address)).map((host) => host.name),
        dns_hosts: config.managementHosts.filter((host) => dnsServers.has(host.address)).map((host) => host.name),
      },
    });
  },
});

/** The whole site's OS patches: each cluster rolls its own nodes, the management hosts roll theirs, side by side. */
export const securityPatches = tasks.task({
  name: 'security-patches',
  description: "Apply the operating system's pending updates to every cluster's nodes and the management hosts",
  // Every cluster the environment declares, and the management hosts.
  deps: (_, config) => [...clustersOf(config).map(({ name }) => osPatches.with({ cluster: name })), managementPatches],
});
