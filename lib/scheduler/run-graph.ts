import type { Fingerprint, TaskId } from '../dsl/ids.js';
import { keyedRecord } from '../dsl/keyed-record.js';
import type { EngineFailure } from '../failures.js';
import type { TaskGraph } from '../graph/build-graph.js';
import type { GroupListener, ProcessGroups } from '../process/process-groups.js';
import type { OutputGate } from '../process/throttle.js';
import type { SourceDigests } from '../stamps/source-digests.js';
import type { RunOutcome, RunRecord, TaskRunOutcome, TaskRunRecord } from '../state/run-record.js';
import { newRunId } from '../state/run-records.js';
import { StateWriteFailed, type StateStore } from '../state/state-store.js';
import { askDeclaredTools } from './assess-task.js';
import type { EngineEvent } from './events.js';
import { criticalPath, criticalPathPriorities, expectedDurationMs } from './priorities.js';
import { ReadyQueue } from './ready-queue.js';
import type { Redactor } from './redactor.js';
import type { TaskEnvironment } from './run-task.js';
import { failed, runTaskSteps, type StepContext, type StepMember, type StepResult } from './task-step.js';

/**
 * What a failed task does to the rest of the run (wireit's failure modes): `no-new` starts nothing new and
 * lets running tasks finish; `continue` runs every branch that does not depend on it (--keep-going);
 * `kill` also stops the running tasks.
 */
export const failureModes = ['no-new', 'continue', 'kill'] as const;
export type FailureMode = (typeof failureModes)[number];

export interface RunOptions {
  readonly graph: TaskGraph;
  readonly targets: readonly string[];
  readonly environment: string;
  readonly root: string;
  readonly config: unknown;
  readonly store: StateStore;
  readonly sources: SourceDigests;
  readonly redactor: Redactor;
  readonly emit: (event: EngineEvent) => void;
  readonly concurrency: number;
  /** Capacity of each named pool (the CLI refuses pools that are not declared; 1 if one slips through). */
  readonly pools: Readonly<Record<string, number>>;
  readonly onFailure: FailureMode;
  readonly force: ReadonlySet<TaskId> | 'all';
  readonly skip: ReadonlySet<TaskId>;
  /** When set, only these run; every other task in the graph is assumed done. */
  readonly only?: ReadonlySet<TaskId>;
  /** Aborting it stops the run: nothing new starts and running tasks are stopped. */
  readonly signal: AbortSignal;
  readonly graceMs: number;
  /** `--timeout`: one time limit for every task of this run, instead of their own. */
  readonly timeoutOverrideMs?: number;
  /** First delay of a retry's backoff, for tasks that set none (see retry-delay.ts). */
  readonly retryBaseMs: number;
  /** Told of every process group the tasks start and end (the CLI records them beside the run lock). */
  readonly groupListener?: GroupListener;
  /** The console's stream: programs' output is paused while it is behind (Node's stream backpressure). */
  readonly outputGate?: OutputGate;
}

/** A run in progress; `killNow()` is the second Ctrl-C. */
export interface RunHandle {
  readonly done: Promise<RunRecord>;
  killNow(): void;
}

/**
 * Runs the graph: ready tasks start in critical-path order within the concurrency limit and their pools
 * (ReadyQueue); each takes its step (runTaskSteps) once its dependencies are done, so its freshness is
 * decided with their actual fingerprints, and a dependency that re-ran without changing its fingerprint
 * does not re-run its dependents.
 */
export function runGraph(options: RunOptions): RunHandle {
  const allGroups = new Set<ProcessGroups>();
  return {
    done: new GraphRun(options, allGroups).run(),
    killNow: () => {
      for (const groups of allGroups) groups.killNow();
    },
  };
}

