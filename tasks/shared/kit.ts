import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubeadmImageTags } from '../../images/kubeadm-images.js';
import { imageRegistries } from '../../images/manifest.js';
import { defineTasks } from '../../lib/dsl/define-tasks.js';
import type { TaskId } from '../../lib/dsl/ids.js';
import type { DeployedState } from '../../lib/dsl/task.js';
import { PlaybookFailure, runPlaybook, type PlaybookOptions, type PlaybookResult } from '../../lib/tools/ansible.js';
import { MembersFailed } from '../../lib/dsl/command-failure.js';
import type { ToolContext } from '../../lib/tools/command.js';
import type { Inventory, InventoryHost } from '../../lib/tools/inventory.js';
import type { HelmRegistryAccess } from '../../lib/tools/kubernetes.js';
import { sshExec, type SshTarget } from '../../lib/tools/ssh.js';
import { readSecret } from '../../environments/load-environment.js';
import { readByEach, settingsView, untracked } from '../../lib/stamps/config-reads.js';
import type { DrainPolicy } from '../../lib/tools/kubernetes.js';
import { drainPolicyOf } from '../../environments/drain-settings.js';
import { clusterName, clusterSettingNames, networkOf, nodeSettingNames, type ClusterConfig, type ClusterRole, type Environment, type SecretReference } from '../../environments/schema.js';

/** Every OpenSpace task reads the environment as `context.config`, typed. */
export const tasks = defineTasks<Environment>();

/** The input of a per-cluster task: one of the clusters the environment declares (checked when the graph is built). */
export const clusterInput = { cluster: clusterName };

/** What only a roll reads of a cluster: how many workers it drains at once (`rollWidth`), and how (`drainPolicy`). */
const rollSettings = ['workersAtOnce', 'drain'] as const;
type RollSetting = (typeof rollSettings)[number];

/**
 * A declared cluster with its name, without how a roll drains its nodes (RollSetting): only the steps that
 * roll read that, so changing it re-runs no other step.
 */
export interface NamedCluster extends Omit<ClusterConfig, RollSetting> {
  readonly name: string;
}

/**
 * The cluster as a view that reads a setting when a step reads it (settingsView): a step records the settings
 * it uses, and one added or changed beside them (dnsAutoscaler turned off) re-runs only the steps that read it.
 */
const namedClusterSettings = clusterSettingNames.filter((key): key is Exclude<typeof key, RollSetting> => !(rollSettings as readonly string[]).includes(key));
function namedCluster(cluster: Omit<ClusterConfig, RollSetting>, name: string, replaced: Partial<Pick<NamedCluster, 'controlPlane'>> = {}): NamedCluster {
  return settingsView(cluster, namedClusterSettings, { ...replaced, name });
}

/**
 * How a roll (an upgrade, OS patches, a VM's restart) drains a cluster's node: its `drain` settings as
 * kubectl takes them. Read untracked: how a node is drained changes nothing a step made, so a change re-runs
 * no step (the next roll drains so).
 */
export function drainPolicy(config: Environment, name: string): DrainPolicy {
  return drainPolicyOf(untracked(config).clusters[name]!.drain);
}

/** How many of a cluster's workers a roll (an upgrade, OS patches) drains at once: its workersAtOnce. */
export function rollWidth(config: Environment, name: string): ClusterConfig['workersAtOnce'] {
  return config.clusters[name]!.workersAtOnce;
}

/** The environment's clusters, in the order it declares them; of one role when given. */
export function clustersOf(config: Environment, role?: ClusterRole): NamedCluster[] {
  return Object.entries(config.clusters)
    .filter(([, cluster]) => role === undefined || cluster.role === role)
    .map(([name, cluster]) => namedCluster(cluster, name));
}

/** One instance per declared cluster: the `instances` of a per-cluster task. */
export const everyCluster = (config: Environment) => clustersOf(config).map(({ name }) => ({ cluster: name }));
/** The instances of a step that only kubeadm clusters have (RKE2 brings its own): one per kubeadm cluster. */
export const everyKubeadmCluster = (config: Environment) => clustersOf(config).filter((cluster) => cluster.distribution === 'kubeadm').map(({ name }) => ({ cluster: name }));

