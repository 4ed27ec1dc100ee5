import type { TaskGraph } from '../graph/build-graph.js';
import type { TaskId } from '../dsl/ids.js';
import { durationMs } from '../dsl/duration.js';
import type { StateStore } from '../state/state-store.js';

/** The expected duration of a task: the median of its recent runs, else its declared estimate, else 1 ms. */
export function expectedDurationMs(graph: TaskGraph, store: StateStore, id: TaskId): number {
  const history = store.record(id)?.durations ?? [];
  if (history.length > 0) {
    const sorted = [...history].sort((a, b) => a - b);
    return Math.max(1, sorted[Math.floor(sorted.length / 2)]!);
  }
  const estimate = graph.nodes.get(id)!.instance.definition.spec.estimate;
  return estimate === undefined ? 1 : Math.max(1, durationMs(estimate));
}

/**
 * Each task's priority: the longest remaining path from it to the end of the run, weighted by expected
 * durations. Starting the highest first keeps the critical chain busy while short work fills the gaps.
 */
export function criticalPathPriorities(graph: TaskGraph, weight: (id: TaskId) => number): Map<TaskId, number> {
  const priorities = new Map<TaskId, number>();
  const dependents = new Map<TaskId, TaskId[]>();
  for (const [id, node] of graph.nodes) {
    for (const dependency of node.dependencies) {
      let list = dependents.get(dependency);
      if (!list) dependents.set(dependency, (list = []));
      list.push(id);
    }
  }
  for (const generation of [...graph.generations].reverse()) {
    for (const id of generation) {
      const downstream = Math.max(0, ...(dependents.get(id) ?? []).map((dependent) => priorities.get(dependent)!));
      priorities.set(id, weight(id) + downstream);
    }
  }
  return priorities;
}

/** The chain of tasks that decided the run's length, given each task's actual duration. */
export function criticalPath(graph: TaskGraph, duration: (id: TaskId) => number): TaskId[] {
  const finish = new Map<TaskId, { length: number; previous?: TaskId }>();
  for (const generation of graph.generations) {
    for (const id of generation) {
      let best: { length: number; previous?: TaskId } = { length: 0 };
      for (const dependency of graph.nodes.get(id)!.dependencies) {
        const candidate = finish.get(dependency)!;
        if (candidate.length > best.length) best = { length: candidate.length, previous: dependency };
      }
      finish.set(id, { length: best.length + duration(id), ...(best.previous ? { previous: best.previous } : {}) });
    }
  }
  let end: TaskId | undefined;
  for (const [id, entry] of finish) if (end === undefined || entry.length > finish.get(end)!.length) end = id;
  const path: TaskId[] = [];
  for (let at = end; at !== undefined; at = finish.get(at)!.previous) path.unshift(at);
  return path.filter((id) => duration(id) > 0);
}
