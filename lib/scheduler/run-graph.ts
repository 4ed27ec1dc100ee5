import { durationMs } from '../dsl/duration.js';
import type { Fingerprint, TaskId } from '../dsl/ids.js';
import { keyedRecord } from '../dsl/keyed-record.js';
import type { TaskGraph } from '../graph/build-graph.js';
import type { TaskFailure } from '../failures.js';
import { computeFingerprint } from '../stamps/fingerprint.js';
import type { SourceDigests } from '../stamps/source-digests.js';
import { newRunId } from '../state/run-records.js';
import type { StateStore } from '../state/state-store.js';
import { askDeclaredTools, assessTask } from './assess-task.js';
import type { EngineEvent, RunOutcome, RunRecord, TaskRunOutcome, TaskRunRecord } from './events.js';
import { criticalPath, criticalPathPriorities, expectedDurationMs } from './priorities.js';
import type { ProcessGroups } from './process-groups.js';
import type { Redactor } from './redactor.js';
import { retryDelayMs } from './retry-delay.js';
import type { RunReason } from './run-reason.js';
import { skipDecision, skippedFingerprint } from './skip-decision.js';
import { runAttempt, runCheck, type TaskEnvironment } from './run-task.js';

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
  readonly keepGoing: boolean;
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
}

/** A run in progress; `killNow()` is the second Ctrl-C. */
export interface RunHandle {
  readonly done: Promise<RunRecord>;
  killNow(): void;
}

type TaskResult = { readonly ok: true; readonly fingerprint: Fingerprint } | { readonly ok: false };

/**
 * Runs the graph (the ready queue is the scheduler's own: p-limit starts work first-in first-out, and
 * here ready tasks are ordered by priority and gated by pools): ready tasks start in order of their
 * critical-path priority, ties in the order the project declares them, within the global concurrency
 * limit and their pool's capacity. A task's freshness is decided when it becomes ready, with its
 * dependencies' actual fingerprints, so a dependency that re-ran without changing its fingerprint does not
 * re-run its dependents.
 */
export function runGraph(options: RunOptions): RunHandle {
  const allGroups = new Set<ProcessGroups>();
  const done = executeGraph(options, allGroups);
  return {
    done,
    killNow: () => {
      for (const groups of allGroups) groups.killNow();
    },
  };
}

