import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import { withScratchDirectory } from '../state/scratch-directory.js';
import { reportToolVersion, runCommand, type ToolContext } from './command.js';
import { withPrivateFile } from './private-file.js';

export interface KubeOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace?: string;
}

function kubeArgs(options: KubeOptions): string[] {
  const args: string[] = [];
  if (options.kubeconfig) args.push(`--kubeconfig=${options.kubeconfig}`);
  if (options.context) args.push(`--context=${options.context}`);
  if (options.namespace) args.push(`--namespace=${options.namespace}`);
  return args;
}

async function kubectl(context: ToolContext, options: KubeOptions, args: readonly string[]) {
  await reportToolVersion(context, 'kubectl');
  return runCommand(context, ['kubectl', ...kubeArgs(options), ...args]);
}

/** Server-side apply of files, directories, or a kustomize directory. */
export async function kubectlApply(
  context: ToolContext,
  options: KubeOptions & { readonly files?: readonly string[]; readonly kustomize?: string; readonly fieldManager?: string; readonly forceConflicts?: boolean },
): Promise<void> {
  const args = ['apply', '--server-side', `--field-manager=${options.fieldManager ?? 'onboarder'}`];
  if (options.forceConflicts) args.push('--force-conflicts');
  for (const file of options.files ?? []) args.push('-f', file);
  if (options.kustomize) args.push('-k', options.kustomize);
  await kubectl(context, options, args);
}

/** Waits for a rollout (deployment, statefulset, daemonset) to finish. */
export async function kubectlRolloutStatus(context: ToolContext, options: KubeOptions & { readonly resource: string; readonly timeout: string }): Promise<void> {
  await kubectl(context, options, ['rollout', 'status', options.resource, `--timeout=${options.timeout}`]);
}

/** A node as its cluster's API lists it. */
export interface ListedNode {
  readonly name: string;
  /** It carries the control-plane role (kubeadm's and RKE2's `node-role.kubernetes.io/control-plane` label). */
  readonly controlPlane: boolean;
  /** Its Ready condition is True: its kubelet answers, so its pods can be evicted. */
  readonly ready: boolean;
  /** It is cordoned (spec.unschedulable): no new pod lands on it. */
  readonly cordoned: boolean;
  /** Its InternalIP, where the API knows one. */
  readonly address?: string;
  /** The boot its kubelet last reported (status.nodeInfo.bootID): another one once the machine has restarted and its kubelet is back. */
  readonly bootId?: string;
  readonly annotations: Readonly<Record<string, string>>;
}

interface NodeList {
  readonly items?: readonly {
    readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> };
    readonly spec?: { readonly unschedulable?: boolean };
    readonly status?: {
      readonly conditions?: readonly { readonly type: string; readonly status: string }[];
      readonly addresses?: readonly { readonly type: string; readonly address: string }[];
      readonly nodeInfo?: { readonly bootID?: string };
    };
  }[];
}

/** A cluster's nodes, as its API lists them (none in a dry run). */
export async function kubectlNodes(context: ToolContext, options: KubeOptions): Promise<ListedNode[]> {
  const result = await kubectl(context, options, ['get', 'nodes', '-o', 'json']);
  if (result.stdout.trim() === '') return [];
  const list = JSON.parse(result.stdout) as NodeList;
  return (list.items ?? []).map((item) => {
    const address = item.status?.addresses?.find((entry) => entry.type === 'InternalIP')?.address;
    return {
      name: item.metadata.name,
      controlPlane: Object.hasOwn(item.metadata.labels ?? {}, 'node-role.kubernetes.io/control-plane'),
      ready: item.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') ?? false,
      cordoned: item.spec?.unschedulable === true,
      ...(address ? { address } : {}),
      ...(item.status?.nodeInfo?.bootID ? { bootId: item.status.nodeInfo.bootID } : {}),
      annotations: item.metadata.annotations ?? {},
    };
  });
}

