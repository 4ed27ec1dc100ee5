import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TaskId } from '../../lib/dsl/ids.js';
import { instanceId } from '../../lib/dsl/instance-id.js';
import type { DeployedState } from '../../lib/dsl/task.js';
import type { ToolContext } from '../../lib/tools/command.js';
import { kubectlAnnotateNode, kubectlDelete, kubectlDrain, kubectlNodes, kubectlUncordon, kubectlWaitLeaseRenewed, kubectlWaitReady, type DrainPolicy, type ListedNode } from '../../lib/tools/kubernetes.js';
import { pinHostKey } from '../../lib/tools/known-hosts.js';
import { sshExec } from '../../lib/tools/ssh.js';
import { pgBackendConnection, tofuAdoptState, tofuApply, tofuInit, tofuModuleWithBackend, tofuImport, tofuPlan, tofuPlannedChanges, tofuProviderMirror, tofuStateList, tofuWorkspace, type PlannedCreation, type PlannedDeletion } from '../../lib/tools/tofu.js';
import { CommandFailure, PermanentFailure } from '../../lib/dsl/command-failure.js';
import { tofuProxmoxProvider, tofuProxmoxProviderFile } from '../../images/manifest.js';
import { fetched } from '../images/index.js';
import type { Environment } from '../../environments/schema.js';
import { dns } from '../dns/index.js';
import { goldenImage } from '../golden-image/index.js';
import { etcdRelease } from '../backups/etcd-release.js';
import { allFinished, clusterGroup, drainPolicy, inventoryNode, clusterInput, clusterOf, everyCluster, keptNodeNames, kubeconfigPath, membersFirst, operatorPublicKey, playbook, proxmoxHostOf, proxmoxNodeOf, proxmoxOf, rollWidth, secretValue, sshTarget, tasks, vmNetworkSettings, withoutProxmox, type ClusterNode, type NamedCluster } from '../shared/kit.js';

const terraformDirectory = 'tasks/infrastructure/terraform';

/** The cluster VMs' OpenTofu variables: the site's Proxmox, network and DNS, and every VM the cluster has. */
function clusterVmsVariables(context: ToolContext & { readonly config: Environment }, nodes: readonly ClusterNode[]): Record<string, unknown> {
  const { config } = context;
  const proxmox = proxmoxOf(config);
  return {
    proxmox_endpoint: proxmox.apiUrl.replace(/\/api2\/json$/, ''),
    proxmox_api_token: `${proxmox.tokenId}=${secretValue(context, proxmox.token)}`,
    template_vm_id: proxmox.templates.goldenVmId,
    storage: proxmox.storage.pool,
    bridge: proxmox.vmBridge.name,
    dns_servers: config.dns.servers.map((server) => server.address),
    dns_domain: config.dns.zone,
    ssh_user: config.ssh.user,
    ssh_keys: [operatorPublicKey(context)],
    nodes: nodes.map((node) => ({
      name: node.name,
      address: node.address,
      vm_id: node.vmId,
      cores: node.cores,
      memory: node.memoryMiB,
      disk: node.diskGiB,
      node_name: proxmoxNodeOf(config, node),
      ...vmNetworkSettings(config, node.address),
    })),
  };
}

/**
 * The VMs' module initialised and the cluster's own workspace selected (on a site that moved its state to
 * PostgreSQL, the cluster's VMs brought along on its next run): the options its commands then take.
 */
async function clusterVmsWorkspace(context: ToolContext & { readonly config: Environment }, cluster: string): Promise<Omit<Awaited<ReturnType<typeof clusterVmsBackend>>, 'postgres'> & { readonly workspace: string; readonly lockTimeout: string }> {
  const { config } = context;
  const stateDirectory = tofuStateDirectory(environmentStateDirectory(context.root, config));
  const { postgres, ...backend } = await clusterVmsBackend(context);
  const options = { ...backend, workspace: cluster, lockTimeout: '5m' };
  await tofuInit(context, {
    ...backend,
    // The provider's version moves with the catalog (main.tf pins it exactly, the mirror holds that package
    // alone): -upgrade lets init take it in place of the one an older .terraform.lock.hcl recorded.
    upgrade: true,
    backendConfig: postgres ? { schema_name: tofuSchema(config.name) } : { path: path.join(stateDirectory, 'terraform.tfstate'), workspace_dir: path.join(stateDirectory, 'workspaces') },
  });
  await tofuWorkspace(context, { ...backend, name: cluster });
  if (postgres) await tofuAdoptState(context, options, path.join(stateDirectory, 'workspaces', cluster, 'terraform.tfstate'));
  return options;
}