async function executeGraph(options: RunOptions, allGroups: Set<ProcessGroups>): Promise<RunRecord> {
  const { graph, store, emit } = options;
  const startedAt = new Date();
  const runId = newRunId(startedAt);
  const weight = (id: TaskId) => expectedDurationMs(graph, store, id);
  const priorities = criticalPathPriorities(graph, weight);
  askDeclaredTools(graph.nodes.values());
  emit({
    type: 'run-started',
    runId,
    at: startedAt.toISOString(),
    environment: options.environment,
    targets: options.targets,
    tasks: graph.nodes.size,
    ...(store.records().size > 0 ? { estimateMs: priorities.size ? Math.max(...priorities.values()) : 0 } : {}),
  });

  const environment: TaskEnvironment = {
    root: options.root,
    config: options.config,
    redactor: options.redactor,
    emit,
    runSignal: options.signal,
    graceMs: options.graceMs,
    allGroups,
    ...(options.timeoutOverrideMs !== undefined ? { timeoutOverrideMs: options.timeoutOverrideMs } : {}),
  };
  const records = new Map<TaskId, TaskRunRecord>();
  const fingerprints = new Map<TaskId, Fingerprint>();
  const dependents = new Map<TaskId, TaskId[]>();
  const waitingFor = new Map<TaskId, number>();
  for (const [id, node] of graph.nodes) {
    waitingFor.set(id, node.dependencies.length);
    for (const dependency of node.dependencies) {
      let list = dependents.get(dependency);
      if (!list) dependents.set(dependency, (list = []));
      list.push(id);
    }
  }

  // Highest priority first; among equals (a first run, with no durations known), the one declared first,
  // as make and ninja start ready work.
  const ready: TaskId[] = [];
  const startsBefore = (a: TaskId, b: TaskId) => {
    const difference = priorities.get(a)! - priorities.get(b)!;
    return difference !== 0 ? difference > 0 : graph.declared.get(a)! < graph.declared.get(b)!;
  };
  const enqueue = (id: TaskId) => {
    let low = 0;
    let high = ready.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (startsBefore(ready[middle]!, id)) low = middle + 1;
      else high = middle;
    }
    ready.splice(low, 0, id);
  };
  for (const generation of graph.generations) for (const id of generation) if (waitingFor.get(id) === 0) enqueue(id);

  const poolUse = new Map<string, number>();
  let running = 0;
  let stopping = false;
  let failed = false;
  let wake: () => void = () => undefined;

  const finishTask = (id: TaskId, result: TaskResult) => {
    if (result.ok) {
      fingerprints.set(id, result.fingerprint);
      for (const dependent of dependents.get(id) ?? []) {
        const remaining = waitingFor.get(dependent)! - 1;
        waitingFor.set(dependent, remaining);
        if (remaining === 0 && !records.has(dependent)) enqueue(dependent);
      }
      return;
    }
    failed = true;
    if (!options.keepGoing) stopping = true;
    blockDependents(id, id);
  };

  const blockDependents = (id: TaskId, waitingOn: TaskId) => {
    for (const dependent of dependents.get(id) ?? []) {
      if (records.has(dependent)) continue;
      records.set(dependent, { task: dependent, outcome: 'blocked', attempts: 0, durationMs: 0, waitingOn });
      emit({ type: 'task-blocked', task: dependent, waitingOn });
      blockDependents(dependent, waitingOn);
    }
  };

  const pickReady = (): TaskId | undefined => {
    for (let index = 0; index < ready.length; index++) {
      const id = ready[index]!;
      const pool = graph.nodes.get(id)!.instance.definition.spec.pool;
      if (pool !== undefined && (poolUse.get(pool) ?? 0) >= Math.max(1, options.pools[pool] ?? 1)) continue;
      ready.splice(index, 1);
      return id;
    }
    return undefined;
  };

  const onAbort = () => {
    stopping = true;
    wake();
  };
  options.signal.addEventListener('abort', onAbort, { once: true });

  const dependencyFingerprints = (id: TaskId): Record<string, Fingerprint> => {
    const result = keyedRecord<Fingerprint>();
    for (const dependency of graph.nodes.get(id)!.dependencies) result[dependency] = fingerprints.get(dependency)!;
    return result;
  };

  const processTask = async (id: TaskId): Promise<void> => {
    const instance = graph.nodes.get(id)!.instance;
    const record = store.record(id);
    const skipped = skipDecision(instance, options);
    if (skipped) {
      if (!record?.stamp && skipped.kind !== 'not-applicable') {
        emit({ type: 'warning', message: `${id} has never succeeded but is ${skipped.kind === 'skipped-by-user' ? 'skipped' : 'assumed done'}` });
      }
      records.set(id, { task: id, outcome: 'skipped', skipped, attempts: 0, durationMs: 0 });
      emit({ type: 'task-skipped', task: id, why: skipped });
      finishTask(id, { ok: true, fingerprint: skippedFingerprint(id, skipped, record) });
      return;
    }

    const assessed = await assessTask({
      instance,
      record,
      dependencies: dependencyFingerprints(id),
      config: options.config,
      sources: options.sources,
      forced: options.force === 'all' || options.force.has(id),
    });
    if (!assessed.ok) return failTask(id, assessed.failure, 0, 0);
    const assessment = assessed.assessment;
    let reason: RunReason;
    if (assessment.decision === 'fresh') {
      if (!instance.definition.spec.check) return skipFresh(id, assessment.fingerprint);
      const checked = await runCheck(instance, environment);
      if (!checked.ok) return failTask(id, checked.failure, 0, 0);
      if (checked.result === true) return skipFresh(id, assessment.fingerprint);
      reason = { kind: 'drift', detail: options.redactor.redact(checked.result.drift) };
    } else {
      reason = assessment.reason;
    }

    const spec = instance.definition.spec;
    const maxAttempts = 1 + (spec.retries ?? 0);
    const started = Date.now();
    store.markStarted(id, new Date(started).toISOString());
    for (let attempt = 1; ; attempt++) {
      emit({ type: 'task-started', task: id, reason, attempt, at: new Date().toISOString(), estimateMs: weight(id) });
      const result = await runAttempt(instance, environment);
      if (result.ok) {
        const elapsed = Date.now() - started;
        // The assessed fingerprint already holds the config reads replayed from the stamp; when the body
        // read the same values, it is this run's fingerprint too (most runs: no second digest per task).
        const sameReads = sameRecord(result.configReads, assessment.components.config);
        const components = sameReads ? assessment.components : { ...assessment.components, config: result.configReads };
        const fingerprint = sameReads ? assessment.fingerprint : computeFingerprint(components);
        store.markSucceeded(id, { fingerprint, components, finishedAt: new Date().toISOString(), durationMs: elapsed });
        records.set(id, { task: id, outcome: 'succeeded', reason, attempts: attempt, durationMs: elapsed });
        emit({ type: 'task-succeeded', task: id, durationMs: elapsed, attempts: attempt });
        finishTask(id, { ok: true, fingerprint });
        return;
      }
      const retryable = result.failure.reason !== 'interrupted' && !options.signal.aborted && attempt < maxAttempts;
      if (!retryable) return failTask(id, result.failure, attempt, Date.now() - started, reason);
      const base = spec.retryDelay === undefined ? options.retryBaseMs : durationMs(spec.retryDelay);
      const delayMs = retryDelayMs(base, attempt);
      emit({ type: 'task-retrying', task: id, attempt, delayMs, failure: result.failure });
      await abortableSleep(delayMs, options.signal);
      if (options.signal.aborted) return failTask(id, { reason: 'interrupted', task: id }, attempt, Date.now() - started, reason);
    }
  };

  const skipFresh = (id: TaskId, fingerprint: Fingerprint) => {
    records.set(id, { task: id, outcome: 'skipped', skipped: { kind: 'fresh' }, attempts: 0, durationMs: 0 });
    emit({ type: 'task-skipped', task: id, why: { kind: 'fresh' } });
    finishTask(id, { ok: true, fingerprint });
  };

  const failTask = (id: TaskId, failure: TaskFailure, attempts: number, elapsed: number, reason?: RunReason) => {
    const outcome: TaskRunOutcome = failure.reason === 'interrupted' ? 'interrupted' : 'failed';
    if (attempts > 0) {
      store.markFinishedWithoutSuccess(id, {
        outcome,
        startedAt: new Date(Date.now() - elapsed).toISOString(),
        durationMs: elapsed,
        failure: options.redactor.redactValue(withoutBulk(failure)),
      });
    }
    records.set(id, { task: id, outcome, attempts, durationMs: elapsed, failure, ...(reason ? { reason } : {}) });
    emit({ type: 'task-failed', task: id, failure, durationMs: elapsed, attempts });
    finishTask(id, { ok: false });
  };

  await new Promise<void>((resolve) => {
    const pump = () => {
      while (!stopping && running < options.concurrency) {
        const id = pickReady();
        if (id === undefined) break;
        const pool = graph.nodes.get(id)!.instance.definition.spec.pool;
        if (pool !== undefined) poolUse.set(pool, (poolUse.get(pool) ?? 0) + 1);
        running++;
        processTask(id)
          // The engine's own work around the body failed (the state could not be written, say).
          .catch((error: unknown) => failTask(id, { reason: 'task-threw', task: id, message: options.redactor.redact(error instanceof Error ? error.message : String(error)) }, 0, 0))
          .finally(() => {
            running--;
            if (pool !== undefined) poolUse.set(pool, poolUse.get(pool)! - 1);
            pump();
          });
      }
      if (running === 0 && (stopping || ready.length === 0)) resolve();
    };
    wake = pump;
    pump();
  });
  options.signal.removeEventListener('abort', onAbort);

  for (const id of graph.nodes.keys()) {
    if (records.has(id)) continue;
    records.set(id, { task: id, outcome: 'not-started', attempts: 0, durationMs: 0 });
    emit({ type: 'task-not-started', task: id });
  }
  const finishedAt = new Date();
  const outcome: RunOutcome = options.signal.aborted ? 'interrupted' : failed ? 'failed' : 'succeeded';
  const counts: Record<TaskRunOutcome, number> = { succeeded: 0, failed: 0, skipped: 0, blocked: 0, 'not-started': 0, interrupted: 0 };
  for (const record of records.values()) counts[record.outcome]++;
  const ordered = graph.generations.flat().map((id) => records.get(id)!);
  const record: RunRecord = {
    runId,
    environment: options.environment,
    targets: options.targets,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    outcome,
    tasks: ordered,
    criticalPath: criticalPath(graph, (id) => records.get(id)?.durationMs ?? 0),
    counts,
  };
  emit({ type: 'run-finished', record });
  return record;
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  let count = 0;
  for (const key in a) {
    if (a[key] !== b[key]) return false;
    count++;
  }
  for (const _ in b) count--;
  return count === 0;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A failure as the state keeps it: its output tail and stack stay in the task's log, not in every state write. */
function withoutBulk(failure: TaskFailure): TaskFailure {
  if (failure.reason === 'exit-non-zero') return { ...failure, outputTail: '' };
  if (failure.reason === 'task-threw') {
    const { stack: _stack, ...rest } = failure;
    return rest;
  }
  return failure;
}