/**
 * A declared cluster's configuration. The graph only holds instances of declared clusters (see `instances`),
 * so the error is for code that reads a cluster it was not given.
 */
export function clusterOf(config: Environment, name: string): NamedCluster {
  const cluster = Object.hasOwn(config.clusters, name) ? config.clusters[name] : undefined;
  if (!cluster) throw new Error(`cluster '${name}' is not declared in environment ${config.name} (it has ${Object.keys(config.clusters).join(', ')})`);
  return namedCluster(cluster, name);
}

export type ClusterNode = ClusterConfig['controlPlane'][number];
/** Where a node sits in its cluster: `controlPlane` or `workers`. */
export type NodePart = 'controlPlane' | 'workers';

/** Every node of the site (or of one part: control planes, workers) with its cluster, for instances and deps. */
export function nodesOf(config: Environment, part?: NodePart): { readonly cluster: string; readonly node: string; readonly part: NodePart }[] {
  return clustersOf(config).flatMap((cluster) =>
    (['controlPlane', 'workers'] as const)
      .filter((each) => part === undefined || each === part)
      .flatMap((each) => cluster[each].map((node) => ({ cluster: cluster.name, node: node.name, part: each }))),
  );
}

/** One instance per node: the `instances` of a per-node task. */
export const everyNode = (config: Environment) => nodesOf(config).map(({ node }) => ({ node }));
export const everyWorker = (config: Environment) => nodesOf(config, 'workers').map(({ node }) => ({ node }));

/**
 * A node by its name, with its cluster. The node is found without reading the other nodes, so that a task
 * on one node re-runs when that node's configuration changes, not when another node is added beside it.
 */
export function nodeOf(config: Environment, name: string): { readonly cluster: NamedCluster; readonly node: ClusterNode; readonly part: NodePart } {
  const place = nodesOf(untracked(config)).find((entry) => entry.node === name);
  const part = place?.part ?? 'workers';
  const index = place ? untracked(config).clusters[place.cluster]?.[part].findIndex((node) => node.name === name) : undefined;
  const node = place && index !== undefined ? config.clusters[place.cluster]?.[part][index] : undefined;
  if (!place || !node) throw new Error(`node '${name}' is not declared in environment ${config.name}`);
  return { cluster: clusterOf(config, place.cluster), node: settingsView(node, nodeSettingNames, {}), part };
}

/** The site's management cluster (the schema holds exactly one). */
export function managementCluster(config: Environment): NamedCluster {
  const [management] = clustersOf(config, 'mcm');
  if (!management) throw new Error(`environment ${config.name} declares no management cluster`);
  return management;
}

/**
 * The Ansible group of a cluster's nodes (with `_control_plane` and `_workers` subgroups): `cluster_` and the
 * name with '_' for '-', which Ansible does not allow in group names; no other group can take it.
 */
export function clusterGroup(name: string): string {
  return `cluster_${name.replace(/-/g, '_')}`;
}

/** A machine logged in to over SSH (a management host, a node, a Proxmox node). */
export interface Endpoint {
  readonly address: string;
  readonly port?: number;
  readonly user?: string;
}

/** How to reach a host over SSH with the environment's key and pinned known_hosts. */
export function sshTarget(config: Environment, root: string, endpoint: Endpoint): SshTarget {
  return {
    host: endpoint.address,
    port: endpoint.port ?? 22,
    user: endpoint.user ?? config.ssh.user,
    knownHostsFile: path.resolve(root, config.ssh.knownHosts),
    ...(config.ssh.privateKey ? { privateKey: path.resolve(root, config.ssh.privateKey) } : {}),
  };
}

/**
 * Which hosts a playbook runs on: the management hosts, or nodes of one cluster (its control plane, a
 * worker). The inventory holds only those, so a task's fingerprint holds only the configuration of its own
 * hosts: adding a cluster or a worker changes no other task's inventory, and re-runs nothing else.
 */
export type InventoryScope =
  | { readonly hosts: 'management' }
  | { readonly cluster: NamedCluster; readonly controlPlane: readonly InventoryNode[]; readonly workers: readonly InventoryNode[] };

