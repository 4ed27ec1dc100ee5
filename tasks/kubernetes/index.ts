import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { etcdReleaseNames, kubernetesBinaryNames, platformChartNames, rke2ArtifactNames } from '../../images/manifest.js';
import { snapshotSources, takeSnapshot } from '../backups/take-snapshot.js';
import { keptAuthorities, snapshotDirectory } from '../backups/snapshot-store.js';
import { etcdRelease } from '../backups/etcd-release.js';
import { fetched } from '../images/index.js';
import { registryNeeded } from '../registry/index.js';
import type { Dependency } from '../../lib/dsl/task.js';
import { helmUpgradeInstall, kubectlApply, kubectlDelete, kubectlGet, kubectlLabelNode, kubectlRolloutStatus, kubectlTaintNode } from '../../lib/tools/kubernetes.js';
import { kubeadmControlPlaneTaint, kubeadmControlPlaneTaints, managedTaints, nodeLabelsFieldManager, nodeLabelsManifest, taintArgument, taintChanges, type DeclaredNode, type Taint } from './node-labels.js';
import { withPrivateFile } from '../../lib/tools/private-file.js';
import { writeFileAtomic } from '../../lib/fs/atomic-write.js';
import { sshExec } from '../../lib/tools/ssh.js';
import { untracked } from '../../lib/stamps/config-reads.js';
import type { ClusterRole, Environment } from '../../environments/schema.js';
import { nodePrep } from '../node-prep/index.js';
import { kubernetesBinaries, kubernetesBinariesDirectory } from './kubernetes-binaries.js';
import { kubernetesPackages, type KubernetesPackages } from './kubernetes-packages.js';
import { kubeletDropIn } from './kubelet-configuration.js';
import { dnsAutoscalerManifest, dnsAutoscalerObjects } from './dns-autoscaler.js';
import { rke2Artifacts, rke2ArtifactsDirectory } from './rke2-artifacts.js';
import type { ReleaseFile } from '../shared/release-files.js';
import { hostname } from '../../environments/schema.js';
import { csrApproverRelease, platformReleases, proxmoxRegion, veleroCredentialsFile, type ReleaseTarget } from '../shared/chart-releases.js';
import { csiTokenFile, csiUser, keptCsiToken, proxmoxCsiToken } from '../storage/index.js';
import type { ToolContext } from '../../lib/tools/command.js';
import { chartSource, ciliumChart } from '../shared/chart-source.js';
import { ciliumValues } from '../shared/cilium-values.js';
import { proxyEnvironment } from '../shared/site-proxy.js';
import { batchNodes, clusterGroup, drainPolicy, inventoryNode, clusterTokenPath, controlPlaneMembership, controlPlaneVars, kubeconfigPath, clusterInput, clusterOf, clustersOf, everyCluster, everyKubeadmCluster, everyWorker, inTurn, managementCluster, membersFirst, nodeCluster, nodesOf, nodesPlaybook, playbook, proxmoxNodeOf, rollWidth, secretValue, sshTarget, tasks, withoutProxmox, type ClusterNode, type InventoryNode, type NamedCluster } from '../shared/kit.js';

export { kubeconfigPath };

/**
 * An RKE2 cluster's token, made once per cluster and kept (0600, written whole) so that re-runs join the
 * same cluster. Where it is not kept here (a new controller, its .cache lost) but the cluster is made, it is
 * read back from a server's RKE2 configuration: a new one would be written there, and RKE2 refuses to start
 * on a token other than the one its data was made with. Made anew only where every server answered and
 * none is in a cluster.
 */
async function clusterToken(context: ToolContext & { readonly config: Environment }, cluster: NamedCluster): Promise<string> {
  const { config, root } = context;
  const file = clusterTokenPath(root, config, cluster.name);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const kept = await serverToken(context, cluster);
  await writeFileAtomic(file, kept?.token ?? randomBytes(32).toString('hex'));
  if (kept) context.log.warn(`the token of cluster ${cluster.name} was not kept in ${path.relative(root, file)}: read back from ${kept.node}'s RKE2 configuration, and kept there again`);
  return readFileSync(file, 'utf8');
}

/** The token a server of a made RKE2 cluster runs with (its /etc/rancher/rke2/config.yaml), or none where no server is in a cluster. */
async function serverToken(context: ToolContext & { readonly config: Environment }, cluster: NamedCluster): Promise<{ readonly node: string; readonly token: string } | undefined> {
  const { config, root } = context;
  const membership = await controlPlaneMembership(context, cluster);
  const server = cluster.controlPlane.find((_, index) => membership[index] === 'member');
  const kept = path.relative(root, clusterTokenPath(root, config, cluster.name));
  if (server) {
    const token = (await sshExec(context, sshTarget(config, root, server), ['sed', '-n', 's/^token: *//p', '/etc/rancher/rke2/config.yaml'], { asRoot: true, stdoutIsSecret: true, timeoutMs: 30_000 })).stdout.trim();
    if (!token) throw new Error(`${server.name} is a server of cluster ${cluster.name}, but its /etc/rancher/rke2/config.yaml names no token, and ${kept} keeps none: write the cluster's token there (0600), as its servers run with it`);
    return { node: server.name, token: context.secret(token) };
  }
  const silent = cluster.controlPlane.filter((_, index) => membership[index] === 'silent').map((node) => node.name);
  if (silent.length > 0) {
    throw new Error(`the token of cluster ${cluster.name} is not kept in ${kept}, and ${silent.join(', ')} did not answer over SSH: whether the cluster is made cannot be told (a new token would stop its servers): bring them back, or put the token back there`);
  }
  return undefined;
}

