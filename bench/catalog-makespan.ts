// The example environment's whole Proxmox/Kubernetes flow (proxmox-k8s) as the engine would schedule it:
// each task weighs its declared `estimate` (the seeds' durations), ready tasks start by the engine's own
// priority rule (longest remaining path; ReadyQueue) within the default concurrency and the catalog's
// pools. Prints the makespan beside the critical path and the seeds' sequential total. A simulation of
// the schedule, not a run: nothing is started.
import type { TaskId } from '../lib/dsl/ids.js';
import { durationMs } from '../lib/dsl/duration.js';
import { buildGraph, resolveTarget, selectSubgraph } from '../lib/graph/build-graph.js';
import { defaultConcurrency } from '../lib/cli/commands/run.js';
import { criticalPath, criticalPathPriorities } from '../lib/scheduler/priorities.js';
import { ReadyQueue } from '../lib/scheduler/ready-queue.js';
import { catalog, pools } from '../tasks/index.js';
import { example } from '../environments/example.js';
import { environmentSchema, type Environment, type EnvironmentDefinition } from '../environments/schema.js';
import { poolCapacities } from '../lib/cli/project.js';

export interface CatalogMakespan {
  readonly tasks: number;
  readonly sequentialMinutes: number;
  readonly criticalPathMinutes: number;
  readonly makespanMinutes: number;
  readonly criticalPath: readonly TaskId[];
}

/** The example environment, or the example with some of its clusters left out (`without`). */
export function exampleSite(without: readonly string[] = []): unknown {
  const definition: EnvironmentDefinition = { ...example, clusters: Object.fromEntries(Object.entries(example.clusters).filter(([name]) => !without.includes(name))) };
  return environmentSchema.parse(definition);
}

export function catalogMakespan(target = 'proxmox-k8s', concurrency = defaultConcurrency, config: unknown = exampleSite()): CatalogMakespan {
  const built = buildGraph(catalog, config);
  if (!built.ok) throw new Error(`the catalog does not build: ${JSON.stringify(built.error)}`);
  const id = resolveTarget(built.value, target);
  if (!id.ok) throw new Error(`no target ${target}`);
  const graph = selectSubgraph(built.value, [id.value]);
  const estimate = (task: TaskId) => {
    const declared = graph.nodes.get(task)!.instance.definition.spec.estimate;
    return declared === undefined ? 0 : durationMs(declared);
  };
  const queue = new ReadyQueue(graph, criticalPathPriorities(graph, estimate), concurrency, poolCapacities(pools, config as Environment));
  const waiting = new Map([...graph.nodes].map(([task, node]) => [task, node.dependencies.length]));
  const dependents = new Map<TaskId, TaskId[]>();
  for (const [task, node] of graph.nodes) for (const dependency of node.dependencies) dependents.set(dependency, [...(dependents.get(dependency) ?? []), task]);
  for (const [task, count] of waiting) if (count === 0) queue.add(task);
  const running: { batch: readonly TaskId[]; endsAt: number }[] = [];
  let now = 0;
  // A batch (one playbook for a cluster's nodes) takes one slot and lasts as long as its longest task.
  for (;;) {
    for (let batch = queue.take(); batch !== undefined; batch = queue.take()) running.push({ batch, endsAt: now + Math.max(...batch.map(estimate)) });
    if (running.length === 0) break;
    running.sort((a, b) => a.endsAt - b.endsAt);
    const done = running.shift()!;
    now = done.endsAt;
    queue.finished(done.batch[0]!);
    for (const dependent of done.batch.flatMap((task) => dependents.get(task) ?? [])) {
      const left = waiting.get(dependent)! - 1;
      waiting.set(dependent, left);
      if (left === 0) queue.add(dependent);
    }
  }
  const minutes = (ms: number) => ms / 60_000;
  const path = criticalPath(graph, estimate);
  return {
    tasks: graph.nodes.size,
    sequentialMinutes: minutes([...graph.nodes.keys()].reduce((sum, task) => sum + estimate(task), 0)),
    criticalPathMinutes: minutes(path.reduce((sum, task) => sum + estimate(task), 0)),
    makespanMinutes: minutes(now),
    criticalPath: path,
  };
}