/** What an inventory knows of a node: its name and address (a node the environment no longer declares has no more). */
export type InventoryNode = Pick<ClusterNode, 'name' | 'address'>;

/** A node as an inventory takes it: its name and address read, and no other setting (its size, its labels), so resizing a VM re-runs no playbook step but its own. */
export const inventoryNode = (node: InventoryNode): InventoryNode => ({ name: node.name, address: node.address });

/**
 * What a control plane's playbooks know of its API beyond the address: its DNS name (the dns task's record)
 * and its certificate's names (every control-plane node), whether the address is a virtual IP (no
 * control-plane node has it), which kube-vip then holds, and how long its audit log is kept. Passed by the Kubernetes steps only: a node's
 * preparation does not read the other control-plane nodes, and does not re-run when one is added.
 */
export function controlPlaneVars(config: Environment, cluster: NamedCluster): Record<string, unknown> {
  return {
    api_name: `api.${cluster.name}.${config.dns.zone}`,
    control_plane_names: cluster.controlPlane.map((node) => node.name),
    control_plane_addresses: cluster.controlPlane.map((node) => node.address),
    api_vip: !cluster.controlPlane.some((node) => node.address === cluster.apiAddress),
    kube_vip_image: `ghcr.io/kube-vip/kube-vip:${config.versions.kubeVip}`,
    api_audit: { max_age: config.audit.maxAge, max_backup: config.audit.maxBackups, max_size: config.audit.maxSize },
  };
}

/** The Ansible inventory of a playbook's hosts, generated from the typed configuration for each run. */
export function siteInventory(config: Environment, scope: InventoryScope, root: string): Inventory {
  const host = (endpoint: Endpoint): InventoryHost => ({ address: endpoint.address, port: endpoint.port ?? 22, user: endpoint.user ?? config.ssh.user });
  const vars = { air_gapped: config.site.airGapped, ansible_python_interpreter: '/usr/bin/python3' };
  if ('hosts' in scope) {
    return { groups: { management: { hosts: Object.fromEntries(config.managementHosts.map((entry) => [entry.name, { ...host(entry), vars: { bridges: entry.bridges } }])) } }, vars };
  }
  const { cluster } = scope;
  const group = clusterGroup(cluster.name);
  return {
    groups: {
      [`${group}_control_plane`]: { hosts: Object.fromEntries(scope.controlPlane.map((node) => [node.name, host(node)])) },
      [`${group}_workers`]: { hosts: Object.fromEntries(scope.workers.map((node) => [node.name, host(node)])) },
      [group]: {
        children: [`${group}_control_plane`, `${group}_workers`],
        vars: {
          cluster_name: cluster.name,
          cluster_role: cluster.role,
          distribution: cluster.distribution,
          cni: cluster.cni,
          api_address: cluster.apiAddress,
          pod_cidr: cluster.podCidr,
          service_cidr: cluster.serviceCidr,
        },
      },
    },
    vars: {
      ...vars,
      ...registryVars(config, root),
      versions: cluster.distribution === 'rke2' ? { rke2: config.versions.rke2 } : { kubernetes: config.versions.kubernetes },
      // containerd's sandbox image: the pause image of the cluster's Kubernetes version (kubeadm's own), if the manifest knows it.
      ...(cluster.distribution === 'kubeadm' ? { pause_version: kubeadmImageTags[config.versions.kubernetes]?.pause ?? '' } : {}),
    },
  };
}

/**
 * The registry mirrors nodes pull through: the environment's own, and on an air-gapped site with a site
 * registry, that registry for every registry the manifest's images come from (and docker.io), as Zarf points
 * a cluster's pulls at its registry. A registry the environment mirrors itself keeps its own mirror.
 */
export function siteRegistryMirrors(config: Environment): Environment['registryMirrors'] {
  const explicit = config.registryMirrors;
  if (!config.site.airGapped || !config.siteRegistry) return explicit;
  const { address, caFile } = config.siteRegistry;
  const mirror = `https://${address}`;
  return [...explicit, ...imageRegistries(config.versions).filter((registry) => !explicit.some((entry) => entry.registry === registry)).map((registry) => ({ registry, mirror, ...(caFile ? { caFile } : {}) }))];
}