/** The RKE2 release files a node installs from, with their digests (none are read on a dry run). */
async function rke2Inputs(context: { readonly dryRun: boolean }, root: string, version: string): Promise<{ rke2_artifacts: ReleaseFile[]; rke2_artifacts_directory: string }> {
  const directory = rke2ArtifactsDirectory(root, version);
  return { rke2_artifacts: context.dryRun ? [] : await rke2Artifacts(root, version), rke2_artifacts_directory: directory };
}

/**
 * kubeadm, kubelet, kubectl and crictl of an air-gapped site, from images/; online, the nodes' packages from
 * pkgs.k8s.io's repository of the release's minor version, or the mirror upstreamMirrors names for it (a
 * site's Artifactory or Nexus), whose signing key the nodes fetch from there too, through the site's proxy
 * where it has one.
 */
function kubernetesInputs(context: ToolContext & { readonly config: Environment; readonly dryRun: boolean }, cluster: NamedCluster): { kubernetes_binaries: ReleaseFile[]; kubernetes_binaries_directory: string; kubernetes_packages: KubernetesPackages; proxy_environment: Record<string, string> } {
  const { config, root } = context;
  const version = config.versions.kubernetes;
  const binaries = config.site.airGapped && !context.dryRun ? kubernetesBinaries(root, version) : [];
  return { kubernetes_binaries: binaries, kubernetes_binaries_directory: kubernetesBinariesDirectory(root, version), kubernetes_packages: kubernetesPackages(config), proxy_environment: config.site.airGapped ? {} : proxyEnvironment(context, cluster) };
}

/**
 * Each node's declared taints as a kubelet registers them (`key=value:Effect`), by node name: a node that
 * joins carries them from its first moment (node-labels keeps them after).
 */
function registrationTaints(nodes: readonly ClusterNode[]): Record<string, string[]> {
  return Object.fromEntries(nodes.map((node) => [node.name, node.taints.map(taintArgument)]));
}

/**
 * Whether a made cluster's API endpoint moves to `apiAddress` in this run: the engine's copy of its admin
 * kubeconfig (fetched at every run of its control plane) names another server. None kept (a cluster not
 * made yet, or state lost): the control plane's own reading decides, and the workers follow in node-join.
 */
export function endpointMoves(kubeconfig: string, apiAddress: string): boolean {
  if (!existsSync(kubeconfig)) return false;
  let servers: unknown[] = [];
  try {
    const parsed = YAML.parse(readFileSync(kubeconfig, 'utf8')) as { clusters?: { cluster?: { server?: unknown } }[] } | null;
    servers = (parsed?.clusters ?? []).map((entry) => entry.cluster?.server);
  } catch {
    return false;
  }
  return servers.some((server) => typeof server === 'string' && server !== `https://${apiAddress}:6443`);
}

/** A bootstrap token as kubeadm writes them: `[a-z0-9]{6}.[a-z0-9]{16}`. */
function kubeadmToken(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  // randomInt draws each character uniformly (a byte modulo 36 would favour the first four).
  const characters = Array.from({ length: 22 }, () => alphabet[randomInt(alphabet.length)]).join('');
  return `${characters.slice(0, 6)}.${characters.slice(6)}`;
}

/** The playbooks a roll of the control plane's arguments and secrets-encryption keys runs (a task's sources). */
export const controlPlaneArgumentsSources = [
  'tasks/kubernetes/playbooks/kubeadm-apiserver.yml',
  'tasks/kubernetes/playbooks/kubeadm-apiserver-files.yml',
  'tasks/kubernetes/playbooks/includes/control-plane-arguments.yml',
  'tasks/kubernetes/playbooks/vars/kubeadm-apiserver.yml',
  'tasks/kubernetes/playbooks/includes/secrets-encryption-config.yml',
  'tasks/kubernetes/playbooks/includes/restart-apiserver.yml',
  'tasks/kubernetes/playbooks/files/audit-policy.yaml',
  'tasks/backups/playbooks/includes/etcd-tools.yml',
];

/**
 * Kubernetes on one cluster (the seed's phase 4): RKE2 for MCM, kubeadm init and join for the others,
 * then Cilium. A downstream cluster does not wait for MCM to come up: only its registration with MCM
 * (below) needs both.
 */
