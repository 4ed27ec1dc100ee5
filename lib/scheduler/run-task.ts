import { ProcessOutput } from 'zx/core';
import { locationInProject } from '../dsl/call-site.js';
import { CommandFailure, MembersFailed, PermanentFailure } from '../dsl/command-failure.js';
import type { TaskContext } from '../dsl/context.js';
import { durationMs } from '../dsl/duration.js';
import type { TaskId } from '../dsl/ids.js';
import type { CheckResult, TaskInstance } from '../dsl/task.js';
import type { TaskFailure } from '../failures.js';
import { ConfigReadRecorder, type ConfigReads } from '../stamps/config-reads.js';
import type { EngineEvent } from './events.js';
import type { GroupListener, ProcessGroups } from '../process/process-groups.js';
import type { OutputGate } from '../process/throttle.js';
import type { Redactor } from './redactor.js';
import { TaskOutput } from './task-output.js';
import { TaskScope, type BatchMemberScope, type StopReason } from './task-scope.js';

/** What running one task needs from the run around it. */
export interface TaskEnvironment {
  readonly root: string;
  readonly config: unknown;
  readonly redactor: Redactor;
  readonly emit: (event: EngineEvent) => void;
  /** Aborted when the whole run stops (Ctrl-C, SIGTERM). */
  readonly runSignal: AbortSignal;
  /** How long stopped processes get between TERM and KILL. */
  readonly graceMs: number;
  /** Every process group of the run, so a second Ctrl-C can kill them all at once. */
  readonly allGroups: Set<ProcessGroups>;
  /** Told of every process group a task starts and ends (the run's record of them). */
  readonly groupListener?: GroupListener;
  /** The console's stream: programs' output is paused while it is behind. */
  readonly outputGate?: OutputGate;
  /** Report commands instead of running them (`--dry-run`). */
  readonly dryRun?: boolean;
  /** `--timeout`: replaces every task's own time limit for this run (slow networks, the seeds' --timeout). */
  readonly timeoutOverrideMs?: number;
}

export type AttemptResult =
  | { readonly ok: true; readonly configReads: ConfigReads }
  | { readonly ok: false; readonly failure: TaskFailure };

export type CheckOutcome =
  | { readonly ok: true; readonly result: CheckResult }
  | { readonly ok: false; readonly failure: TaskFailure };

/**
 * Runs one attempt of a task's body, for it alone or for the tasks of its batch together (the first one's
 * scope, output and time limit), with abortable child processes. Each task's config reads are those made
 * through its own `batch` member and those through `context.config`.
 */
export async function runAttempt(instances: readonly TaskInstance[], environment: TaskEnvironment): Promise<ReadonlyMap<TaskId, AttemptResult>> {
  const run = instances[0]!.definition.spec.run;
  const results = new Map<TaskId, AttemptResult>();
  if (!run) {
    for (const instance of instances) results.set(instance.id, { ok: true, configReads: {} });
    return results;
  }
  // One task alone records every read through `config`; a batch's members each have their own recorder.
  const shared = new ConfigReadRecorder();
  const members: BatchMemberScope[] | undefined = instances.length === 1 ? undefined : [];
  if (members) for (const instance of instances) members.push({ instance, recorder: new ConfigReadRecorder() });
  const outcome = await withTaskScope(instances[0]!, environment, shared, (context) => runBody(run, context), keepFailure, members);
  // A body that names members of no task of this batch failed them all.
  const named = outcome.ok ? undefined : outcome.onlyMembers?.filter((id) => instances.some((instance) => instance.id === id));
  const sharedReads = outcome.ok || named?.length ? shared.reads(environment.config) : {};
  for (const [index, instance] of instances.entries()) {
    if (!outcome.ok && (named === undefined || named.length === 0 || named.includes(instance.id))) {
      results.set(instance.id, { ok: false, failure: { ...outcome.failure, task: instance.id } as TaskFailure });
    } else {
      results.set(instance.id, { ok: true, configReads: members ? { ...sharedReads, ...members[index]!.recorder.reads(environment.config) } : sharedReads });
    }
  }
  return results;
}

async function runBody(run: NonNullable<TaskInstance['definition']['spec']['run']>, context: TaskContext<Record<string, unknown>, unknown, unknown>): Promise<{ ok: true }> {
  await run(context);
  return { ok: true };
}

/** Runs a task's drift probe in the same scope a body gets. */
export function runCheck(instance: TaskInstance, environment: TaskEnvironment): Promise<CheckOutcome> {
  const check = instance.definition.spec.check!;
  return withTaskScope(instance, environment, new ConfigReadRecorder(), async (context) => {
    const result = await check(context);
    return { ok: true as const, result };
  }, (failure) => (failure.reason === 'task-threw' ? { reason: 'check-failed', task: failure.task, message: failure.message } : failure));
}

const keepFailure = (failure: TaskFailure): TaskFailure => failure;

/** How a body's scope ended without success; `onlyMembers`: the tasks of its batch the body said failed. */
type ScopeFailure = { readonly ok: false; readonly failure: TaskFailure; readonly onlyMembers?: readonly string[] };

