import { ProcessOutput } from 'zx/core';
import { locationInProject } from '../dsl/call-site.js';
import { CommandFailure, PermanentFailure } from '../dsl/command-failure.js';
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
import type { TaskOutput } from './task-output.js';
import { TaskScope, type StopReason } from './task-scope.js';

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

/** Runs one attempt of a task's body with a scoped context, a time limit and abortable child processes. */
export function runAttempt(instance: TaskInstance, environment: TaskEnvironment): Promise<AttemptResult> {
  const run = instance.definition.spec.run;
  if (!run) return Promise.resolve({ ok: true, configReads: {} });
  const recorder = new ConfigReadRecorder();
  return withTaskScope(instance, environment, recorder, async (context) => {
    await run(context);
    return { ok: true as const, configReads: recorder.reads(environment.config) };
  });
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

async function withTaskScope<Success extends { ok: true }>(
  instance: TaskInstance,
  environment: TaskEnvironment,
  recorder: ConfigReadRecorder,
  body: (context: TaskContext<Record<string, unknown>, unknown, unknown>) => Promise<Success>,
  mapFailure: (failure: TaskFailure) => TaskFailure = keepFailure,
): Promise<Success | { ok: false; failure: TaskFailure }> {
  const scope = new TaskScope(instance, environment, recorder);
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