/**
 * How a node is drained: `kubectl drain`'s arguments after the node's name, how many times a drain that
 * fails is tried in all, and how long to wait between attempts. The catalog's is kubespray's upgrade's
 * (environments/drain-settings.ts); the playbooks that drain take it as `drain` (drain-node.yml).
 */
export interface DrainPolicy {
  readonly arguments: readonly string[];
  readonly attempts: number;
  readonly retryDelaySeconds: number;
}

/** Cordons a node and evicts its pods as `policy` says, as kubespray's upgrade and remove-node do first. */
export async function kubectlDrain(context: ToolContext, options: KubeOptions & { readonly node: string; readonly policy: DrainPolicy }): Promise<void> {
  const { policy } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      await kubectl(context, options, ['drain', options.node, ...policy.arguments]);
      return;
    } catch (error) {
      if (attempt >= policy.attempts || context.signal.aborted) throw error;
      context.log.warn(`${options.node} is not drained yet (attempt ${attempt} of ${policy.attempts}): trying again in ${policy.retryDelaySeconds} s`);
      await sleep(policy.retryDelaySeconds * 1000, undefined, { signal: context.signal });
    }
  }
}

/** `kubectl wait --for=condition=Ready node/NODE`: returns once the node is Ready, fails after `timeout`. */
export async function kubectlWaitReady(context: ToolContext, options: KubeOptions & { readonly node: string; readonly timeout: string }): Promise<void> {
  await kubectl(context, options, ['wait', '--for=condition=Ready', `node/${options.node}`, `--timeout=${options.timeout}`]);
}

/**
 * Returns once the node's kubelet renews its lease (kube-node-lease/NODE, every 10 s while it runs), asking
 * every `pollMs`: its kubelet runs now. The Ready condition alone can be the one from before a restart, for
 * the node's grace period; the lease moves only while the kubelet does. The lease is compared with itself,
 * never with this machine's clock. Fails after `timeoutMs`.
 */
export async function kubectlWaitLeaseRenewed(context: ToolContext, options: KubeOptions & { readonly node: string; readonly timeoutMs: number; readonly pollMs?: number }): Promise<void> {
  if (context.dryRun) return;
  const renewTime = async () => (await kubectl(context, options, ['get', 'lease', '--namespace=kube-node-lease', options.node, '-o', 'jsonpath={.spec.renewTime}'])).stdout.trim();
  const first = await renewTime();
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 5_000));
    if ((await renewTime()) !== first) return;
    if (Date.now() >= deadline) throw new Error(`its kubelet has not renewed its lease in ${Math.round(options.timeoutMs / 60_000)} minutes (last at ${first || 'never'})`);
  }
}

/** `kubectl annotate node NODE key=value --overwrite`, or `key-` (value undefined) to take it off. */
export async function kubectlAnnotateNode(context: ToolContext, options: KubeOptions & { readonly node: string; readonly key: string; readonly value: string | undefined }): Promise<void> {
  await kubectl(context, options, ['annotate', 'node', options.node, options.value === undefined ? `${options.key}-` : `${options.key}=${options.value}`, ...(options.value === undefined ? [] : ['--overwrite'])]);
}

/** `kubectl uncordon NODE`: new pods may land on it again (after a drain). */
export async function kubectlUncordon(context: ToolContext, options: KubeOptions & { readonly node: string }): Promise<void> {
  await kubectl(context, options, ['uncordon', options.node]);
}

/** `kubectl delete <kind> <name> --ignore-not-found`: gone, whether it was there or not. */
export async function kubectlDelete(context: ToolContext, options: KubeOptions & { readonly kind: string; readonly name: string }): Promise<void> {
  await kubectl(context, options, ['delete', options.kind, options.name, '--ignore-not-found']);
}