class GraphRun {
  private readonly records = new Map<TaskId, TaskRunRecord>();
  private readonly fingerprints = new Map<TaskId, Fingerprint>();
  private readonly dependents = new Map<TaskId, TaskId[]>();
  private readonly waitingFor = new Map<TaskId, number>();
  private readonly queue: ReadyQueue;
  private readonly priorities: ReadonlyMap<TaskId, number>;
  /** Aborted by the run's signal, or by the first failure under --on-failure kill. */
  private readonly stopTasks = new AbortController();
  private readonly step: StepContext;
  private stopping = false;
  private failedAny = false;
  private stoppedBy: EngineFailure | undefined;

  constructor(
    private readonly options: RunOptions,
    allGroups: Set<ProcessGroups>,
  ) {
    const { graph, store } = options;
    const expectedMs = (id: TaskId) => expectedDurationMs(graph, store, id);
    this.priorities = criticalPathPriorities(graph, expectedMs);
    this.queue = new ReadyQueue(graph, this.priorities, options.concurrency, options.pools);
    const environment: TaskEnvironment = {
      root: options.root,
      config: options.config,
      redactor: options.redactor,
      emit: options.emit,
      runSignal: AbortSignal.any([options.signal, this.stopTasks.signal]),
      graceMs: options.graceMs,
      allGroups,
      ...(options.groupListener ? { groupListener: options.groupListener } : {}),
      ...(options.outputGate ? { outputGate: options.outputGate } : {}),
      ...(options.timeoutOverrideMs !== undefined ? { timeoutOverrideMs: options.timeoutOverrideMs } : {}),
    };
    this.step = { ...options, environment, expectedMs, pathMs: (id) => this.priorities.get(id), retiredBy: (id) => options.graph.nodes.get(id)?.retires ?? [] };
    for (const [id, node] of graph.nodes) {
      this.waitingFor.set(id, node.dependencies.length);
      for (const dependency of node.dependencies) {
        let list = this.dependents.get(dependency);
        if (!list) this.dependents.set(dependency, (list = []));
        list.push(id);
      }
    }
  }

  async run(): Promise<RunRecord> {
    const { graph, store, emit, signal } = this.options;
    const startedAt = new Date();
    const runId = newRunId(startedAt);
    askDeclaredTools(graph.nodes.values());
    const estimateMs = this.priorities.size ? Math.max(...this.priorities.values()) : 0;
    emit({ type: 'run-started', runId, at: startedAt.toISOString(), environment: this.options.environment, targets: this.options.targets, tasks: graph.nodes.size, ...(store.records().size > 0 ? { estimateMs } : {}) });
    for (const generation of graph.generations) for (const id of generation) if (this.waitingFor.get(id) === 0) this.queue.add(id);
    const onAbort = () => this.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    await this.drain();
    signal.removeEventListener('abort', onAbort);
    return this.finish(runId, startedAt);
  }

  /** Starts ready tasks as room frees up; resolves when nothing runs and nothing more may start. */
  private drain(): Promise<void> {
    return new Promise((resolve) => {
      const pump = () => {
        for (let ids = this.stopping ? undefined : this.queue.take(); ids !== undefined; ids = this.stopping ? undefined : this.queue.take()) {
          const taken = ids;
          void this.runStep(taken).finally(() => {
            this.queue.finished(taken[0]!);
            pump();
          });
        }
        if (this.queue.running === 0 && (this.stopping || this.queue.waiting === 0)) resolve();
      };
      this.wake = pump;
      pump();
    });
  }

  private wake: () => void = () => undefined;

  private stop(): void {
    this.stopping = true;
    this.wake();
  }

