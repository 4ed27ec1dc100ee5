import type { TaskId } from '../dsl/ids.js';
import type { TaskGraph } from '../graph/build-graph.js';
import type { PlannedTask } from './plan-run.js';

/** A step of a plan that takes down what was deployed, and what it takes down. */
export interface Destruction {
  readonly task: TaskId;
  /** `osdc-w3` for a worker taken out; empty for a task that destroys whatever it runs on (a decommission). */
  readonly removes: readonly string[];
}

/**
 * The steps of a plan that would destroy something: tasks that always do (`destroys: 'always'`), and tasks
 * that destroy what the configuration no longer declares (`destroys: 'removed'`) when their run reason
 * names entries removed since their stamp.
 */
export function destructions(graph: TaskGraph, plan: readonly PlannedTask[]): Destruction[] {
  const found: Destruction[] = [];
  for (const step of plan) {
    if (step.action !== 'run') continue;
    const destroys = graph.nodes.get(step.task)?.instance.definition.spec.destroys;
    if (destroys === 'always') found.push({ task: step.task, removes: [] });
    if (destroys !== 'removed' || step.reason.kind !== 'changed') continue;
    const removes = step.reason.changes.flatMap((change) => (change.component === 'config' ? (change.removed ?? []) : []));
    if (removes.length > 0) found.push({ task: step.task, removes: [...new Set(removes)] });
  }
  return found;
}

/** Whether any task of the graph may destroy (so that a run plans first, to ask). */
export function mayDestroy(graph: TaskGraph): boolean {
  for (const node of graph.nodes.values()) if (node.instance.definition.spec.destroys !== undefined) return true;
  return false;
}

/** `decommission[cluster=osdc-b]; cluster-vms[cluster=osdc] removes osdc-w3`. */
export function describeDestructions(found: readonly Destruction[]): string {
  return found.map((entry) => (entry.removes.length > 0 ? `${entry.task} removes ${entry.removes.join(', ')}` : entry.task)).join('; ');
}