export const kubernetes = tasks.task({
  name: 'kubernetes',
  description: "A cluster's control plane: kubeadm init and join with Cilium (RKE2 for MCM)",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyCluster,
  // Its control-plane nodes are prepared (container runtime, kernel settings, swap off, registry mirrors).
  // Its control-plane nodes prepared, the release files it installs there present and verified, and on an
  // air-gapped site the registry its nodes pull from holding every image.
  deps: ({ cluster }, config): Dependency[] => [
    ...nodesOf(config, 'controlPlane').filter((entry) => entry.cluster === cluster).map(({ node }) => nodePrep.with({ node })),
    ...registryNeeded(config),
    ...fetched(config, clusterOf(config, cluster).distribution === 'rke2' ? rke2ArtifactNames : [...kubernetesBinaryNames, ...etcdReleaseNames, ...(clusterOf(config, cluster).cni === 'cilium' ? (['cilium'] as const) : [])]),
  ],
  estimate: '8m',
  sources: ['tasks/shared/cilium-values.ts', 'tasks/shared/chart-source.ts', 'tasks/kubernetes/kubelet-configuration.ts', 'tasks/kubernetes/playbooks/rke2.yml', 'tasks/shared/playbooks/includes/rke2-node-ready.yml', 'tasks/kubernetes/playbooks/includes/rke2-node.yml', 'tasks/kubernetes/playbooks/includes/admin-kubeconfig.yml', 'tasks/kubernetes/playbooks/templates/kube-vip.yaml.j2', 'tasks/kubernetes/playbooks/kubeadm-init.yml', 'tasks/kubernetes/playbooks/includes/kubelet-arguments.yml', 'tasks/kubernetes/playbooks/includes/kubelet-serving-certificate.yml', 'tasks/kubernetes/playbooks/kubeadm-join.yml', 'tasks/kubernetes/playbooks/includes/kubeadm-resumable.yml', 'tasks/kubernetes/playbooks/includes/kubeadm-membership.yml', 'tasks/kubernetes/playbooks/vars/kubeadm-leftovers.yml', ...controlPlaneArgumentsSources, 'tasks/kubernetes/playbooks/kubernetes-binaries.yml', 'tasks/kubernetes/playbooks/includes/kubernetes-binaries.yml', 'tasks/shared/playbooks/includes/package-manager-ready.yml', 'tasks/shared/playbooks/includes/package-lists.yml', 'tasks/kubernetes/playbooks/includes/kube-vip.yml', 'tasks/kubernetes/playbooks/includes/rke2-version.yml', 'tasks/kubernetes/playbooks/includes/kubelet-version.yml'],
  tools: ['ansible-playbook', 'helm'],
  timeout: '45m',
  run: async (context) => {
    const { config, inputs, root } = context;
    const cluster = clusterOf(config, inputs.cluster);
    const kubeconfig = kubeconfigPath(root, config, inputs.cluster);
    const target = { cluster_name: cluster.name, cluster_group: clusterGroup(cluster.name), ...controlPlaneVars(config, cluster) };
    // The control plane only: its workers join each on its own (node-join), so that one added later joins
    // alone. Its nodes already in the cluster first: a node added at the head of the list joins, never inits.
    const controlPlane = { cluster, controlPlane: (await membersFirst(context, cluster)).controlPlane.map(inventoryNode), workers: [] };
    if (!context.dryRun) mkdirSync(path.dirname(kubeconfig), { recursive: true, mode: 0o700 });
    if (cluster.distribution === 'rke2') {
      const token = context.dryRun ? '(cluster token)' : context.secret(await clusterToken(context, cluster));
      const artifacts = await rke2Inputs(context, root, config.versions.rke2);
      await playbook(context, 'tasks/kubernetes/playbooks/rke2.yml', controlPlane, { become: true, extraVars: { ...target, ...artifacts, cluster_token: token, kubeconfig_path: kubeconfig, node_taints: registrationTaints(cluster.controlPlane), kubelet_configuration: kubeletDropIn(cluster) } });
      return;
    }
    await playbook(context, 'tasks/kubernetes/playbooks/kubernetes-binaries.yml', controlPlane, { become: true, extraVars: { ...target, ...kubernetesInputs(context, cluster) } });
    // The authorities etcd-backup kept (checked against their sha256): a control plane initialised anew
    // (a rebuild) keeps the cluster's CAs and service-account key.
    const authorities = context.dryRun ? undefined : await keptAuthorities(root, snapshotDirectory(root, config, cluster.name));
    // Secrets are encrypted at rest with one secretbox key per cluster: the one its control plane holds, else
    // this fresh one (made here, so that it is a secret the engine redacts).
    const encryptionKey = context.dryRun ? '(secrets-encryption key)' : context.secret(randomBytes(32).toString('base64'));
    // A cluster whose API endpoint moves in this run (kubeadm-init.yml moves it) has its workers' kubelets
    // follow in the same play, so that none is left without its API while the rest of this step runs.
    const moving = !context.dryRun && endpointMoves(kubeconfig, cluster.apiAddress);
    const initScope = moving ? { ...controlPlane, workers: cluster.workers.map(inventoryNode) } : controlPlane;
    await playbook(context, 'tasks/kubernetes/playbooks/kubeadm-init.yml', initScope, { become: true, extraVars: { ...target, kubeconfig_path: kubeconfig, kept_authorities: authorities ?? '', secrets_encryption_key: encryptionKey, kubelet_configuration: kubeletDropIn(cluster) } });
    // The join token and the certificate key are made here, not by kubeadm on the node, so that they are
    // secrets the engine knows: redacted wherever they appear, Ansible's failure messages (which quote the
    // command line) included. Fresh on every run, valid for an hour.
    const join = context.dryRun ? { join_token: '(join token)', certificate_key: '(certificate key)' } : { join_token: context.secret(kubeadmToken()), certificate_key: context.secret(randomBytes(32).toString('hex')) };
    await playbook(context, 'tasks/kubernetes/playbooks/kubeadm-join.yml', controlPlane, { become: true, extraVars: { ...target, ...join } });
    // The control plane's own arguments (Secrets encrypted, the audit log, the components' metrics): a
    // cluster made without them, or whose settings changed, has its configuration and API servers rolled onto
    // them, its Secrets written again and etcd read to prove none is left in plain text.
    await rollControlPlaneArguments(context, controlPlane, { secrets_encryption_key: encryptionKey });
    if (cluster.cni === 'cilium') {
      await helmUpgradeInstall(context, {
        kubeconfig,
        namespace: 'kube-system',
        release: 'cilium',
        ...chartSource(context, ciliumChart, config.versions.cilium, 'install'),
        version: config.versions.cilium,
        values: ciliumValues(cluster),
        wait: true,
        timeout: '10m',
      });
      await kubectlRolloutStatus(context, { kubeconfig, namespace: 'kube-system', resource: 'daemonset/cilium', timeout: '10m' });
    }
  },
});

/**
 * A kubeadm cluster's control plane brought to Onboarder's arguments and its Secrets to the cluster's newest
 * secrets-encryption key (kubeadm-apiserver.yml), one API server at a time; `secrets_encryption_new_key`
 * adds a key first (a rotation). Its control plane in `scope`, members first.
 */
