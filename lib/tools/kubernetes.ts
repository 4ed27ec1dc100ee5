import YAML from 'yaml';
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

/** `kubectl wait --for=condition=...`. */
export async function kubectlWait(context: ToolContext, options: KubeOptions & { readonly resource: string; readonly for: string; readonly timeout: string; readonly all?: boolean }): Promise<void> {
  const args = ['wait', options.resource, `--for=${options.for}`, `--timeout=${options.timeout}`];
  if (options.all) args.push('--all');
  await kubectl(context, options, args);
}

/** The names of a cluster's nodes, as its API lists them. */
export async function kubectlNodeNames(context: ToolContext, options: KubeOptions): Promise<string[]> {
  const result = await kubectl(context, options, ['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}']);
  return result.stdout.split(/\s+/).filter((name) => name !== '');
}

/**
 * Takes a node out of its cluster: cordoned and drained (daemon sets stay, emptyDir data goes), then its
 * Node object deleted, as kubespray's remove-node does before the machine goes.
 */
export async function kubectlRemoveNode(context: ToolContext, options: KubeOptions & { readonly node: string; readonly timeout: string }): Promise<void> {
  await kubectl(context, options, ['drain', options.node, '--ignore-daemonsets', '--delete-emptydir-data', `--timeout=${options.timeout}`]);
  await kubectl(context, options, ['delete', 'node', options.node, '--ignore-not-found']);
}

/** `kubectl delete <kind> <name> --ignore-not-found`: gone, whether it was there or not. */
export async function kubectlDelete(context: ToolContext, options: KubeOptions & { readonly kind: string; readonly name: string }): Promise<void> {
  await kubectl(context, options, ['delete', options.kind, options.name, '--ignore-not-found']);
}

/** `kubectl get -o json`, parsed. */
export async function kubectlGet<Resource = unknown>(context: ToolContext, options: KubeOptions & { readonly resource: string; readonly selector?: string }): Promise<Resource> {
  const args = ['get', options.resource, '-o', 'json'];
  if (options.selector) args.push(`--selector=${options.selector}`);
  const result = await kubectl(context, options, args);
  return JSON.parse(result.stdout) as Resource;
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

/** `helm upgrade --install`, idempotent. */
export async function helmUpgradeInstall(context: ToolContext, options: HelmRelease): Promise<void> {
  await reportToolVersion(context, 'helm');
  await withValues(options, (valueArgs) => {
    const args = ['helm', 'upgrade', '--install', options.release, options.chart, ...helmKubeArgs(options), ...valueArgs];
    if (options.version) args.push('--version', options.version);
    if (options.wait) args.push('--wait');
    if (options.atomic) args.push('--atomic');
    if (options.timeout) args.push('--timeout', options.timeout);
    if (options.createNamespace) args.push('--create-namespace');
    return runCommand(context, args);
  });
}

/** `helm template`: the rendered manifests. */
export async function helmTemplate(context: ToolContext, options: HelmRelease): Promise<string> {
  return withValues(options, async (valueArgs) => {
    const args = ['helm', 'template', options.release, options.chart, ...helmKubeArgs(options), ...valueArgs];
    if (options.version) args.push('--version', options.version);
    return (await runCommand(context, args)).stdout;
  });
}

export async function helmLint(context: ToolContext, options: Pick<HelmRelease, 'chart' | 'values' | 'valuesFiles' | 'release'>): Promise<void> {
  await withValues(options as HelmRelease, (valueArgs) => runCommand(context, ['helm', 'lint', options.chart, ...valueArgs]));
}

export async function helmRepoAdd(context: ToolContext, options: { readonly name: string; readonly url: string }): Promise<void> {
  await runCommand(context, ['helm', 'repo', 'add', '--force-update', options.name, options.url]);
}