  /** The step of a task, or of the tasks of one batch together. */
  private async runStep(ids: readonly TaskId[]): Promise<void> {
    let results: readonly StepResult[];
    try {
      const members: StepMember[] = [];
      for (const id of ids) members.push({ instance: this.options.graph.nodes.get(id)!.instance, dependencies: this.dependencyFingerprints(id) });
      results = await runTaskSteps(members, this.step);
    } catch (error) {
      if (error instanceof StateWriteFailed) this.stopForState(error);
      // The engine's own work around the body failed.
      const message = this.options.redactor.redact(error instanceof Error ? error.message : String(error));
      results = await Promise.all(ids.map((id) => failed(id, { reason: 'task-threw', task: id, message }, 0, 0, this.step)));
    }
    for (const result of results) {
      const id = result.record.task;
      this.records.set(id, result.record);
      if (result.fingerprint !== undefined) this.succeeded(id, result.fingerprint);
      else this.taskFailed(id);
    }
  }

  /** A state that cannot be written: whatever finishes now could not be recorded, so everything stops. */
  private stopForState(error: StateWriteFailed): void {
    this.stoppedBy ??= { reason: 'state-unwritable', file: error.file, code: error.code, what: error.what };
    this.stopTasks.abort();
    this.stop();
  }

  private succeeded(id: TaskId, fingerprint: Fingerprint): void {
    this.fingerprints.set(id, fingerprint);
    for (const dependent of this.dependents.get(id) ?? []) {
      const remaining = this.waitingFor.get(dependent)! - 1;
      this.waitingFor.set(dependent, remaining);
      if (remaining === 0 && !this.records.has(dependent)) this.queue.add(dependent);
    }
  }

  private taskFailed(id: TaskId): void {
    this.failedAny = true;
    this.blockDependents(id, id);
    switch (this.options.onFailure) {
      case 'continue':
        return;
      case 'kill':
        this.stopTasks.abort();
        return this.stop();
      case 'no-new':
        return this.stop();
    }
  }

  private blockDependents(id: TaskId, waitingOn: TaskId): void {
    const waitingOnOutcome = this.records.get(waitingOn)?.outcome === 'interrupted' ? 'interrupted' : 'failed';
    for (const dependent of this.dependents.get(id) ?? []) {
      if (this.records.has(dependent)) continue;
      this.records.set(dependent, { task: dependent, outcome: 'blocked', attempts: 0, durationMs: 0, waitingOn });
      this.options.emit({ type: 'task-blocked', task: dependent, waitingOn, waitingOnOutcome });
      this.blockDependents(dependent, waitingOn);
    }
  }

  private dependencyFingerprints(id: TaskId): Record<string, Fingerprint> {
    const result = keyedRecord<Fingerprint>();
    const node = this.options.graph.nodes.get(id)!;
    for (const dependency of node.dependencies) if (!node.orderOnly?.has(dependency)) result[dependency] = this.fingerprints.get(dependency)!;
    return result;
  }

  /** Every task not reached is 'not-started'; the record in the graph's order, announced and returned. */
  private finish(runId: string, startedAt: Date): RunRecord {
    const { graph, emit } = this.options;
    for (const id of graph.nodes.keys()) {
      if (this.records.has(id)) continue;
      this.records.set(id, { task: id, outcome: 'not-started', attempts: 0, durationMs: 0 });
      emit({ type: 'task-not-started', task: id });
    }
    const finishedAt = new Date();
    const outcome: RunOutcome = this.options.signal.aborted ? 'interrupted' : this.failedAny || this.stoppedBy ? 'failed' : 'succeeded';
    const counts: Record<TaskRunOutcome, number> = { succeeded: 0, failed: 0, skipped: 0, blocked: 0, 'not-started': 0, interrupted: 0 };
    for (const record of this.records.values()) counts[record.outcome]++;
    const record: RunRecord = {
      runId,
      environment: this.options.environment,
      targets: this.options.targets,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      outcome,
      tasks: graph.generations.flat().map((id) => this.records.get(id)!),
      criticalPath: criticalPath(graph, (id) => this.records.get(id)?.durationMs ?? 0),
      counts,
      ...(this.stoppedBy ? { stoppedBy: this.stoppedBy } : {}),
    };
    emit({ type: 'run-finished', record });
    return record;
  }
}
