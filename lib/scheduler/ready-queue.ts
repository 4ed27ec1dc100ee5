import type { TaskId } from '../dsl/ids.js';
import type { TaskGraph } from '../graph/build-graph.js';

/**
 * The tasks whose dependencies are done, in the order they start: highest critical-path priority first,
 * ties in the order the project declares them (as make and ninja start ready work). A task starts only
 * within the run's concurrency and its pool's capacity.
 */
export class ReadyQueue {
  private readonly ready: TaskId[] = [];
  private readonly poolUse = new Map<string, number>();
  private runningCount = 0;

  constructor(
    private readonly graph: TaskGraph,
    private readonly priorities: ReadonlyMap<TaskId, number>,
    private readonly concurrency: number,
    /** Capacity of each named pool (the CLI refuses pools that are not declared; 1 if one slips through). */
    private readonly pools: Readonly<Record<string, number>>,
  ) {}

  get running(): number {
    return this.runningCount;
  }

  get waiting(): number {
    return this.ready.length;
  }

  add(id: TaskId): void {
    let low = 0;
    let high = this.ready.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.startsBefore(this.ready[middle]!, id)) low = middle + 1;
      else high = middle;
    }
    this.ready.splice(low, 0, id);
  }

  /** The next task that may start now (counted as running until `finished`), or undefined. */
  take(): TaskId | undefined {
    if (this.runningCount >= this.concurrency) return undefined;
    for (let index = 0; index < this.ready.length; index++) {
      const id = this.ready[index]!;
      const pool = this.poolOf(id);
      if (pool !== undefined && (this.poolUse.get(pool) ?? 0) >= Math.max(1, this.pools[pool] ?? 1)) continue;
      this.ready.splice(index, 1);
      this.runningCount++;
      if (pool !== undefined) this.poolUse.set(pool, (this.poolUse.get(pool) ?? 0) + 1);
      return id;
    }
    return undefined;
  }

  finished(id: TaskId): void {
    this.runningCount--;
    const pool = this.poolOf(id);
    if (pool !== undefined) this.poolUse.set(pool, this.poolUse.get(pool)! - 1);
  }

  private poolOf(id: TaskId): string | undefined {
    return this.graph.nodes.get(id)!.instance.definition.spec.pool;
  }

  private startsBefore(a: TaskId, b: TaskId): boolean {
    const difference = this.priorities.get(a)! - this.priorities.get(b)!;
    return difference !== 0 ? difference > 0 : this.graph.declared.get(a)! < this.graph.declared.get(b)!;
  }
}
