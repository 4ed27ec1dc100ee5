/** A benchmark graph: tasks with a duration (seconds, 0 = a no-op process) and dependencies. */
export interface Workload {
  readonly name: string;
  readonly parallelism: number;
  readonly tasks: readonly { readonly name: string; readonly seconds: number; readonly deps: readonly string[] }[];
}

/** A chain of 6 tasks of 500 ms, with 24 independent 500 ms tasks declared first: FIFO schedulers start those first. */
export function chainPlusFan(): Workload {
  const fan = Array.from({ length: 24 }, (_, index) => ({ name: `fan${index}`, seconds: 0.5, deps: [] as string[] }));
  const chain = Array.from({ length: 6 }, (_, index) => ({ name: `chain${index}`, seconds: 0.5, deps: index === 0 ? [] : [`chain${index - 1}`] }));
  return { name: 'chain-plus-fan', parallelism: 4, tasks: [...fan, ...chain] };
}

/** 60 sleep tasks of 100-800 ms in 6 layers; each depends on 1-3 tasks of the layer before (seeded). */
export function layered(): Workload {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const tasks: { name: string; seconds: number; deps: string[] }[] = [];
  for (let layer = 0; layer < 6; layer++) {
    for (let index = 0; index < 10; index++) {
      const deps = new Set<string>();
      if (layer > 0) for (let count = 1 + Math.floor(random() * 3); count > 0; count--) deps.add(`l${layer - 1}t${Math.floor(random() * 10)}`);
      tasks.push({ name: `l${layer}t${index}`, seconds: Math.round((0.1 + random() * 0.7) * 100) / 100, deps: [...deps] });
    }
  }
  return { name: 'layered', parallelism: 4, tasks };
}

/**
 * 64 independent sleep tasks of 50-600 ms (seeded), declared in no particular order: no graph to follow,
 * only the choice of which to start first. Longest first (what durations from run 1 give run 2) ends
 * nearest the bound; declaration order can leave a long task for last.
 */
export function wide(): Workload {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const tasks = Array.from({ length: 64 }, (_, index) => ({ name: `w${index}`, seconds: Math.round((0.05 + random() * 0.55) * 100) / 100, deps: [] as string[] }));
  return { name: 'wide', parallelism: 4, tasks };
}

/** Many no-op process tasks, each depending on one of the ten before it. */
export function noOps(count: number, parallelism: number): Workload {
  const tasks = Array.from({ length: count }, (_, index) => ({ name: `n${index}`, seconds: 0, deps: index >= 10 ? [`n${index - 10}`] : [] }));
  return { name: `${count}-no-op`, parallelism, tasks };
}

/** The critical path and total work of a workload, and their lower bound on the makespan at P. */
export function lowerBound(workload: Workload): { criticalPath: number; totalWork: number; bound: number } {
  const finish = new Map<string, number>();
  for (const task of workload.tasks) {
    finish.set(task.name, task.seconds + Math.max(0, ...task.deps.map((dep) => finish.get(dep)!)));
  }
  const criticalPath = Math.max(...finish.values());
  const totalWork = workload.tasks.reduce((sum, task) => sum + task.seconds, 0);
  return { criticalPath, totalWork, bound: Math.max(criticalPath, totalWork / workload.parallelism) };
}