/** Where a node keeps the CA of a registry mirror, by its host:port. */
function registryCaPath(host: string): string {
  return `/etc/onboarder/registry-ca/${host.replace(':', '_')}.crt`;
}

/**
 * The registries the nodes' containerd and RKE2 pull through, as node-prep.yml and rke2-node.yml take them:
 * - `registry_mirrors`: each mirror, with the path on the node of the CA that signed its certificate (its
 *   caFile, or the site registry's where it is the site registry; '' for the system's CAs);
 * - `registry_cas`: those CAs' files on the node and their PEM;
 * - `registry_hosts`: the hosts RKE2's registries.yaml configures (`configs`): those with a CA, and the
 *   site registry where it has credentials;
 * - `site_registry`: the site registry's address on an air-gapped site that names one, else ''.
 */
function registryVars(config: Environment, root: string): Record<string, unknown> {
  const site = config.site.airGapped ? config.siteRegistry : undefined;
  const cas = new Map<string, string>();
  const mirrors = siteRegistryMirrors(config).map((entry) => {
    const host = new URL(entry.mirror).host;
    const caFile = entry.caFile ?? (host === site?.address ? site.caFile : undefined);
    const onNode = caFile ? registryCaPath(host) : '';
    if (caFile) cas.set(onNode, readFileSync(path.resolve(root, caFile), 'utf8'));
    return { registry: entry.registry, mirror: entry.mirror, host, ca_file: onNode };
  });
  const hosts = new Map(mirrors.filter((entry) => entry.ca_file).map((entry) => [entry.host, entry.ca_file]));
  if (site?.caFile && !hosts.has(site.address)) {
    const onNode = registryCaPath(site.address);
    cas.set(onNode, readFileSync(path.resolve(root, site.caFile), 'utf8'));
    hosts.set(site.address, onNode);
  }
  if (site?.password && !hosts.has(site.address)) hosts.set(site.address, '');
  return {
    registry_mirrors: mirrors.map(({ host: _host, ...entry }) => entry),
    registry_cas: [...cas].map(([file, pem]) => ({ file, pem })),
    registry_hosts: [...hosts].map(([host, caFile]) => ({ host, ca_file: caFile })),
    site_registry: site?.address ?? '',
  };
}

/**
 * How helm reaches the site registry on an air-gapped site (its CA and credentials), or undefined where
 * the site has none. The password is read as a secret: redacted wherever it would show.
 */
export function siteRegistryAccess(context: ToolContext & { readonly config: Environment }): HelmRegistryAccess | undefined {
  const { config, root } = context;
  const registry = config.site.airGapped ? config.siteRegistry : undefined;
  if (!registry) return undefined;
  return {
    host: registry.address,
    ...(registry.caFile ? { caFile: path.resolve(root, registry.caFile) } : {}),
    ...(registry.username && registry.password ? { username: registry.username, password: secretValue(context, registry.password) } : {}),
  };
}

/**
 * The site registry's credentials for the nodes' containerd and RKE2 (as kubespray's containerd_registry_auth
 * and RKE2's registries.yaml `configs.auth` take them): extra vars, in a 0600 file for the playbook's run
 * only, the password redacted. Empty where the site pulls without credentials.
 */
function siteRegistryCredentials(context: ToolContext & { readonly config: Environment }): Record<string, string> {
  const access = siteRegistryAccess(context);
  // Read for the fingerprint: a rotated password runs the steps that put it on the nodes again.
  if (access?.password) void context.config.secretDigests?.siteRegistry?.password;
  return { site_registry_username: access?.username ?? '', site_registry_password: access?.password ?? '' };
}

/**
 * Whether a control-plane node is in its cluster, as a `test` argv: for kubeadm, what
 * tasks/kubernetes/playbooks/includes/kubeadm-membership.yml asks (the kubelet kubeconfig, and no mark of an
 * init or join that has not finished); RKE2's etcd data.
 */
