/** A taint as the environment declares it and the Node's spec holds it. */
export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

/** A node's declared labels and taints. */
export interface DeclaredNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
}

/** The annotation in which a Node keeps the taints Onboarder set, so that one no longer declared is removed (and no other). */
export const managedTaintsAnnotation = 'openspace.io/onboarder-taints';

/** The field manager of the labels: server-side apply removes a label it set that is no longer declared, and no other. */
export const nodeLabelsFieldManager = 'onboarder-node-labels';

const sameTaint = (a: Taint, b: Taint) => a.key === b.key && a.effect === b.effect;

/** A taint as `kubectl taint` writes it: `key=value:Effect`, or `key:Effect` without a value. */
export function taintArgument(taint: Taint): string {
  return `${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`;
}

/**
 * What `kubectl taint` must do on one node: remove the taints Onboarder set before (`managedBefore`) that
 * are declared no more and are still there, and set each declared taint that is not there with its value.
 * A taint someone else set (the node controller's, a cordon's) is left alone.
 */
export function taintChanges(declared: readonly Taint[], current: readonly Taint[], managedBefore: readonly Taint[]): string[] {
  const removals = managedBefore.filter((old) => !declared.some((taint) => sameTaint(taint, old)) && current.some((taint) => sameTaint(taint, old))).map((old) => `${old.key}:${old.effect}-`);
  const settings = declared.filter((taint) => !current.some((present) => sameTaint(present, taint) && (present.value ?? '') === (taint.value ?? ''))).map(taintArgument);
  return [...removals, ...settings];
}

/** kubeadm's own taint on its control-plane nodes. */
export const kubeadmControlPlaneTaint: Taint = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };

/**
 * The taints Onboarder keeps on a kubeadm control-plane node, and those it may take off: the declared ones,
 * and kubeadm's own while the cluster has workers to run its pods. A cluster without workers has kubeadm's
 * taken off (kubespray does so for a node in both of its groups), or nothing but kubeadm's own pods would
 * run on it and the platform services would wait for a node until they fail; it comes back with the first
 * worker (NoSchedule: nothing running is evicted).
 */
export function kubeadmControlPlaneTaints(declared: readonly Taint[], managedBefore: readonly Taint[], clusterHasWorkers: boolean): { readonly wanted: Taint[]; readonly managed: Taint[] } {
  const declaredAlready = declared.some((taint) => sameTaint(taint, kubeadmControlPlaneTaint));
  return {
    wanted: clusterHasWorkers && !declaredAlready ? [...declared, kubeadmControlPlaneTaint] : [...declared],
    managed: [...managedBefore, kubeadmControlPlaneTaint],
  };
}

/** The taints a Node's annotation says Onboarder set (none where it has none, or one that does not parse). */
export function managedTaints(annotations: Readonly<Record<string, string>> | undefined): Taint[] {
  try {
    const parsed: unknown = JSON.parse(annotations?.[managedTaintsAnnotation] ?? '[]');
    return Array.isArray(parsed) ? (parsed as Taint[]).filter((entry) => typeof entry?.key === 'string' && typeof entry?.effect === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * The Nodes as server-side apply takes them: each with its declared labels and the annotation that records
 * its declared taints (a List, one apply for the cluster).
 */
export function nodeLabelsManifest(nodes: readonly DeclaredNode[]): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: nodes.map((node) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: node.name, labels: node.labels, annotations: { [managedTaintsAnnotation]: JSON.stringify(node.taints) } },
    })),
  });
}