/**
 * OpenTofu plan, then apply of exactly that plan, of one cluster's VMs in the cluster's own workspace:
 * `nodes` is every VM the cluster has (none takes them all down). Each VM stays on one Proxmox node (its VM
 * id decides), so that a node added or removed never moves another.
 */
export async function applyClusterVms(context: ToolContext & { readonly config: Environment }, cluster: string, nodes: readonly ClusterNode[]): Promise<void> {
  const { config } = context;
  const options = await clusterVmsWorkspace(context, cluster);
  const plan = await tofuPlan(context, { ...options, vars: clusterVmsVariables(context, nodes), out: path.join(tofuStateDirectory(environmentStateDirectory(context.root, config)), `${cluster}.tfplan`) });
  if (!plan.changed) return context.log.info('no changes');
  if (!context.dryRun) {
    const changes = await tofuPlannedChanges(context, options, plan.planFile);
    refuseReplacedVms(cluster, nodes, changes.deletions);
    refuseTakenVmIds(clusterOf(config, cluster), changes.creations, await proxmoxGuests(context));
  }
  await tofuApply(context, { ...options, planFile: plan.planFile });
}

/** A VM's address in the cluster VMs' module (main.tf's `proxmox_virtual_environment_vm.node`, one per node name). */
const vmAddress = (node: string) => `proxmox_virtual_environment_vm.node[${JSON.stringify(node)}]`;

/** A guest (VM or container) as Proxmox's cluster resources list it: they share one space of ids. */
export interface ProxmoxGuest {
  readonly vmid: number;
  readonly name?: string;
  readonly node?: string;
  readonly type?: string;
}

/** Every guest of the Proxmox cluster, asked on one of its nodes over its verified SSH (`pvesh get /cluster/resources`). */
async function proxmoxGuests(context: ToolContext & { readonly config: Environment }): Promise<ProxmoxGuest[]> {
  const host = proxmoxOf(context.config).nodes[0]!;
  const answer = await sshExec(context, sshTarget(context.config, context.root, host), ['pvesh', 'get', '/cluster/resources', '--type', 'vm', '--output-format', 'json'], { timeoutMs: 60_000 });
  if (context.dryRun) return [];
  try {
    const listed = JSON.parse(answer.stdout) as unknown;
    if (Array.isArray(listed)) return listed.filter((entry): entry is ProxmoxGuest => typeof (entry as { vmid?: unknown } | null)?.vmid === 'number');
  } catch {
    // Said below.
  }
  throw new Error(`pvesh get /cluster/resources on ${host.name} answered '${answer.stdout.trim().slice(0, 120)}', not a JSON list of guests`);
}

/**
 * A plan that would make a VM under an id Proxmox has given to another guest (a VM or container that this
 * cluster's OpenTofu state does not hold) is refused before anything is applied: Proxmox would refuse that
 * clone part way through the apply, after tofu made the others. Each is named with what holds its id and
 * where the environment sets it. One that has the node's own name is the node's VM with its state lost.
 */
export function refuseTakenVmIds(cluster: NamedCluster, creations: readonly PlannedCreation[], guests: readonly ProxmoxGuest[]): void {
  const byId = new Map(guests.map((guest) => [guest.vmid, guest]));
  const taken = creations.flatMap((creation) => {
    const guest = creation.type === 'proxmox_virtual_environment_vm' ? byId.get(Number(creation.values.vm_id)) : undefined;
    return guest ? [{ node: String(creation.key ?? creation.address), guest }] : [];
  });
  if (taken.length === 0) return;
  const setting = (node: string) => {
    const index = cluster.controlPlane.findIndex((each) => each.name === node);
    return index >= 0 ? `clusters.${cluster.name}.controlPlane[${index}].vmId` : `clusters.${cluster.name}.workers[${cluster.workers.findIndex((each) => each.name === node)}].vmId`;
  };
  const described = taken.map(({ node, guest }) => {
    const holder = `${guest.type === 'lxc' ? 'container' : 'VM'} ${guest.name ? `'${guest.name}'` : 'without a name'} on ${guest.node ?? 'an unnamed node'}`;
    return `${node}'s id ${guest.vmid} (${setting(node)}) is held by the ${holder}${guest.name === node ? ", its own name: the cluster's OpenTofu state does not hold it (lost or moved)" : ''}`;
  });
  throw new PermanentFailure(
    `the plan for cluster ${cluster.name} makes VMs under ids Proxmox has given already: ${described.join('; ')}; nothing was applied: give each node a free vmId, remove a leftover guest from Proxmox, or take a node's own VM back into the state with tsx deploy.ts 'vm-adopt[cluster=${cluster.name}]'`,
  );
}