export async function rollControlPlaneArguments(
  context: ToolContext & { readonly config: Environment; readonly dryRun: boolean },
  scope: { readonly cluster: NamedCluster; readonly controlPlane: readonly InventoryNode[]; readonly workers: readonly InventoryNode[] },
  keys: { readonly secrets_encryption_key: string; readonly secrets_encryption_new_key?: string },
): Promise<void> {
  const { config, root } = context;
  const { cluster } = scope;
  const etcd = context.dryRun ? undefined : etcdRelease(root, config.versions.kubernetes);
  await playbook(context, 'tasks/kubernetes/playbooks/kubeadm-apiserver.yml', scope, {
    become: true,
    extraVars: {
      cluster_name: cluster.name,
      cluster_group: clusterGroup(cluster.name),
      ...controlPlaneVars(config, cluster),
      ...keys,
      ...(etcd ? { etcd_version: etcd.version, etcd_release: etcd.release, etcd_release_directory: etcd.directory } : {}),
    },
  });
}


/**
 * One worker joins its cluster: kubeadm join with a fresh token made on the first control-plane node, or
 * the RKE2 agent. One instance per worker: a worker added later joins alone, the others are not touched.
 * The workers of one cluster that join at the same time run as one playbook (`batch`).
 */
export const nodeJoin = tasks.task({
  name: 'node-join',
  description: 'One worker joins its cluster (kubeadm join, or the RKE2 agent)',
  supportsDryRun: true,
  inputs: { node: hostname },
  instances: everyWorker,
  // The control plane is up, and this node is prepared.
  deps: ({ node }, config): Dependency[] => [
    ...nodesOf(config, 'workers').filter((entry) => entry.node === node).map((entry) => kubernetes.with({ cluster: entry.cluster })),
    nodePrep.with({ node }),
  ],
  // After the cluster's roll to the environment's versions (kubespray's upgrade-cluster joins new nodes after
  // the control plane's upgrade too): a worker added while the versions move joins a control plane already
  // at its own version, never one older than its kubelet (Kubernetes' version skew policy). Ordering only: a
  // roll does not make a joined worker join again.
  after: ({ node }, config): Dependency[] => nodesOf(config, 'workers').filter((entry) => entry.node === node).map((entry) => upgrade.with({ cluster: entry.cluster })),
  batch: nodeCluster,
  estimate: '2m',
  sources: ['tasks/kubernetes/kubelet-configuration.ts', 'tasks/kubernetes/playbooks/kubeadm-join-worker.yml', 'tasks/kubernetes/playbooks/includes/kubeadm-resumable.yml', 'tasks/kubernetes/playbooks/includes/kubeadm-membership.yml', 'tasks/kubernetes/playbooks/vars/kubeadm-leftovers.yml', 'tasks/kubernetes/playbooks/includes/kubelet-arguments.yml', 'tasks/kubernetes/playbooks/includes/kubelet-serving-certificate.yml', 'tasks/kubernetes/playbooks/kubernetes-binaries.yml', 'tasks/kubernetes/playbooks/includes/kubernetes-binaries.yml', 'tasks/shared/playbooks/includes/package-manager-ready.yml', 'tasks/shared/playbooks/includes/package-lists.yml', 'tasks/kubernetes/playbooks/rke2-agent.yml', 'tasks/kubernetes/playbooks/includes/rke2-node.yml', 'tasks/kubernetes/playbooks/includes/rke2-version.yml', 'tasks/kubernetes/playbooks/includes/kubelet-version.yml'],
  tools: ['ansible-playbook'],
  timeout: '20m',
  retries: 1,
  run: async (context) => {
    const { config, root } = context;
    const { members, cluster } = batchNodes(context.batch);
    const target = { cluster_name: cluster.name, cluster_group: clusterGroup(cluster.name) };
    const workersOf = (standing: readonly { readonly node: ClusterNode }[]) => standing.map((member) => member.node);
    if (cluster.distribution === 'rke2') {
      const token = context.dryRun ? '(cluster token)' : context.secret(await clusterToken(context, cluster));
      const artifacts = await rke2Inputs(context, root, config.versions.rke2);
      await nodesPlaybook(context, 'tasks/kubernetes/playbooks/rke2-agent.yml', { cluster, controlPlane: [], workers: workersOf(members) }, members, { become: true, extraVars: { ...target, ...artifacts, cluster_token: token, node_taints: registrationTaints(workersOf(members)), kubelet_configuration: kubeletDropIn(cluster) } });
      return;
    }
    // The first control-plane node makes the join command for this run's token (a secret the engine knows).
    const firstControlPlane = (await membersFirst(context, cluster)).controlPlane.slice(0, 1).map(inventoryNode);
    const joinToken = context.dryRun ? '(join token)' : context.secret(kubeadmToken());
    await inTurn(members, [
      (standing) => nodesPlaybook(context, 'tasks/kubernetes/playbooks/kubernetes-binaries.yml', { cluster, controlPlane: [], workers: workersOf(standing) }, standing, { become: true, extraVars: { ...target, ...kubernetesInputs(context, cluster) } }),
      (standing) => nodesPlaybook(context, 'tasks/kubernetes/playbooks/kubeadm-join-worker.yml', { cluster, controlPlane: firstControlPlane, workers: workersOf(standing) }, standing, { become: true, extraVars: { ...target, join_token: joinToken, node_taints: registrationTaints(workersOf(standing)), kubelet_configuration: kubeletDropIn(cluster) } }),
    ]);
  },
});

/**
 * Rolls a cluster to the environment's versions (versions.rke2 for RKE2, versions.kubernetes for kubeadm),
 * after a snapshot of its etcd (kept with etcd-backup's), control planes one at a time, then the workers the cluster's workersAtOnce at a time (kubespray's serial,
 * 20% by default): cordon, drain, upgrade, restart, Ready, uncordon. Before any
 * node is touched every node's version is read, and a downgrade is refused. A first deploy finds every
 * node at its version and changes nothing; the steps that install a cluster never move a running node to
 * another version (they leave it to this step). Before the workers' joins: a node not in the cluster yet
 * (no kubelet kubeconfig) is not rolled, and joins after it at the environment's version.
 */
