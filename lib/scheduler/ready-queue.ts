import type { TaskId } from '../dsl/ids.js';
import type { TaskGraph } from '../graph/build-graph.js';

/**
 * The tasks whose dependencies are done, in the order they start: highest critical-path priority first,
 * ties in the order the project declares them (as make and ninja start ready work). A task starts only
 * within the run's concurrency and its pool's capacity. A task with a batch key starts together with every
 * ready task of the same key, in the one slot (and pool place) they share.
 */
export class ReadyQueue {
  private ready: TaskId[] = [];
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

  /**
   * The next task that may start now, with the ready tasks of its batch after it (counted as one running
   * until `finished` is told its first), or undefined.
   */
  take(): readonly TaskId[] | undefined {
    if (this.runningCount >= this.concurrency) return undefined;
    for (let index = 0; index < this.ready.length; index++) {
      const id = this.ready[index]!;
      const pool = this.poolOf(id);
      if (pool !== undefined && (this.poolUse.get(pool) ?? 0) >= Math.max(1, this.pools[pool] ?? 1)) continue;
      this.ready.splice(index, 1);
      this.runningCount++;
      if (pool !== undefined) this.poolUse.set(pool, (this.poolUse.get(pool) ?? 0) + 1);
      const batch = this.graph.nodes.get(id)!.batch;
      if (batch === undefined) return [id];
      const together = this.ready.filter((other) => this.graph.nodes.get(other)!.batch === batch);
      if (together.length > 0) this.ready = this.ready.filter((other) => !together.includes(other));
      return [id, ...together];
    }
    return undefined;
  }

  /** A task `take` returned ended (the first of its batch). */
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