/** `kubectl taint node NODE key[=value]:Effect --overwrite`, or `key:Effect-` to remove one. */
export async function kubectlTaintNode(context: ToolContext, options: KubeOptions & { readonly node: string; readonly taint: string }): Promise<void> {
  await kubectl(context, options, ['taint', 'node', options.node, options.taint, ...(options.taint.endsWith('-') ? [] : ['--overwrite'])]);
}

/** `kubectl label node NODE key=value... --overwrite`: a node's labels set to these values. */
export async function kubectlLabelNode(context: ToolContext, options: KubeOptions & { readonly node: string; readonly labels: Readonly<Record<string, string>> }): Promise<void> {
  await kubectl(context, options, ['label', 'node', options.node, ...Object.entries(options.labels).map(([key, value]) => `${key}=${value}`), '--overwrite']);
}

/** `kubectl create -f FILE`: a new object (a Velero Restore, a Job run), refused where one has its name. */
export async function kubectlCreate(context: ToolContext, options: KubeOptions & { readonly file: string }): Promise<void> {
  await kubectl(context, options, ['create', '-f', options.file]);
}

/** `kubectl get -o json`, parsed. */
export async function kubectlGet<Resource = unknown>(context: ToolContext, options: KubeOptions & { readonly resource: string; readonly selector?: string }): Promise<Resource> {
  const args = ['get', options.resource, '-o', 'json'];
  if (options.selector) args.push(`--selector=${options.selector}`);
  const result = await kubectl(context, options, args);
  try {
    return JSON.parse(result.stdout) as Resource;
  } catch {
    throw new Error(`kubectl get ${options.resource} -o json printed no JSON (${result.stdout.trim() === '' ? 'nothing' : JSON.stringify(result.stdout.trim().slice(0, 80))}): is the kubeconfig's API a Kubernetes API?`);
  }
}

export interface HelmRelease extends KubeOptions {
  readonly release: string;
  readonly chart: string;
  readonly version?: string;
  /** Written to a 0600 values file, never passed with --set. */
  readonly values?: Readonly<Record<string, unknown>>;
  readonly valuesFiles?: readonly string[];
  readonly wait?: boolean;
  readonly atomic?: boolean;
  readonly timeout?: string;
  readonly createNamespace?: boolean;
  /** How to reach the OCI registry an `oci://` chart comes from, when it is not public (a site registry). */
  readonly registry?: HelmRegistryAccess;
  /**
   * Apply the chart's CRDs (its `crds/` directories and its dependencies', as `helm show crds` prints them)
   * before each install or upgrade, server-side: helm creates them at the first install only and never
   * upgrades them, so a newer chart would run against the CRDs of the first one (Flux's `crds:
   * CreateReplace`; kube-prometheus-stack's documented upgrade step).
   */
  readonly applyCrds?: boolean;
}

/** An OCI registry helm pulls a chart from: its CA, and credentials (the password goes on stdin only). */
export interface HelmRegistryAccess {
  /** host[:port], as in the chart's `oci://` reference. */
  readonly host: string;
  /** PEM file of the CA its TLS certificate is verified with. */
  readonly caFile?: string;
  readonly username?: string;
  readonly password?: string;
  /** A registry whose TLS certificate is not verified (a trusted proxy only: digests still decide). */
  readonly insecureSkipTlsVerify?: boolean;
  /** A registry reached over plain HTTP (a mirror whose URL is http://). */
  readonly plainHttp?: boolean;
}

/**
 * Runs `body` with helm's arguments for `registry`: `--ca-file`, and when it has credentials, a registry
 * configuration of its own (`helm registry login --password-stdin` into a private scratch directory, gone
 * afterwards), so the password is on no command line and in no file of the operator's.
 */