/**
 * A plan that would re-create the VM of a node the environment still has is refused before anything is
 * applied: the new VM would start from the golden image, the node's disk and what it held gone, and tofu
 * would do it to every such VM at once. What forces it is a change the provider cannot make in place: the
 * Proxmox node it runs on (a Proxmox node added or taken out moves the VMs whose place their id decides, or
 * the VM was migrated by hand), its VM id. A node taken out of the environment (its VM destroyed) is asked
 * about before the run (`destroys: 'removed'`).
 */
export function refuseReplacedVms(cluster: string, nodes: readonly ClusterNode[], deletions: readonly PlannedDeletion[]): void {
  const replaced = deletions.filter((each) => each.replaced && nodes.some((node) => node.name === each.key));
  if (replaced.length === 0) return;
  const named = replaced.map((each) => `${String(each.key)} (${each.because.join(', ') || 'replaced'})`).join(', ');
  throw new PermanentFailure(
    `the plan for cluster ${cluster} re-creates the VMs of ${named}, which would lose their disks; nothing was applied: keep each where it runs (its proxmoxNode in the environment, or its vmId as it was), or re-create one on purpose by taking its node out of the environment, running, and adding it back`,
  );
}

/**
 * Where the VMs' plans live (and their state, on a file state): in the environment's state directory
 * (`.cache/state/<env>`), never in the repository.
 */
export function tofuStateDirectory(environmentStateDirectory: string): string {
  return path.join(environmentStateDirectory, 'tofu');
}

function environmentStateDirectory(root: string, config: Environment): string {
  return path.join(root, '.cache', 'state', config.name);
}

/**
 * The configuration directory the cluster VMs' tofu runs in, and its environment: the module as it is (a
 * local state beside the environment's), or, when the environment's state is in PostgreSQL, a copy with
 * tofu's pg backend (its own schema and locking, so the team shares it), the connection string in
 * PG_CONN_STR, never on a command line; in both, the CLI configuration that installs the Proxmox provider
 * from its verified package alone (TF_CLI_CONFIG_FILE).
 */
export async function clusterVmsBackend(context: ToolContext & { readonly config: Environment }): Promise<{ readonly dir: string; readonly env: Readonly<Record<string, string>>; readonly postgres: boolean }> {
  const { config } = context;
  const stateDirectory = tofuStateDirectory(environmentStateDirectory(context.root, config));
  // The Proxmox provider from the package images:fetch verified, on every site (cluster-vms depends on it).
  const providers = await tofuProviderMirror(context, path.join(stateDirectory, 'providers'), [{ source: tofuProxmoxProvider.source, file: path.resolve(context.root, tofuProxmoxProviderFile) }]);
  const dir = path.resolve(context.root, terraformDirectory);
  if (config.state.store !== 'postgres') return { dir, env: providers, postgres: false };
  const moduleDirectory = await tofuModuleWithBackend(context, dir, path.join(stateDirectory, 'pg-module'), 'pg');
  return { dir: moduleDirectory, env: { ...providers, PG_CONN_STR: pgBackendConnection(secretValue(context, config.state.url)) }, postgres: true };
}