const membershipProbe = {
  kubeadm: ['test', '-e', '/etc/kubernetes/kubelet.conf', '-a', '!', '-e', '/etc/kubernetes/onboarder-init-unfinished', '-a', '!', '-e', '/etc/kubernetes/onboarder-join-unfinished'],
  rke2: ['test', '-e', '/var/lib/rancher/rke2/server/db/etcd'],
} as const;

/**
 * Whether each control-plane node of a cluster is in it (holds its distribution's membership marker), asked
 * over SSH in parallel: `member`, `absent`, or `silent` where the node did not answer.
 */
export async function controlPlaneMembership(context: ToolContext & { readonly config: Environment }, cluster: NamedCluster): Promise<('member' | 'absent' | 'silent')[]> {
  const { config, root } = context;
  const membership = membershipProbe[cluster.distribution];
  return Promise.all(
    cluster.controlPlane.map(async (node) => {
      try {
        const probe = await sshExec(context, sshTarget(config, root, node), [...membership], { asRoot: true, okExitCodes: [1], timeoutMs: 30_000 });
        return probe.exitCode === 0 ? 'member' : 'absent';
      } catch {
        return 'silent';
      }
    }),
  );
}

/**
 * The cluster with its control plane in the order its playbooks take it: the nodes already in the cluster
 * first (in the environment's order), then those still to join. The first node initialises a cluster that
 * has no node yet, and makes join tokens, drains, snapshots and restores. So a node put at the head of the
 * list (the replacement of a lost first node) joins through one that is in the cluster instead of starting
 * a second cluster; kubespray's recover-control-plane asks its user to reorder the inventory for this.
 * A node that does not answer counts as not in the cluster.
 */
export async function membersFirst(context: ToolContext & { readonly config: Environment }, cluster: NamedCluster): Promise<NamedCluster> {
  if (context.dryRun || cluster.controlPlane.length < 2) return cluster;
  const member = (await controlPlaneMembership(context, cluster)).map((state) => state === 'member');
  if (member[0] || !member.includes(true)) return cluster;
  const controlPlane = [...cluster.controlPlane.filter((_, index) => member[index]), ...cluster.controlPlane.filter((_, index) => !member[index])];
  context.log.info(`${cluster.controlPlane[0]!.name} is not in cluster ${cluster.name} yet: ${controlPlane[0]!.name}, which is, acts for its control plane and the others join through it`);
  return namedCluster(cluster, cluster.name, { controlPlane });
}

/** Runs one of the repository's playbooks on the hosts of `scope`, with the environment's SSH settings. */
export function playbook(
  context: ToolContext & { readonly config: Environment },
  file: string,
  scope: InventoryScope,
  options: Omit<PlaybookOptions, 'playbook' | 'inventory' | 'knownHostsFile' | 'privateKey'> = {},
): Promise<PlaybookResult> {
  const { config, root } = context;
  const inventory = siteInventory(config, scope, root);
  // The catalog's playbooks change the system: as root, through sudo where Onboarder logs in as another user.
  const loggedInAs = Object.values(inventory.groups).flatMap((group) => Object.values(group.hosts ?? {}).map((host) => host.user));
  return runPlaybook(context, {
    playbook: path.resolve(root, file),
    inventory,
    ...(loggedInAs.some((user) => user !== undefined && user !== 'root') ? { become: true } : {}),
    knownHostsFile: path.resolve(root, config.ssh.knownHosts),
    ...(config.ssh.privateKey ? { privateKey: path.resolve(root, config.ssh.privateKey) } : {}),
    ...options,
    // A cluster's nodes pull from the site registry: its credentials go to their containerd or RKE2.
    ...('cluster' in scope ? { extraVars: { ...siteRegistryCredentials(context), ...options.extraVars } } : {}),
  });
}

/**
 * The batch key of a per-node task: its node's cluster. The ready nodes of one cluster then run as one
 * playbook (one controller process for all of them, as kubespray runs a cluster), each keeping its stamp.
 */
export function nodeCluster({ node }: { readonly node: string }, config: Environment): string {
  return nodesOf(config).find((entry) => entry.node === node)?.cluster ?? node;
}