async function withTaskScope<Success extends { ok: true }>(
  instance: TaskInstance,
  environment: TaskEnvironment,
  recorder: ConfigReadRecorder,
  body: (context: TaskContext<Record<string, unknown>, unknown, unknown>) => Promise<Success>,
  mapFailure: (failure: TaskFailure) => TaskFailure = keepFailure,
  members?: readonly BatchMemberScope[],
): Promise<Success | ScopeFailure> {
  const scope = new TaskScope(instance, environment, recorder, members);
  if (members && members.length > 1) announceBatch(scope, members, environment);
  const task = scope.id;
  const spec = instance.definition.spec;
  environment.allGroups.add(scope.groups);
  // --timeout 0 lifts every limit for this run, as `timeout 0` and Ansible's `timeout: 0` mean no limit.
  const limitMs = environment.timeoutOverrideMs ?? (spec.timeout === undefined ? undefined : durationMs(spec.timeout));
  const timeoutMs = limitMs === 0 ? undefined : limitMs;
  const timer = timeoutMs === undefined ? undefined : setTimeout(stopOnTimeout, timeoutMs, scope, timeoutMs);
  watchRunSignal(environment.runSignal, scope);
  watchForStall(scope);

  try {
    const execution = body(scope);
    const winner = await Promise.race([execution, scope.stopped]);
    if (winner === 'stopped') {
      void execution.catch(() => undefined);
      return { ok: false, failure: stoppedFailure(task, scope.stopReason, timeoutMs) };
    }
    return winner;
  } catch (error) {
    if (scope.stopReason !== 'none') return { ok: false, failure: stoppedFailure(task, scope.stopReason, timeoutMs) };
    if (error instanceof MembersFailed) return { ok: false, failure: mapFailure(failureFromError(task, error.cause, environment)), onlyMembers: error.members };
    const failure =
      error instanceof ProcessOutput ? processFailure(task, error, scope.zxCommands, scope.output, environment) : failureFromError(task, error, environment);
    return { ok: false, failure: mapFailure(failure) };
  } finally {
    if (timer) clearTimeout(timer);
    unwatchRunSignal(environment.runSignal, scope);
    unwatchForStall(scope);
    await scope.groups.stop(environment.graceMs);
    environment.allGroups.delete(scope.groups);
    scope.output.flush();
  }
}

/** Each task of a batch says in its log which body it runs in; the first one's log has the output. */
function announceBatch(scope: TaskScope, members: readonly BatchMemberScope[], environment: TaskEnvironment): void {
  const others = members.slice(1).map(({ instance }) => instance.id);
  scope.log.info(`runs as one body with ${others.join(', ')}`);
  for (const id of others) {
    const output = new TaskOutput(id, environment.emit, environment.redactor);
    const more = others.length > 1 ? ` and ${others.length - 1} more` : '';
    output.write('log', `runs as one body with ${scope.id}${more}: the output is in ${scope.id}'s log\n`);
    output.flush();
  }
}

function stopOnTimeout(scope: TaskScope, timeoutMs: number): void {
  scope.stop('timeout', new Error(`timed out after ${timeoutMs} ms`));
}

function watchRunSignal(signal: AbortSignal, scope: TaskScope): void {
  if (signal.aborted) return scope.stop('interrupted', new Error('the run was interrupted'));
  signal.addEventListener('abort', scope.interrupt);
}

function unwatchRunSignal(signal: AbortSignal, scope: TaskScope): void {
  signal.removeEventListener('abort', scope.interrupt);
}

/**
 * Every running task. Node empties its event loop only when nothing (no timer, process, socket or file
 * operation) can run another callback: if tasks are still running then, each waits on a promise nothing
 * can settle. Without this the process would exit mid-run (code 13, an unsettled top-level await) with no
 * summary; with it those tasks fail with that reason and the run goes on.
 */
const runningScopes = new Set<TaskScope>();

function stopStalledTasks(): void {
  for (const scope of runningScopes) scope.stop('stalled', new Error('nothing can settle what the task waits on'));
}

function watchForStall(scope: TaskScope): void {
  if (runningScopes.size === 0) process.on('beforeExit', stopStalledTasks);
  runningScopes.add(scope);
}

function unwatchForStall(scope: TaskScope): void {
  runningScopes.delete(scope);
  if (runningScopes.size === 0) process.off('beforeExit', stopStalledTasks);
}

function stoppedFailure(task: TaskId, kind: StopReason, timeoutMs: number | undefined): TaskFailure {
  if (kind === 'timeout') return { reason: 'timeout', task, afterMs: timeoutMs ?? 0 };
  return kind === 'stalled' ? { reason: 'never-settled', task } : { reason: 'interrupted', task };
}

/** A command run with `$` failed: its command line, exit code and the tail of the task's output. */
function processFailure(
  task: TaskId,
  error: { readonly exitCode: number | null; readonly signal: NodeJS.Signals | null },
  commands: ReadonlyMap<string, { command: string }>,
  output: TaskOutput,
  environment: TaskEnvironment,
): TaskFailure {
  const command = [...commands.values()].at(-1)?.command ?? '(unknown command)';
  return {
    reason: 'exit-non-zero',
    task,
    command: environment.redactor.redact(command),
    exitCode: error.exitCode,
    signal: error.signal,
    outputTail: output.tail(),
  };
}

function failureFromError(task: TaskId, error: unknown, environment: TaskEnvironment): TaskFailure {
  const redact = (text: string) => environment.redactor.redact(text);
  if (error instanceof CommandFailure) {
    return {
      reason: 'exit-non-zero',
      task,
      command: redact(error.command),
      exitCode: error.exitCode,
      signal: error.signal,
      outputTail: redact(error.outputTail),
      ...(error.explanation ? { explanation: redact(error.explanation) } : {}),
    };
  }
  const failure = error instanceof Error ? error : new Error(String(error));
  const location = locationInProject(failure.stack);
  return {
    reason: 'task-threw',
    task,
    message: redact(failure.message),
    ...(failure instanceof PermanentFailure ? { permanent: true as const } : {}),
    ...(location ? { location } : {}),
    ...(failure.stack ? { stack: redact(failure.stack) } : {}),
  };
}