/** The schema tofu's pg backend keeps an environment's VM state in: one per environment, beside Onboarder's tables. */
export function tofuSchema(environment: string): string {
  return `onboarder_tofu_${environment.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
}

/**
 * Takes out of a running cluster the nodes its API lists that the environment no longer declares, as
 * kubespray's remove-node does, before their VMs go. Nothing to do before the cluster is up.
 */
async function removeUndeclaredNodes(context: ToolContext & { readonly config: Environment }, cluster: NamedCluster): Promise<void> {
  const kubeconfig = kubeconfigPath(context.root, context.config, cluster.name);
  if (!existsSync(kubeconfig)) return;
  const declared = new Set([...cluster.controlPlane, ...cluster.workers].map((node) => node.name));
  for (const node of (await kubectlNodes(context, { kubeconfig })).filter((listed) => !declared.has(listed.name))) await removeNode(context, cluster, node, kubeconfig);
}

/**
 * One node out of its cluster:
 * 1. drained, where it is Ready (a node that is not has no kubelet to evict its pods: they go with it);
 * 2. a kubeadm control-plane node's etcd member removed, on a control-plane node still in the cluster
 *    (RKE2 removes the member itself when its node is deleted);
 * 3. its Node deleted;
 * 4. the machine reset where it answers over SSH (kubeadm reset, or RKE2's uninstall), so that its kubelet
 *    does not register it again (a machine that does not answer is said to need it before it comes back);
 * 5. its Node deleted again, should its kubelet have registered it between 3 and 4.
 */
async function removeNode(context: ToolContext & { readonly config: Environment }, cluster: NamedCluster, node: ListedNode, kubeconfig: string): Promise<void> {
  const { config, root } = context;
  context.log.info(`${node.name} is no longer declared in cluster ${cluster.name}: taking it out${node.controlPlane ? ' (a control-plane node)' : ''}`);
  if (node.ready) await kubectlDrain(context, { kubeconfig, node: node.name, policy: drainPolicy(config, cluster.name) });
  else context.log.warn(`${node.name} is not Ready: not drained (its kubelet cannot evict its pods; they are deleted with its Node)`);
  if (node.controlPlane && cluster.distribution === 'kubeadm') {
    const etcd = context.dryRun ? undefined : etcdRelease(root, config.versions.kubernetes);
    const remaining = (await membersFirst(context, cluster)).controlPlane.slice(0, 1).map(inventoryNode);
    await playbook(context, 'tasks/infrastructure/playbooks/remove-etcd-member.yml', { cluster, controlPlane: remaining, workers: [] }, {
      become: true,
      extraVars: {
        cluster_group: clusterGroup(cluster.name),
        member_name: node.name,
        member_address: node.address ?? '',
        ...(etcd ? { etcd_version: etcd.version, etcd_release: etcd.release, etcd_release_directory: etcd.directory } : {}),
      },
    });
  }
  await kubectlDelete(context, { kubeconfig, kind: 'node', name: node.name });
  const machine = node.address ? { name: node.name, address: node.address } : undefined;
  const unreachable = machine ? await unanswered(context, machine.address) : 'its Node has no InternalIP';
  if (machine && unreachable === undefined) {
    await playbook(context, 'tasks/infrastructure/playbooks/reset-node.yml', { cluster, controlPlane: [], workers: [machine] }, { become: true, extraVars: { cluster_group: clusterGroup(cluster.name) } });
    await kubectlDelete(context, { kubeconfig, kind: 'node', name: node.name });
  } else {
    const reset = cluster.distribution === 'kubeadm' ? 'kubeadm reset --force' : 'rke2-uninstall.sh';
    context.log.warn(`${node.name} was not reset (${unreachable}): should the machine come back, run ${reset} on it before it does`);
  }
}

/** Why a machine does not answer over SSH with the environment's key and known hosts, or undefined when it does. */
async function unanswered(context: ToolContext & { readonly config: Environment }, address: string): Promise<string | undefined> {
  if (context.dryRun) return undefined;
  try {
    await sshExec(context, sshTarget(context.config, context.root, { address }), ['true'], { timeoutMs: 30_000 });
    return undefined;
  } catch (error) {
    return `no answer over SSH at ${address}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  }
}

/** The stamps of the node steps of nodes a cluster had (kept in this step's stamp) and no longer declares. */
function removedNodeSteps(config: Environment, cluster: string, deployed: DeployedState): TaskId[] {
  const id = instanceId('cluster-vms', { cluster });
  const declared = new Set([...clusterOf(config, cluster).controlPlane, ...clusterOf(config, cluster).workers].map((node) => node.name));
  const removed = keptNodeNames(deployed, id, cluster).filter((name) => !declared.has(name));
  const stamped = new Set(deployed.stamped());
  return removed.flatMap((node) => ['node-prep', 'node-join'].map((task) => instanceId(task, { node }))).filter((step) => stamped.has(step));
}

/**
 * The VMs of one cluster (the seed's phase 3): OpenTofu plan, then apply of exactly that plan, in the
 * cluster's own workspace. Where the nodes exist already (`infrastructure: 'existing'`), this checks that
 * every node answers over SSH instead. A worker taken out of the environment is drained and deleted from
 * its cluster first, then its VM destroyed: the run asks before (`destroys: 'removed'`), unless --yes.
 */
