import { durationMs } from '../dsl/duration.js';
import type { Fingerprint, TaskId } from '../dsl/ids.js';
import type { TaskInstance } from '../dsl/task.js';
import type { TaskFailure } from '../failures.js';
import { computeFingerprint } from '../stamps/fingerprint.js';
import type { SourceDigests } from '../stamps/source-digests.js';
import type { RunReason, TaskRunOutcome, TaskRunRecord } from '../state/run-record.js';
import type { StateStore } from '../state/state-store.js';
import { assessTask, type Assessment } from './assess-task.js';
import type { EngineEvent } from './events.js';
import type { Redactor } from './redactor.js';
import { retryDelayMs } from './retry-delay.js';
import { runAttempt, runCheck, type TaskEnvironment } from './run-task.js';
import { skipDecision, skippedFingerprint } from './skip-decision.js';

/** What one task's step needs from the run around it. */
export interface StepContext {
  readonly store: StateStore;
  readonly sources: SourceDigests;
  readonly config: unknown;
  readonly redactor: Redactor;
  readonly emit: (event: EngineEvent) => void;
  readonly force: ReadonlySet<TaskId> | 'all';
  readonly skip: ReadonlySet<TaskId>;
  readonly only?: ReadonlySet<TaskId>;
  readonly retryBaseMs: number;
  readonly environment: TaskEnvironment;
  /** The task's expected duration, for the live view's estimate. */
  readonly expectedMs: (id: TaskId) => number;
  /** The longest chain of expected durations from the task to the end of the run, itself included. */
  readonly pathMs: (id: TaskId) => number | undefined;
  /** The stamped instances a task takes down (its `retires`), forgotten once it succeeds. */
  readonly retiredBy: (id: TaskId) => readonly TaskId[];
}

/** How a task's step ended: its record, and its fingerprint when its dependents may go on. */
export interface StepResult {
  readonly record: TaskRunRecord;
  readonly fingerprint?: Fingerprint;
}

/** A task of a step, with the fingerprints its direct dependencies ended with. */
export interface StepMember {
  readonly instance: TaskInstance;
  readonly dependencies: Readonly<Record<string, Fingerprint>>;
}

/** A task that will run: what its stamp will be made from, and why it runs. */
interface ToRun {
  readonly instance: TaskInstance;
  readonly assessment: Assessment;
  readonly reason: RunReason;
}

/**
 * One task's turn, or the turn of the tasks of one batch together: each is skipped (by the user, --only, or
 * not applicable), else assessed against its stamp, its drift probe asked when it is fresh; those that are
 * not fresh run as one body, with retries of those that failed; a stamp is written only after success.
 * The results are in the members' order.
 */
export async function runTaskSteps(members: readonly StepMember[], context: StepContext): Promise<readonly StepResult[]> {
  // Loops, not closures: this runs for every task, and tsx names each closure it creates (see TaskScope).
  // A batch's members are decided side by side: their drift probes reach remote machines.
  const decided: (StepResult | ToRun)[] = members.length === 1 ? [await decide(members[0]!, context)] : await Promise.all(members.map((member) => decide(member, context)));
  const toRun: ToRun[] = [];
  for (const decision of decided) if ('assessment' in decision) toRun.push(decision);
  const ran = toRun.length > 0 ? await runAttempts(toRun, context) : undefined;
  const results: StepResult[] = [];
  for (const decision of decided) results.push('assessment' in decision ? ran!.get(decision.instance.id)! : decision);
  return results;
}

/** Whether one task runs: its result when it does not (skipped, or failed before running), else what it runs with. */
async function decide({ instance, dependencies }: StepMember, context: StepContext): Promise<StepResult | ToRun> {
  const id = instance.id;
  const stored = context.store.record(id);
  const skipped = skipDecision(instance, context);
  if (skipped) {
    if (!stored?.stamp && skipped.kind !== 'not-applicable') {
      context.emit({ type: 'warning', message: `${id} has never succeeded but is ${skipped.kind === 'skipped-by-user' ? 'skipped' : 'assumed done'}` });
    }
    context.emit({ type: 'task-skipped', task: id, why: skipped });
    return { record: { task: id, outcome: 'skipped', skipped, attempts: 0, durationMs: 0 }, fingerprint: skippedFingerprint(id, skipped, stored) };
  }
  const assessed = await assessTask({ instance, record: stored, dependencies, config: context.config, sources: context.sources, forced: context.force === 'all' || context.force.has(id) });
  if (!assessed.ok) return failed(id, assessed.failure, 0, 0, context);
  const decision = await checkDrift(instance, assessed.assessment, context);
  switch (decision.action) {
    case 'run':
      return { instance, assessment: assessed.assessment, reason: decision.reason };
    case 'fail':
      return failed(id, decision.failure, 0, 0, context);
    case 'skip':
      context.emit({ type: 'task-skipped', task: id, why: { kind: 'fresh' } });
      return { record: { task: id, outcome: 'skipped', skipped: { kind: 'fresh' }, attempts: 0, durationMs: 0 }, fingerprint: assessed.assessment.fingerprint };
  }
}

type Decision = { readonly action: 'run'; readonly reason: RunReason } | { readonly action: 'skip' } | { readonly action: 'fail'; readonly failure: TaskFailure };