async function withRegistryArgs<Result>(context: ToolContext, registry: HelmRegistryAccess | undefined, body: (args: readonly string[]) => Promise<Result>): Promise<Result> {
  if (!registry) return body([]);
  const tls = [...(registry.caFile ? ['--ca-file', registry.caFile] : []), ...(registry.insecureSkipTlsVerify ? ['--insecure-skip-tls-verify'] : []), ...(registry.plainHttp ? ['--plain-http'] : [])];
  if (registry.username === undefined || registry.password === undefined) return body(tls);
  const { password } = registry;
  return withScratchDirectory('registry', async (directory) => {
    const config = ['--registry-config', path.join(directory, 'registry.json')];
    await runCommand(context, ['helm', 'registry', 'login', registry.host, '--username', registry.username!, '--password-stdin', ...config, ...tls], { input: password });
    return body([...config, ...tls]);
  });
}

function helmKubeArgs(options: KubeOptions): string[] {
  const args: string[] = [];
  if (options.kubeconfig) args.push(`--kubeconfig=${options.kubeconfig}`);
  if (options.context) args.push(`--kube-context=${options.context}`);
  if (options.namespace) args.push(`--namespace=${options.namespace}`);
  return args;
}

async function withValues<Result>(options: HelmRelease, body: (args: string[]) => Promise<Result>): Promise<Result> {
  const args = (options.valuesFiles ?? []).flatMap((file) => ['--values', file]);
  if (!options.values) return body(args);
  return withPrivateFile('values.yaml', YAML.stringify(options.values), (file) => body([...args, '--values', file]));
}

/** The chart's CRDs (`helm show crds`), applied server-side with the release's kubeconfig; nothing when it has none. */
async function applyChartCrds(context: ToolContext, options: HelmRelease, registryArgs: readonly string[]): Promise<void> {
  const args = ['helm', 'show', 'crds', options.chart, ...registryArgs];
  if (options.version) args.push('--version', options.version);
  const crds = (await runCommand(context, args, { displayLine: () => undefined })).stdout;
  // A dry run cannot know whether the chart has CRDs (helm is not run): its plan shows the apply that follows where it does.
  if (!context.dryRun && !YAML.parseAllDocuments(crds).some((document) => document.toJS() !== null)) return;
  await withPrivateFile('crds.yaml', crds, (file) => kubectlApply(context, { kubeconfig: options.kubeconfig, context: options.context, files: [file], forceConflicts: true }));
}

/** `helm upgrade --install`, idempotent. */
export async function helmUpgradeInstall(context: ToolContext, options: HelmRelease): Promise<void> {
  await reportToolVersion(context, 'helm');
  await withValues(options, (valueArgs) => withRegistryArgs(context, options.registry, async (registryArgs) => {
    if (options.applyCrds) await applyChartCrds(context, options, registryArgs);
    const args = ['helm', 'upgrade', '--install', options.release, options.chart, ...helmKubeArgs(options), ...valueArgs, ...registryArgs];
    if (options.version) args.push('--version', options.version);
    if (options.wait) args.push('--wait');
    if (options.atomic) args.push('--atomic');
    if (options.timeout) args.push('--timeout', options.timeout);
    if (options.createNamespace) args.push('--create-namespace');
    return runCommand(context, args);
  }));
}

/**
 * `helm template`: the rendered manifests (kept, not shown: a chart renders to thousands of lines), as the
 * cluster at `kubeVersion` would get them, without the chart's test pods.
 */
export async function helmTemplate(context: ToolContext, options: HelmRelease & { readonly kubeVersion?: string }): Promise<string> {
  return withValues(options, (valueArgs) => withRegistryArgs(context, options.registry, async (registryArgs) => {
    const args = ['helm', 'template', options.release, options.chart, ...helmKubeArgs(options), ...valueArgs, ...registryArgs];
    if (options.version) args.push('--version', options.version);
    if (options.kubeVersion) args.push('--kube-version', options.kubeVersion);
    // The chart's test pods run only under `helm test`, which the catalog never runs: their images are not the release's.
    args.push('--skip-tests');
    return (await runCommand(context, args, { displayLine: () => undefined })).stdout;
  }));
}