export const clusterVms = tasks.task({
  name: 'cluster-vms',
  description: "OpenTofu plan and apply of one cluster's VMs, then each VM with pending changes restarted in turn (or a reachability check of existing nodes)",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyCluster,
  // The VMs are clones of the golden image. (Taking a kubeadm control-plane node out uses etcd's release,
  // which the cluster's upgrade step, part of every cluster's target, has fetched.)
  deps: (_inputs, config) => [goldenImage, ...fetched(config, ['tofu-provider-proxmox'])],
  // Their names resolve before their first boot (cloud-init, time and package mirrors by name); a record
  // added for another cluster changes nothing here, so DNS orders this step without re-running it.
  after: [dns],
  destroys: 'removed',
  // A node taken out: its preparation and join are done with once it is out of the cluster.
  retires: ({ cluster }, config, deployed) => removedNodeSteps(config, cluster, deployed),
  estimate: '5m',
  sources: [`${terraformDirectory}/main.tf`, 'tasks/infrastructure/playbooks/remove-etcd-member.yml', 'tasks/infrastructure/playbooks/reset-node.yml', 'tasks/kubernetes/playbooks/includes/kubeadm-membership.yml', 'tasks/backups/playbooks/includes/etcd-tools.yml'],
  pool: 'proxmox-api',
  timeout: '30m',
  run: async (context) => {
    const { config, inputs } = context;
    const cluster = clusterOf(config, inputs.cluster);
    const nodes = [...cluster.controlPlane, ...cluster.workers].map((node) => ({ ...node }));
    await removeUndeclaredNodes(context, cluster);
    if (config.infrastructure === 'existing') {
      for (const node of nodes) await sshExec(context, sshTarget(config, context.root, node), ['true'], { timeoutMs: 30_000 });
      return context.log.info(`the existing nodes of ${cluster.name} answer over SSH: ${nodes.map((node) => node.name).join(', ')}`);
    }
    await applyClusterVms(context, cluster.name, nodes);
    await pinVmHostKeys(context, nodes);
    await restartPendingVms(context, cluster);
  },
});

/**
 * A cluster's running VMs taken back into its OpenTofu state where the state lost them (a new controller
 * with a file state, a workspace removed), so that cluster-vms manages them again instead of refusing to make
 * them: each declared node that the state does not hold and whose id Proxmox gives to a VM of the node's own
 * name is imported (`tofu import`, the provider's `<proxmox node>/<vm id>`). A node whose id another guest
 * holds is named and left; one that Proxmox does not have is left for cluster-vms to make. Run when asked.
 */
export const vmAdopt = tasks.task({
  name: 'vm-adopt',
  description: "Take a cluster's VMs that Proxmox runs under its nodes' ids and names back into its OpenTofu state (after the state was lost)",
  supportsDryRun: true,
  policy: 'always',
  inputs: clusterInput,
  instances: everyCluster,
  skipWhen: withoutProxmox,
  // tofu reads the module with its Proxmox provider, installed from the verified package.
  deps: (_inputs, config) => fetched(config, ['tofu-provider-proxmox']),
  estimate: '1m',
  sources: [`${terraformDirectory}/main.tf`],
  pool: 'proxmox-api',
  timeout: '30m',
  run: async (context) => {
    const config = context.config;
    const cluster = clusterOf(config, context.inputs.cluster);
    const nodes = [...cluster.controlPlane, ...cluster.workers];
    const options = await clusterVmsWorkspace(context, cluster.name);
    const held = new Set(await tofuStateList(context, options));
    const guests = new Map((await proxmoxGuests(context)).map((guest) => [guest.vmid, guest]));
    const vars = clusterVmsVariables(context, nodes);
    const refused: string[] = [];
    for (const node of nodes) {
      if (held.has(vmAddress(node.name))) continue;
      const placed = proxmoxNodeOf(config, node);
      const guest = context.dryRun ? { vmid: node.vmId, name: node.name, node: placed, type: 'qemu' } : guests.get(node.vmId);
      if (!guest) {
        context.log.info(`${node.name}: Proxmox has no guest ${node.vmId}: cluster-vms makes its VM`);
      } else if (guest.name !== node.name || guest.type === 'lxc' || !guest.node) {
        refused.push(`${node.name}'s id ${node.vmId} is held by the ${guest.type === 'lxc' ? 'container' : 'VM'} ${guest.name ? `'${guest.name}'` : 'without a name'} on ${guest.node ?? 'an unnamed node'}`);
      } else {
        await tofuImport(context, { ...options, vars, address: vmAddress(node.name), id: `${guest.node}/${guest.vmid}` });
        context.log.info(`${node.name}: its VM ${guest.vmid} on ${guest.node} is in the state of cluster ${cluster.name} again`);
        if (guest.node !== placed) context.log.warn(`${node.name}: its VM runs on ${guest.node} and the environment places it on ${placed}: pin it where it runs (proxmoxNode: '${guest.node}'), or cluster-vms refuses to make it anew there`);
      }
    }
    if (refused.length > 0) throw new PermanentFailure(`not taken into the state of cluster ${cluster.name}: ${refused.join('; ')}: give each such node a free vmId, or remove a leftover guest from Proxmox`);
  },
});