/** A task found fresh still runs when its drift probe finds the world changed (a failed probe fails the task). */
async function checkDrift(instance: TaskInstance, assessment: Assessment, context: StepContext): Promise<Decision> {
  if (assessment.decision === 'run') return { action: 'run', reason: assessment.reason };
  if (!instance.definition.spec.check) return { action: 'skip' };
  const checked = await runCheck(instance, context.environment);
  if (!checked.ok) return { action: 'fail', failure: checked.failure };
  return checked.result === true ? { action: 'skip' } : { action: 'run', reason: { kind: 'drift', detail: context.redactor.redact(checked.result.drift) } };
}

/**
 * Runs the body (for every task of a batch at once) until each task succeeded or used up its retries; the
 * old stamps go before the first attempt, and a task that succeeded is stamped at once. A retry runs the
 * body again for the tasks that failed only.
 */
async function runAttempts(group: readonly ToRun[], context: StepContext): Promise<Map<TaskId, StepResult>> {
  const definition = group[0]!.instance.definition;
  const maxAttempts = 1 + (definition.spec.retries ?? 0);
  const runSignal = context.environment.runSignal;
  const started = Date.now();
  const results = new Map<TaskId, StepResult>();
  for (const { instance } of group) await context.store.markStarted(instance.id, new Date(started).toISOString());
  let pending = group;
  for (let attempt = 1; ; attempt++) {
    for (const { instance, reason } of pending) {
      const pathMs = context.pathMs(instance.id);
      context.emit({ type: 'task-started', task: instance.id, reason, attempt, at: new Date().toISOString(), estimateMs: context.expectedMs(instance.id), ...(pathMs !== undefined ? { pathMs } : {}) });
    }
    const outcomes = await runAttempt(pending.map(({ instance }) => instance), context.environment);
    const delayMs = retryDelayMs(definition.spec.retryDelay === undefined ? context.retryBaseMs : durationMs(definition.spec.retryDelay), attempt);
    const retrying: ToRun[] = [];
    for (const member of pending) {
      const id = member.instance.id;
      const result = outcomes.get(id)!;
      if (result.ok) {
        results.set(id, await stamp(member.instance, member.assessment, result.configReads, { reason: member.reason, attempts: attempt, started }, context));
        continue;
      }
      const permanent = result.failure.reason === 'task-threw' && result.failure.permanent === true;
      const retryable = result.failure.reason !== 'interrupted' && !permanent && !runSignal.aborted && attempt < maxAttempts;
      if (!retryable) results.set(id, await failed(id, result.failure, attempt, Date.now() - started, context, member.reason));
      else {
        retrying.push(member);
        context.emit({ type: 'task-retrying', task: id, attempt, delayMs, failure: result.failure });
      }
    }
    if (retrying.length === 0) return results;
    await abortableSleep(delayMs, runSignal);
    if (runSignal.aborted) {
      for (const member of retrying) results.set(member.instance.id, await failed(member.instance.id, { reason: 'interrupted', task: member.instance.id }, attempt, Date.now() - started, context, member.reason));
      return results;
    }
    pending = retrying;
  }
}

/** Writes the stamp of a task that succeeded, with the config values its body read this time. */
async function stamp(
  instance: TaskInstance,
  assessment: Assessment,
  configReads: Readonly<Record<string, string>>,
  run: { readonly reason: RunReason; readonly attempts: number; readonly started: number },
  context: StepContext,
): Promise<StepResult> {
  const id = instance.id;
  const elapsed = Date.now() - run.started;
  // The assessed fingerprint already holds the config reads replayed from the stamp; when the body read
  // the same values, it is this run's fingerprint too (most runs: no second digest per task).
  const sameReads = sameRecord(configReads, assessment.components.config);
  const components = sameReads ? assessment.components : { ...assessment.components, config: configReads };
  const fingerprint = sameReads ? assessment.fingerprint : computeFingerprint(components);
  await context.store.markSucceeded(id, { fingerprint, components, finishedAt: new Date().toISOString(), durationMs: elapsed });
  for (const retired of context.retiredBy(id)) await context.store.reset(retired);
  context.emit({ type: 'task-succeeded', task: id, durationMs: elapsed, attempts: run.attempts });
  return { record: { task: id, outcome: 'succeeded', reason: run.reason, attempts: run.attempts, durationMs: elapsed }, fingerprint };
}

/** A task that did not succeed: its last outcome kept in the state when it ran at all. */
export async function failed(id: TaskId, failure: TaskFailure, attempts: number, elapsed: number, context: Pick<StepContext, 'store' | 'redactor' | 'emit'>, reason?: RunReason): Promise<StepResult> {
  const outcome: TaskRunOutcome = failure.reason === 'interrupted' ? 'interrupted' : 'failed';
  if (attempts > 0) {
    await context.store.markFinishedWithoutSuccess(id, {
      outcome,
      startedAt: new Date(Date.now() - elapsed).toISOString(),
      durationMs: elapsed,
      failure: context.redactor.redactValue(withoutBulk(failure)),
    });
  }
  context.emit({ type: 'task-failed', task: id, failure, durationMs: elapsed, attempts });
  return { record: { task: id, outcome, attempts, durationMs: elapsed, failure, ...(reason ? { reason } : {}) } };
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