/** The nodes a per-node task's body runs for (its batch), each found through its own member's configuration. */
export function batchNodes(batch: readonly { readonly id: TaskId; readonly inputs: { readonly node: string }; readonly config: Environment }[]) {
  const members = batch.map((member) => ({ id: member.id, ...nodeOf(member.config, member.inputs.node) }));
  return {
    members,
    // Read by every member: a cluster setting the body reads joins each member's fingerprint.
    cluster: readByEach(members.map((member) => member.cluster)),
    controlPlane: members.filter((member) => member.part === 'controlPlane').map((member) => member.node),
    workers: members.filter((member) => member.part === 'workers').map((member) => member.node),
  };
}

/**
 * Runs a playbook for the nodes of a batch. Ansible goes on with the hosts that did not fail, so when its
 * recap says some of the batch's nodes failed or could not be reached and the others finished, only those
 * fail (the others are stamped); anything else fails them all.
 */
export async function nodesPlaybook(
  context: ToolContext & { readonly config: Environment },
  file: string,
  scope: InventoryScope,
  members: readonly { readonly id: TaskId; readonly node: ClusterNode }[],
  options: Omit<PlaybookOptions, 'playbook' | 'inventory' | 'knownHostsFile' | 'privateKey'> = {},
): Promise<PlaybookResult> {
  try {
    return await playbook(context, file, scope, options);
  } catch (error) {
    throw membersFailedBy(error, members) ?? error;
  }
}

/**
 * The members a failed playbook failed, when its recap says the others finished (no failed or unreachable
 * task): undefined when it failed them all, a host outside the batch failed (the control plane a join asks
 * for its token), or it failed without a recap (it never ran a play).
 */
export function membersFailedBy(error: unknown, members: readonly { readonly id: TaskId; readonly node: { readonly name: string } }[]): MembersFailed | undefined {
  if (!(error instanceof PlaybookFailure) || Object.keys(error.recap).length === 0) return undefined;
  const { recap } = error;
  const finished = (host: string) => recap[host] !== undefined && recap[host].failed === 0 && recap[host].unreachable === 0;
  const memberHosts = new Set(members.map((member) => member.node.name));
  if (Object.keys(recap).some((host) => !memberHosts.has(host) && !finished(host))) return undefined;
  const failed = members.filter((member) => !finished(member.node.name));
  return failed.length === 0 || failed.length === members.length ? undefined : new MembersFailed(failed.map((member) => member.id), error);
}

/**
 * Waits for every one of `work` to finish, then throws the first failure: none is left running unwatched
 * (a VM restarting, a DNS server half written) when a sibling fails.
 */
export async function allFinished(work: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Runs the steps of a batch's body one after another, each for the members still standing (a member whose
 * playbook failed does not join after it); when some fell, MembersFailed names them all at the end.
 */
export async function inTurn<Member extends { readonly id: TaskId }>(members: readonly Member[], steps: readonly ((standing: readonly Member[]) => Promise<unknown>)[]): Promise<void> {
  let standing = members;
  let firstFailure: MembersFailed | undefined;
  for (const step of steps) {
    try {
      await step(standing);
    } catch (error) {
      if (!(error instanceof MembersFailed)) throw error;
      firstFailure ??= error;
      standing = standing.filter((member) => !error.members.includes(member.id));
    }
  }
  if (firstFailure) throw new MembersFailed(members.filter((member) => !standing.includes(member)).map((member) => member.id), firstFailure.cause);
}

/** The admin kubeconfig of a cluster, kept under .cache (0600). */
export function kubeconfigPath(root: string, config: Environment, cluster: string): string {
  return path.join(root, '.cache', 'state', config.name, 'kubeconfig', `${cluster}.yaml`);
}

/** Where a cluster's join token is kept (0600), so that re-runs join the same cluster. */
export function clusterTokenPath(root: string, config: Environment, cluster: string): string {
  return path.join(root, '.cache', 'state', config.name, 'tokens', cluster);
}

/**
 * The nodes a stamped per-cluster step last saw in a cluster (kept in its stamp), by name: what was
 * deployed, also when the environment no longer declares it.
 */