export const upgrade = tasks.task({
  name: 'upgrade',
  description: "Roll a cluster to the environment's versions (control planes one at a time, then its workersAtOnce)",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyCluster,
  // The control plane is up (a roll drains through its API), and on kubeadm the etcd release whose etcdctl
  // takes the snapshot before the roll is present and verified.
  deps: ({ cluster }, config): Dependency[] => [kubernetes.with({ cluster }), ...(clusterOf(config, cluster).distribution === 'kubeadm' ? fetched(config, etcdReleaseNames) : [])],
  estimate: '1m',
  sources: [
    'tasks/kubernetes/playbooks/rke2-upgrade.yml',
    'tasks/kubernetes/kubelet-configuration.ts',
    'tasks/kubernetes/playbooks/includes/rke2-roll-node.yml',
    'tasks/kubernetes/playbooks/includes/rke2-node.yml',
    'tasks/kubernetes/playbooks/files/audit-policy.yaml',
    'tasks/kubernetes/playbooks/kubeadm-upgrade.yml',
    'tasks/kubernetes/playbooks/includes/kubeadm-roll-node.yml',
    'tasks/shared/playbooks/includes/drain-node.yml',
    'tasks/shared/playbooks/includes/return-node.yml',
    'tasks/shared/playbooks/includes/return-drained-nodes.yml',
    'tasks/shared/playbooks/includes/cluster-kubectl.yml',
    'tasks/kubernetes/playbooks/includes/kubernetes-binaries.yml',
    'tasks/shared/playbooks/includes/package-manager-ready.yml',
    'tasks/shared/playbooks/includes/package-lists.yml',
    'tasks/kubernetes/playbooks/includes/rke2-version.yml',
    'tasks/kubernetes/playbooks/includes/kubelet-version.yml',
    'tasks/kubernetes/playbooks/includes/kubeadm-membership.yml',
    'tasks/kubernetes/playbooks/includes/kube-vip.yml',
    'tasks/kubernetes/playbooks/templates/kube-vip.yaml.j2',
    ...snapshotSources,
  ],
  tools: ['ansible-playbook'],
  timeout: '6h',
  run: async (context) => {
    const { config, inputs, root } = context;
    const cluster = clusterOf(config, inputs.cluster);
    const rke2 = cluster.distribution === 'rke2';
    const version = rke2 ? config.versions.rke2 : config.versions.kubernetes;
    const target = { cluster_name: cluster.name, cluster_group: clusterGroup(cluster.name), workers_at_once: rollWidth(config, cluster.name), ...controlPlaneVars(config, cluster) };
    // A snapshot of the cluster's etcd before any node is touched (kubespray backs etcd up before an
    // upgrade): etcd-restore brings the cluster back to it if the roll goes wrong.
    await takeSnapshot(context, cluster);
    // The workers, but not as an input: one added or taken out changes no node's version (one added joins
    // after this step, at the environment's version), so a scale-out does not run the roll again.
    const workers = untracked(cluster.workers).map(inventoryNode);
    if (context.dryRun) {
      // The plan names each node in the order of the roll (the versions it leaves are read on the nodes).
      for (const node of [...cluster.controlPlane, ...workers]) context.commands.started(`roll ${node.name} to ${rke2 ? 'RKE2' : 'Kubernetes'} ${version} if it runs another: cordon, drain, upgrade, restart, Ready, uncordon`)(0);
    }
    // The control plane in the order of the roll: a node in the cluster first (kubeadm upgrade apply runs there).
    const everyNode = { cluster, controlPlane: (await membersFirst(context, cluster)).controlPlane.map(inventoryNode), workers };
    if (rke2) {
      const token = context.dryRun ? '(cluster token)' : context.secret(await clusterToken(context, cluster));
      // A rolled node's configuration is written again (rke2-node.yml): with the taints it registered with and
      // the cluster's kubelet settings as they are, read untracked (the kubernetes and node-join steps follow
      // their changes; the roll follows the version only).
      const nodeFiles = {
        node_taints: registrationTaints([...untracked(cluster.controlPlane), ...untracked(cluster.workers)]),
        kubelet_configuration: kubeletDropIn({ name: cluster.name, kubelet: untracked(cluster.kubelet) }),
      };
      await playbook(context, 'tasks/kubernetes/playbooks/rke2-upgrade.yml', everyNode, { become: true, extraVars: { ...target, ...(await rke2Inputs(context, root, version)), cluster_token: token, rke2_artifact_path: '/opt/rke2/artifacts', ...nodeFiles, drain: drainPolicy(config, cluster.name) } });
      return;
    }
    await playbook(context, 'tasks/kubernetes/playbooks/kubeadm-upgrade.yml', everyNode, { become: true, extraVars: { ...target, ...kubernetesInputs(context, cluster), drain: drainPolicy(config, cluster.name) } });
  },
});

/**
 * What the platform releases of one cluster are made of: Velero's S3 credentials and CA where the
 * environment names its store (the credentials are secrets: redacted wherever they would show, and a
 * rotated one installs the releases again).
 */
function releaseTarget(context: ToolContext & { readonly config: Environment; readonly dryRun: boolean }, cluster: string): ReleaseTarget {
  const { config, root } = context;
  const proxmoxCsiToken = proxmoxCsiTokenFor(context);
  if (!config.velero) return { config, cluster, veleroCredentials: '', proxmoxCsiToken };
  void config.secretDigests?.velero?.accessKeyId;
  void config.secretDigests?.velero?.secretAccessKey;
  const credentials = veleroCredentialsFile(secretValue(context, config.velero.accessKeyId), secretValue(context, config.velero.secretAccessKey));
  return { config, cluster, veleroCredentials: credentials, proxmoxCsiToken, ...(config.velero.caFile ? { veleroCa: readFileSync(path.resolve(root, config.velero.caFile), 'utf8') } : {}) };
}