/** How long a VM's guest agent may take to answer after tofu created or started the VM (its first boot). */
const guestAgentWait = 5 * 60_000;

/**
 * A VM's SSH host key as the VM itself has it, read through Proxmox's guest agent (`qm guest exec` on the
 * Proxmox node that runs it, over that node's verified SSH): the golden image has the agent, and each clone
 * makes its own host key at its first boot. Asked every 5 s until the agent answers with the key.
 */
async function vmHostKey(context: ToolContext & { readonly config: Environment }, node: ClusterNode): Promise<string> {
  const host = proxmoxHostOf(context.config, node);
  const deadline = Date.now() + guestAgentWait;
  let last = '';
  for (;;) {
    const answer = await sshExec(context, sshTarget(context.config, context.root, host), ['qm', 'guest', 'exec', String(node.vmId), '--', 'cat', '/etc/ssh/ssh_host_ed25519_key.pub'], { okExitCodes: [2, 255], timeoutMs: 60_000 });
    if (context.dryRun) return '';
    if (answer.exitCode === 0) {
      let result: { readonly exitcode?: number; readonly 'out-data'?: string; readonly 'err-data'?: string } = {};
      try {
        result = JSON.parse(answer.stdout) as typeof result;
      } catch {
        last = `qm guest exec answered '${answer.stdout.trim().slice(0, 120)}', not JSON`;
      }
      const key = result['out-data']?.trim() ?? '';
      if (result.exitcode === 0 && /^ssh-ed25519 \S+/.test(key)) return key;
      if (result.exitcode !== undefined) last = (result['err-data'] ?? `cat exited ${result.exitcode}`).trim();
    } else {
      last = answer.stderr.trim().split('\n')[0] ?? `qm exited ${answer.exitCode}`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${node.name} (VM ${node.vmId} on ${host.name}): no SSH host key from its guest agent in ${guestAgentWait / 60_000} minutes (${last}): the golden image has qemu-guest-agent; see the VM's console on ${host.name}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
}

/**
 * Each VM's SSH host key goes into the environment's known_hosts from the VM itself (vmHostKey), so that
 * every later connection verifies it and none trusts a key a host offers: a new VM is added, one tofu made
 * anew at the same address replaces its old key (said in a warning), an unchanged one is left as it is.
 */
async function pinVmHostKeys(context: ToolContext & { readonly config: Environment }, nodes: readonly ClusterNode[]): Promise<void> {
  const knownHosts = path.resolve(context.root, context.config.ssh.knownHosts);
  await Promise.all(
    nodes.map(async (node) => {
      const key = await vmHostKey(context, node);
      if (context.dryRun) return;
      const pinned = await pinHostKey(knownHosts, node.address, 22, key);
      const fingerprint = `SHA256:${createHash('sha256').update(Buffer.from(key.split(/\s+/)[1]!, 'base64')).digest('base64').replace(/=+$/, '')}`;
      if (pinned === 'added') context.log.info(`${node.name}: its host key ${fingerprint}, from the VM through the guest agent, is now in ${context.config.ssh.knownHosts}`);
      if (pinned === 'replaced') context.log.warn(`${node.name}: its VM has a new host key ${fingerprint} (made anew at ${node.address}): ${context.config.ssh.knownHosts} now has it instead of the old one`);
    }),
  );
}

/**
 * What `qm pending` lists of a VM's configuration that Proxmox applies only when the VM restarts (its
 * `new` and `del` lines), as `memory 8192 -> 16384`: tofu changes cores and memory with
 * `reboot_after_update = false`, so that no VM restarts on its own, all at once.
 */
function pendingChanges(listing: string): string[] {
  const current = new Map<string, string>();
  const changes: string[] = [];
  for (const line of listing.split('\n')) {
    const match = /^(cur|new|del) ([\w-]+): ?(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, kind, key, value] = match as unknown as [string, string, string, string];
    if (kind === 'cur') current.set(key, value);
    else if (kind === 'new') changes.push(current.has(key) ? `${key} ${current.get(key)} -> ${value}` : `${key} ${value} (new)`);
    else changes.push(`${key} removed`);
  }
  return changes;
}

/** The annotation a roll puts on a node it drains and takes off once the node is back (drain-node.yml's too). */
const drainedMark = 'onboarder.openspace.io/drained';

/**
 * The nodes an earlier roll drained and never returned (the run killed between the drain and the uncordon):
 * each still carries the mark and stays cordoned. Each runs again (its kubelet renews its lease: the run may
 * have been killed just after its VM's restart, while the API still called it Ready), is Ready, uncordoned
 * and unmarked before this roll drains another, as return-drained-nodes.yml does for the Ansible rolls.
 */
async function returnDrainedNodes(context: ToolContext & { readonly config: Environment }, kubeconfig: string): Promise<void> {
  if (!existsSync(kubeconfig)) return;
  for (const node of (await kubectlNodes(context, { kubeconfig })).filter((listed) => drainedMark in listed.annotations)) {
    context.log.info(`${node.name} was drained by a roll that did not finish: it is returned first`);
    try {
      await kubectlWaitLeaseRenewed(context, { kubeconfig, node: node.name, timeoutMs: 10 * 60_000 });
      await kubectlWaitReady(context, { kubeconfig, node: node.name, timeout: '10m' });
    } catch (error) {
      throw new Error(`${node.name}, drained by a roll that did not finish, is not Ready: see its kubelet (journalctl -u kubelet), then run again (${(error as Error).message.split('\n')[0]})`);
    }
    await kubectlUncordon(context, { kubeconfig, node: node.name });
    await kubectlAnnotateNode(context, { kubeconfig, node: node.name, key: drainedMark, value: undefined });
  }
}

/**
 * Returns once a node's kubelet reports another boot than `before` had (status.nodeInfo.bootID), asking
 * the API every 5 s: the machine has restarted and its kubelet is back. Fails after `timeoutMs`.
 */
async function waitForNewBoot(context: ToolContext & { readonly config: Environment }, kubeconfig: string, before: ListedNode, timeoutMs: number): Promise<void> {
  if (context.dryRun || before.bootId === undefined) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = (await kubectlNodes(context, { kubeconfig })).find((entry) => entry.name === before.name);
    if (now?.bootId !== undefined && now.bootId !== before.bootId) return;
    if (Date.now() >= deadline) throw new Error(`its kubelet reported no new boot in ${timeoutMs / 60_000} minutes (boot ${before.bootId} still)`);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
}

/**
 * Each VM of the cluster with pending changes restarts, control-plane nodes first and one at a time, then the
 * workers `workersAtOnce` at a time, as a roll does: where its node is in the running cluster, drained
 * through the API first, then back (its kubelet reports a new boot), Ready again and uncordoned before the
 * next group. `qm reboot` (on the Proxmox node that runs it) stops and starts the VM, which applies them. A
 * run stopped part way finds the rest still pending and goes on with them.
 */
async function restartPendingVms(context: ToolContext & { readonly config: Environment }, cluster: NamedCluster): Promise<void> {
  const { config, root } = context;
  const kubeconfig = kubeconfigPath(root, config, cluster.name);
  const pendingOf = async (node: ClusterNode) => {
    const host = proxmoxHostOf(config, node);
    const pending = await sshExec(context, sshTarget(config, root, host), ['qm', 'pending', String(node.vmId)]);
    return { node, host, changes: pendingChanges(pending.stdout) };
  };
  await returnDrainedNodes(context, kubeconfig);
  const width = workersAtOnce(rollWidth(config, cluster.name), cluster.workers.length);
  const groups = [...cluster.controlPlane.map((node) => [node]), ...chunks(cluster.workers, width)];
  for (const group of groups) {
    const due = (await Promise.all(group.map(pendingOf))).filter((entry) => entry.changes.length > 0);
    if (due.length === 0) continue;
    const listedNodes = existsSync(kubeconfig) ? await kubectlNodes(context, { kubeconfig }) : [];
    // The whole group settles before a failure stops the roll.
    await allFinished(due.map(async ({ node, host, changes }) => {
      const listed = listedNodes.find((entry) => entry.name === node.name);
      context.log.info(`${node.name} (VM ${node.vmId} on ${host.name}) restarts for its pending changes: ${changes.join(', ')}${listed ? '' : ' (not in the running cluster: not drained)'}`);
      // A node someone else cordoned (not a roll of Onboarder's) is drained, and stays cordoned after.
      const keptCordoned = listed !== undefined && cordonedByOthers(listed);
      if (listed?.ready) await drainForRoll(context, kubeconfig, listed, drainPolicy(config, cluster.name), 'its VM was not restarted');
      await sshExec(context, sshTarget(config, root, host), ['qm', 'reboot', String(node.vmId)], { timeoutMs: 10 * 60_000 });
      if (!listed) return;
      try {
        // Ready alone could be the Node as it was before the restart (the API notices a kubelet gone only
        // after its grace period): the next VM would then restart while this one still boots.
        await waitForNewBoot(context, kubeconfig, listed, 10 * 60_000);
        await kubectlWaitReady(context, { kubeconfig, node: node.name, timeout: '10m' });
      } catch (error) {
        throw new Error(`${node.name} is not Ready 10 minutes after its VM restarted, and stays cordoned: see its kubelet (journalctl -u kubelet), then run again (${(error as Error).message.split('\n')[0]})`);
      }
      if (keptCordoned) return context.log.info(`${node.name} stays cordoned, as it was before the restart (not by a roll of Onboarder's)`);
      await kubectlUncordon(context, { kubeconfig, node: node.name });
      await kubectlAnnotateNode(context, { kubeconfig, node: node.name, key: drainedMark, value: undefined });
    }));
  }
}

/** A node cordoned by someone else than a roll of Onboarder's (which marks the nodes it drains): a roll leaves it cordoned. */
function cordonedByOthers(node: ListedNode): boolean {
  return node.cordoned && !(drainedMark in node.annotations);
}

/**
 * Drains a node for a roll (kubectlDrain), marked first (drainedMark) so that a roll cut short returns it. A
 * drain that fails (a PodDisruptionBudget that allows no eviction, a pod that does not stop) uncordons the
 * node again and takes the mark off, as kubespray's upgrade does, so that it keeps serving: the roll stops,
 * saying which node and why, and what was not done (`instead`). A node cordoned by someone else stays so.
 */
async function drainForRoll(context: ToolContext, kubeconfig: string, node: ListedNode, policy: DrainPolicy, instead: string): Promise<void> {
  const keptCordoned = cordonedByOthers(node);
  if (!keptCordoned) await kubectlAnnotateNode(context, { kubeconfig, node: node.name, key: drainedMark, value: 'true' });
  try {
    await kubectlDrain(context, { kubeconfig, node: node.name, policy });
  } catch (error) {
    if (keptCordoned) throw new Error(`${node.name} could not be drained (${instead}; it stays cordoned, as it was): ${drainProblem(error)}`);
    await kubectlUncordon(context, { kubeconfig, node: node.name });
    await kubectlAnnotateNode(context, { kubeconfig, node: node.name, key: drainedMark, value: undefined });
    throw new Error(`${node.name} could not be drained, and is uncordoned again (${instead}; its pods keep running there): ${drainProblem(error)}`);
  }
}

/** What stopped a drain, in kubectl's words: the last pod it could not evict and why, else its last error line, else the failure's message. */
function drainProblem(error: unknown): string {
  const lines = (error instanceof CommandFailure ? error.outputTail : '').split('\n').map((line) => line.trim());
  return lines.findLast((line) => line.startsWith('error when evicting')) ?? lines.findLast((line) => line.startsWith('error')) ?? (error as Error).message.split('\n')[0]!;
}

/** How many of `count` workers a roll takes at once: a number as it is, a percentage of them rounded down (Ansible's serial), at least 1. */
export function workersAtOnce(width: number | string, count: number): number {
  const wanted = typeof width === 'number' ? width : Math.floor((count * Number(width.slice(0, -1))) / 100);
  return Math.max(1, Math.min(wanted, count));
}

function chunks<Item>(items: readonly Item[], size: number): Item[][] {
  const groups: Item[][] = [];
  for (let index = 0; index < items.length; index += size) groups.push(items.slice(index, index + size));
  return groups;
}