export function keptNodeNames(deployed: DeployedState, id: TaskId, cluster: string): string[] {
  const names: string[] = [];
  for (const part of ['controlPlane', 'workers'] as const) {
    for (let index = 0; ; index++) {
      const name = deployed.keptValue(id, ['clusters', cluster, part, String(index), 'name']);
      if (typeof name !== 'string') break;
      names.push(name);
    }
  }
  return names;
}

/** A secret's value for a task body, marked secret so it is redacted everywhere. */
export function secretValue(context: ToolContext, reference: SecretReference): string {
  const value = readSecret(reference, context.root);
  if (!value.ok) throw new Error(value.error);
  return context.secret(value.value);
}

/**
 * The public key of the operator's SSH key, which hosts authorize for Onboarder: the environment's
 * `ssh.privateKey` with `.pub`, else ~/.ssh/id_ed25519.pub (the agent's usual key).
 */
export function operatorPublicKey(context: ToolContext & { readonly config: Environment }): string {
  const { config, root } = context;
  const file = config.ssh.privateKey ? `${path.resolve(root, config.ssh.privateKey)}.pub` : path.join(os.homedir(), '.ssh', 'id_ed25519.pub');
  if (context.dryRun) return '(operator key)';
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new Error(`the operator's public key ${file} cannot be read: keep it beside the private key (ssh-keygen -y -f KEY > KEY.pub)`);
  }
}

/** The Proxmox part of the configuration, for tasks that only make sense on Proxmox. */
export function proxmoxOf(config: Environment): NonNullable<Environment['proxmox']> {
  if (!config.proxmox) throw new Error("this environment has no Proxmox configuration (infrastructure is 'existing')");
  return config.proxmox;
}

/**
 * What a VM's network card and cloud-init get from the site's network its address is on (the schema makes
 * sure there is one): the VLAN its card is tagged with (0: untagged, where the bridge carries it), the gateway
 * and the prefix length.
 */
export function vmNetworkSettings(config: Environment, address: string): { vlan_id: number; gateway: string; prefix_length: number } {
  const network = networkOf(config, address);
  if (!network) throw new Error(`${address} is on none of the site's networks`);
  return { vlan_id: proxmoxOf(config).vmBridge.tagVlan ? network.vlan : 0, gateway: network.gateway, prefix_length: Number(network.cidr.split('/')[1]) };
}

/**
 * The Proxmox node a cluster node's VM runs on: the one it names (`proxmoxNode`), else its VM id decides (id
 * modulo the number of Proxmox nodes), so that a VM added or removed never moves another. The VMs' OpenTofu
 * module, the restarts and the storage driver's topology labels read it.
 */
export function proxmoxNodeOf(config: Environment, node: Pick<ClusterNode, 'vmId' | 'proxmoxNode'>): string {
  return proxmoxHostOf(config, node).name;
}

/** The Proxmox node that runs a VM (proxmoxNodeOf), as a host to reach over SSH. */
export function proxmoxHostOf(config: Environment, node: Pick<ClusterNode, 'vmId' | 'proxmoxNode'>): NonNullable<Environment['proxmox']>['nodes'][number] {
  const nodes = proxmoxOf(config).nodes;
  return nodes.find((each) => each.name === node.proxmoxNode) ?? nodes[node.vmId % nodes.length]!;
}

/** skipWhen for the Proxmox phases: where the nodes exist already there is nothing for them to do. */
export function withoutProxmox(config: Environment): string | false {
  return config.infrastructure === 'existing' && "the nodes exist already (infrastructure: 'existing')";
}

/**
 * Heavy Proxmox operations at once (the `proxmox-api` pool): the environment's `proxmox.parallelOperations`,
 * else what its storage takes. A full clone on lvm-thin or dir holds Proxmox's cluster-wide storage lock for
 * the whole copy, and a clone waiting on it more than 10 s fails ("can't lock file ... got timeout"; bpg
 * terraform-provider-proxmox #995, LINBIT linstor-proxmox #73, which measured the lock's hold): two at once.
 * Ceph RBD copies fast enough that parallel clones do not queue on the lock (same sources): four.
 */
export function proxmoxParallelOperations(config: Environment): number {
  if (!config.proxmox) return 2;
  return config.proxmox.parallelOperations ?? (config.proxmox.storage.type === 'rbd' ? 4 : 2);
}