/** The storage driver's token where the nodes are Proxmox VMs (proxmox-csi-token keeps it); placeholders otherwise and in a plan. */
function proxmoxCsiTokenFor(context: ToolContext & { readonly config: Environment; readonly dryRun: boolean }): ReleaseTarget['proxmoxCsiToken'] {
  const placeholder = { tokenId: `${csiUser}!csi`, token: '(kept by proxmox-csi-token)' };
  if (context.dryRun || withoutProxmox(context.config)) return placeholder;
  const kept = keptCsiToken(context);
  if (!kept) throw new Error(`no token of ${csiUser} is kept in ${path.relative(context.root, csiTokenFile(context.root, context.config))}: run proxmox-csi-token first`);
  return kept;
}

/**
 * Each node's topology labels, which Proxmox CSI places volumes by: the site's region and, as its zone, the
 * Proxmox node its VM runs on (where the VMs' OpenTofu module put it).
 */
async function labelTopology(context: ToolContext & { readonly config: Environment }, kubeconfig: string, cluster: string): Promise<void> {
  const { config } = context;
  const named = clusterOf(config, cluster);
  for (const node of [...named.controlPlane, ...named.workers]) {
    await kubectlLabelNode(context, { kubeconfig, node: node.name, labels: { 'topology.kubernetes.io/region': proxmoxRegion(config), 'topology.kubernetes.io/zone': proxmoxNodeOf(config, node) } });
  }
}

interface NodeObjects {
  readonly items?: readonly { readonly metadata: { readonly name: string; readonly annotations?: Readonly<Record<string, string>> }; readonly spec?: { readonly taints?: readonly Taint[] } }[];
}

/**
 * The labels and taints of a cluster's nodes, as the environment declares them (each node's `labels` and
 * `taints`), set through the API once the nodes have joined, so a label the kubelet may not set itself
 * (node-role.kubernetes.io/...) works too. Desired state: labels by server-side apply under Onboarder's
 * own field manager (one taken out of the environment is removed; labels others set stay), taints with
 * `kubectl taint` (the Node keeps the ones Onboarder set in an annotation, so one taken out is removed and
 * the node controller's or a cordon's stay). Reads only the nodes' names, labels and taints: changing one
 * re-runs this step alone.
 */
export const nodeLabels = tasks.task({
  name: 'node-labels',
  description: "The labels and taints of a cluster's nodes, as the environment declares them",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyCluster,
  // Every node of the cluster has joined (a worker added joins first, then gets its labels).
  deps: ({ cluster }, config): Dependency[] => [kubernetes.with({ cluster }), ...workersJoined(cluster, config)],
  estimate: '10s',
  tools: ['kubectl'],
  timeout: '10m',
  retries: 1,
  run: async (context) => {
    const { config, inputs, root } = context;
    const cluster = clusterOf(config, inputs.cluster);
    const kubeconfig = kubeconfigPath(root, config, cluster.name);
    const declared: DeclaredNode[] = [...cluster.controlPlane, ...cluster.workers].map((node) => ({
      name: node.name,
      labels: Object.fromEntries(Object.entries(node.labels)),
      taints: node.taints.map((taint) => ({ key: taint.key, ...(taint.value ? { value: taint.value } : {}), effect: taint.effect })),
    }));
    const listed = context.dryRun ? [] : ((await kubectlGet<NodeObjects>(context, { kubeconfig, resource: 'nodes' })).items ?? []);
    const kubeadmControlPlane = new Set(cluster.distribution === 'kubeadm' ? cluster.controlPlane.map((node) => node.name) : []);
    for (const node of declared) {
      const object = listed.find((item) => item.metadata.name === node.name);
      if (!object && !context.dryRun) throw new Error(`node ${node.name} is not in the API of cluster ${cluster.name}: it has not joined (run 'node-join[node=${node.name}]'), or its kubelet registers it under another name`);
      const managedBefore = managedTaints(object?.metadata.annotations);
      const { wanted, managed } = kubeadmControlPlane.has(node.name) ? kubeadmControlPlaneTaints(node.taints, managedBefore, cluster.workers.length > 0) : { wanted: node.taints, managed: managedBefore };
      // A plan assumes each node as it registered: a kubeadm control plane with kubeadm's taint, no other.
      const current = context.dryRun ? (kubeadmControlPlane.has(node.name) ? [kubeadmControlPlaneTaint] : []) : (object?.spec?.taints ?? []);
      const changes = taintChanges(wanted, current, managed);
      for (const taint of changes) await kubectlTaintNode(context, { kubeconfig, node: node.name, taint });
    }
    await withPrivateFile('node-labels.json', nodeLabelsManifest(declared), (file) => kubectlApply(context, { kubeconfig, files: [file], fieldManager: nodeLabelsFieldManager, forceConflicts: true }));
  },
});

/**
 * kubelet-csr-approver on a kubeadm cluster (tasks/shared/chart-releases.ts): approves each kubelet's request
 * for a serving certificate signed by the cluster's CA, for the node's own name and address. Its values name
 * every node's address, so a node added or taken out installs it again: this step alone, not the platform
 * services. Before them: until it runs, a new node's kubelet has no serving certificate (no logs, exec or
 * metrics), and metrics-server is not ready.
 */
export const kubeletCsrApprover = tasks.task({
  name: 'kubelet-csr-approver',
  description: "Approves the serving-certificate requests of a kubeadm cluster's kubelets, for each node's own name and address",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyKubeadmCluster,
  // Installed into the running cluster, from its verified chart.
  deps: ({ cluster }, config): Dependency[] => [kubernetes.with({ cluster }), ...fetched(config, ['kubelet-csr-approver'])],
  estimate: '1m',
  tools: ['helm'],
  sources: ['tasks/shared/chart-releases.ts', 'tasks/shared/chart-source.ts'],
  timeout: '15m',
  retries: 1,
  run: async (context) => {
    const { config, inputs, root } = context;
    const version = config.versions.charts[csrApproverRelease.release];
    await helmUpgradeInstall(context, {
      release: csrApproverRelease.release,
      namespace: csrApproverRelease.namespace,
      ...chartSource(context, csrApproverRelease, version, 'install'),
      values: csrApproverRelease.values({ config, cluster: inputs.cluster, veleroCredentials: '', proxmoxCsiToken: { tokenId: '', token: '' } }),
      kubeconfig: kubeconfigPath(root, config, inputs.cluster),
      version,
      wait: true,
      atomic: true,
      timeout: '10m',
    });
  },
});

/**
 * CoreDNS scaled with a kubeadm cluster (kubespray's dns-autoscaler: tasks/kubernetes/dns-autoscaler.ts), where
 * kubeadm leaves it at two replicas whatever the cluster's size. Its default minimum follows the number of
 * nodes (1 on a one-node cluster), so a node added or taken out applies it again: this step alone, in seconds.
 * `dnsAutoscaler: false` removes it.
 */
export const dnsAutoscaler = tasks.task({
  name: 'dns-autoscaler',
  description: "Scales a kubeadm cluster's CoreDNS with its nodes and cores (the cluster-proportional-autoscaler, as kubespray runs it)",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyKubeadmCluster,
  // Applied to the running cluster (its image in the site registry on an air-gapped site, as the
  // kubernetes step's are).
  deps: ({ cluster }): Dependency[] => [kubernetes.with({ cluster })],
  estimate: '1m',
  tools: ['kubectl'],
  sources: ['tasks/kubernetes/dns-autoscaler.ts'],
  timeout: '10m',
  retries: 1,
  run: async (context) => {
    const { config, inputs, root } = context;
    const kubeconfig = kubeconfigPath(root, config, inputs.cluster);
    const cluster = clusterOf(config, inputs.cluster);
    if (cluster.dnsAutoscaler === false) {
      for (const object of dnsAutoscalerObjects) await kubectlDelete(context, { kubeconfig, ...object });
      context.log.info(`dns-autoscaler: removed (clusters.${cluster.name}.dnsAutoscaler is false): CoreDNS keeps the replicas it has`);
      return;
    }
    await withPrivateFile('dns-autoscaler.json', dnsAutoscalerManifest(cluster), (file) => kubectlApply(context, { kubeconfig, files: [file], fieldManager: 'onboarder-dns-autoscaler', forceConflicts: true }));
    await kubectlRolloutStatus(context, { kubeconfig, namespace: 'kube-system', resource: 'deployment/dns-autoscaler', timeout: '5m' });
  },
});

/** The approver of a kubeadm cluster's kubelet serving certificates: what waits for it. */
const servingCertificatesApproved = (cluster: string, config: Environment): Dependency[] => (clusterOf(config, cluster).distribution === 'kubeadm' ? [kubeletCsrApprover.with({ cluster })] : []);

/** The platform services of a cluster (the seed's phase 5), one Helm release each. */
export const platformServices = tasks.task({
  name: 'platform-services',
  description: "metrics-server (kubeadm), ingress-nginx, kube-prometheus-stack, cert-manager (with the site CA's issuer), Proxmox CSI, Velero",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyCluster,
  // Installed into the running cluster, through its kubeconfig; on Proxmox the storage driver's token made.
  deps: ({ cluster }, config): Dependency[] => [kubernetes.with({ cluster }), ...fetched(config, platformChartNames), proxmoxCsiToken],
  // Their pods schedule on the workers, with their labels and taints. Ordering only: a worker added later,
  // or a label changed, must not re-install the charts.
  after: ({ cluster }, config): Dependency[] => [...workersJoined(cluster, config), nodeLabels.with({ cluster }), ...servingCertificatesApproved(cluster, config)],
  estimate: '10m',
  tools: ['helm'],
  // The releases and their values, and where each chart is taken from; the storage driver's kept token (a
  // new one installs again).
  sources: ['tasks/shared/chart-releases.ts', 'tasks/shared/chart-source.ts', { path: '.cache/state/*/proxmox-csi-token.json', optional: true }],
  timeout: '30m',
  retries: 1,
  run: async (context) => {
    const { config, inputs, root } = context;
    const kubeconfig = kubeconfigPath(root, config, inputs.cluster);
    const target = releaseTarget(context, inputs.cluster);
    for (const release of platformReleases) {
      const notInstalled = release.notInstalledBecause?.(config, inputs.cluster);
      if (notInstalled) {
        context.log.info(`${release.release}: not installed: ${notInstalled}`);
        continue;
      }
      const version = config.versions.charts[release.release];
      if (release.release === 'proxmox-csi-plugin') await labelTopology(context, kubeconfig, inputs.cluster);
      await helmUpgradeInstall(context, {
        release: release.release,
        namespace: release.namespace,
        ...chartSource(context, release, version, 'install'),
        values: release.values(target),
        kubeconfig,
        version,
        applyCrds: true,
        createNamespace: true,
        wait: true,
        atomic: true,
        timeout: '10m',
      });
      if (release.release === 'cert-manager') await siteIssuer(context, kubeconfig);
    }
  },
});

/** The ClusterIssuer (and its CA's Secret, in cert-manager's namespace) that issues from the site's CA. */
export const siteIssuerName = 'openspace-site-ca';

/**
 * cert-manager's CA issuer for the site (environment `siteCa`), applied once cert-manager and its CRDs are in:
 * the CA's certificate and key as a TLS Secret and the ClusterIssuer `openspace-site-ca` that signs with
 * them. Without a site CA, both are deleted (an environment that drops it drops the issuer). A new certificate
 * or key installs them again (their digests are read).
 */
async function siteIssuer(context: ToolContext & { readonly config: Environment; readonly dryRun: boolean }, kubeconfig: string): Promise<void> {
  const { config, root } = context;
  if (!config.siteCa) {
    await kubectlDelete(context, { kubeconfig, kind: 'clusterissuer', name: siteIssuerName });
    await kubectlDelete(context, { kubeconfig, namespace: 'cert-manager', kind: 'secret', name: siteIssuerName });
    return;
  }
  void config.secretDigests?.siteCa?.certificate;
  void config.secretDigests?.siteCa?.key;
  const certificate = context.dryRun ? '(the site CA)' : readFileSync(path.resolve(root, config.siteCa.certificate), 'utf8');
  const key = secretValue(context, config.siteCa.key);
  await withPrivateFile('site-issuer.json', siteIssuerManifest(certificate, key), (file) => kubectlApply(context, { kubeconfig, files: [file] }));
}

/** The site CA's Secret and its ClusterIssuer, as one JSON manifest (a List). */
export function siteIssuerManifest(certificate: string, key: string): string {
  const labels = { 'app.kubernetes.io/managed-by': 'onboarder' };
  const base64 = (text: string) => Buffer.from(text.endsWith('\n') ? text : `${text}\n`).toString('base64');
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: siteIssuerName, namespace: 'cert-manager', labels }, data: { 'tls.crt': base64(certificate), 'tls.key': base64(key) } },
      { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: siteIssuerName, labels }, spec: { ca: { secretName: siteIssuerName } } },
    ],
  });
}

/**
 * A downstream cluster registered with the management cluster: its admin kubeconfig kept in MCM as the
 * Secret `<cluster>-kubeconfig` of the `openspace-clusters` namespace (labelled with its name and role),
 * which is what the management plane reads to manage it. Applied server-side, so a re-run after a
 * kubeconfig change updates it in place.
 */
export const registration = tasks.task({
  name: 'registration',
  description: 'Register a downstream cluster with MCM (its kubeconfig as a Secret in MCM)',
  supportsDryRun: true,
  inputs: clusterInput,
  instances: (config) => clustersOf(config).filter((cluster) => cluster.role !== 'mcm').map(({ name }) => ({ cluster: name })),
  // Both clusters' APIs are up: the downstream's kubeconfig exists, and MCM's API takes the Secret.
  deps: ({ cluster }, config): Dependency[] => [kubernetes.with({ cluster }), kubernetes.with({ cluster: managementCluster(config).name })],
  estimate: '1m',
  tools: ['kubectl'],
  timeout: '10m',
  retries: 2,
  run: async (context) => {
    const { config, inputs, root } = context;
    const cluster = clusterOf(config, inputs.cluster);
    const kubeconfig = context.dryRun ? '(the kubeconfig of the cluster)' : context.secret(readFileSync(kubeconfigPath(root, config, cluster.name), 'utf8'));
    const manifest = registrationManifest(cluster.name, cluster.role, kubeconfig);
    await withPrivateFile('registration.json', manifest, (file) => kubectlApply(context, { kubeconfig: kubeconfigPath(root, config, managementCluster(config).name), files: [file] }));
  },
});

const roleLabels: Record<ClusterRole, string> = { mcm: 'management', osms: 'management-plane', osdc: 'data-plane' };

/** The namespace and Secret that register `cluster` with MCM, as one JSON manifest (a List). */
export function registrationManifest(cluster: string, role: ClusterRole, kubeconfig: string): string {
  const labels = { 'app.kubernetes.io/managed-by': 'onboarder', 'openspace.io/cluster': cluster, 'openspace.io/role': roleLabels[role] };
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'openspace-clusters' } },
      { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: `${cluster}-kubeconfig`, namespace: 'openspace-clusters', labels }, stringData: { kubeconfig } },
    ],
  });
}

/** One cluster, whole: `cluster[name=osdc-b]` deploys (or updates, or upgrades) just that cluster and what it needs. */
export const cluster = tasks.task({
  name: 'cluster',
  description: 'One cluster by name: its VMs, nodes, Kubernetes, platform services, and registration with MCM',
  inputs: { name: clusterInput.cluster },
  instances: (config) => clustersOf(config).map(({ name }) => ({ name })),
  // Its platform services; a downstream cluster also its registration with MCM.
  deps: ({ name }, config): Dependency[] => [
    platformServices.with({ cluster: name }),
    ...servingCertificatesApproved(name, config),
    ...(clusterOf(config, name).distribution === 'kubeadm' ? [dnsAutoscaler.with({ cluster: name })] : []),
    nodeLabels.with({ cluster: name }),
    upgrade.with({ cluster: name }),
    ...(clusterOf(config, name).role === 'mcm' ? [] : [registration.with({ cluster: name })]),
  ],
});

/** A target by role: every cluster of that role the environment declares. */
function roleTarget(role: ClusterRole, description: string) {
  return tasks.task({
    name: role,
    description,
    deps: (_, config): Dependency[] => clustersOf(config, role).map(({ name }) => cluster.with({ name })),
    // A site without such a cluster is told so, rather than shown a target that ran and did nothing.
    skipWhen: (config) => clustersOf(config, role).length === 0 && `the environment declares no cluster of role ${role} (clusters.<name>.role)`,
  });
}

export const mcm = roleTarget('mcm', 'MCM: the RKE2 management cluster');
export const osms = roleTarget('osms', 'OSMS: every management-plane cluster');
export const osdc = roleTarget('osdc', 'OSDC: every data-plane cluster');

/** The join of every worker of a cluster: what a step that works on all of its nodes waits for. */
export function workersJoined(cluster: string, config: Environment): Dependency[] {
  return nodesOf(config, 'workers')
    .filter((entry) => entry.cluster === cluster)
    .map(({ node }) => nodeJoin.with({ node }));
}
