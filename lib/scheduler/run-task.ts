import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstFrameOutside } from '../dsl/call-site.js';
import { CommandFailure } from '../dsl/command-failure.js';
import { createRequire } from 'node:module';
import type { LogEntry, Shell } from 'zx';
import type { TaskContext } from '../dsl/context.js';
import { durationMs } from '../dsl/duration.js';
import type { SourceLocation, TaskId } from '../dsl/ids.js';
import type { CheckResult, TaskInstance } from '../dsl/task.js';
import type { TaskFailure } from '../failures.js';
import { ConfigReadRecorder, type ConfigReads } from '../stamps/config-reads.js';
import type { EngineEvent } from './events.js';
import { ProcessGroups } from './process-groups.js';
import type { Redactor } from './redactor.js';
import { TaskOutput } from './task-output.js';

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

type ZxCore = typeof import('zx/core');
let zxCore: ZxCore | undefined;
const requireFromEngine = createRequire(import.meta.url);

/**
 * zx's core, loaded the first time a task touches `$` (a run of tasks that never do, or where everything is
 * up to date, never pays for it). Its ESM entry re-exports this same CommonJS module, so classes such as
 * ProcessOutput are one and the same for tasks that import 'zx' themselves.
 */
function loadZx(): ZxCore {
  return (zxCore ??= requireFromEngine('zx/core') as ZxCore);
}

const environmentSnapshots = new WeakMap<TaskEnvironment, NodeJS.ProcessEnv>();

/**
 * The engine's environment variables as a plain object, copied once per run: reading `process.env` goes
 * through a native getter per variable, which cost ~0.1 ms per task when copied for each one.
 */
function processEnvironment(environment: TaskEnvironment): NodeJS.ProcessEnv {
  let snapshot = environmentSnapshots.get(environment);
  if (!snapshot) environmentSnapshots.set(environment, (snapshot = { ...process.env }));
  return snapshot;
}

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

async function withTaskScope<Success extends { ok: true }>(
  instance: TaskInstance,
  environment: TaskEnvironment,
  recorder: ConfigReadRecorder,
  body: (context: TaskContext<Record<string, unknown>, unknown, unknown>) => Promise<Success>,
  mapFailure: (failure: TaskFailure) => TaskFailure = (failure) => failure,
): Promise<Success | { ok: false; failure: TaskFailure }> {
  const task = instance.id;
  const spec = instance.definition.spec;
  const output = new TaskOutput(task, environment.emit, environment.redactor);
  const groups = new ProcessGroups(environment.dryRun ?? false);
  environment.allGroups.add(groups);
  const controller = new AbortController();
  const stopReason = { kind: 'none' as 'none' | 'timeout' | 'interrupted' };
  const onRunAbort = () => {
    stopReason.kind = 'interrupted';
    controller.abort(new Error('the run was interrupted'));
  };
  if (environment.runSignal.aborted) onRunAbort();
  environment.runSignal.addEventListener('abort', onRunAbort, { once: true });
  const timeoutMs = environment.timeoutOverrideMs ?? (spec.timeout === undefined ? undefined : durationMs(spec.timeout));
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          stopReason.kind = 'timeout';
          controller.abort(new Error(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);

  const commands = new Map<string, { command: string; started: number }>();
  const logZxEntry = (entry: LogEntry) => {
    // A command run quiet (or with verbose off) is reported by whoever ran it, not here.
    if (entry.verbose === false) return;
    switch (entry.kind) {
      case 'cmd':
        commands.set(entry.id, { command: entry.cmd, started: Date.now() });
        environment.emit({ type: 'task-command', task, command: environment.redactor.redact(entry.cmd), cwd: entry.cwd ?? environment.root });
        break;
      case 'stdout':
      case 'stderr':
        output.write(entry.kind, entry.data.toString());
        break;
      case 'end': {
        output.flush();
        const started = commands.get(entry.id)?.started ?? Date.now();
        environment.emit({ type: 'task-command-finished', task, exitCode: entry.exitCode, signal: entry.signal, durationMs: Date.now() - started });
        break;
      }
      default:
        break;
    }
  };
  let shell: Shell | undefined;

  const context: TaskContext<Record<string, unknown>, unknown, unknown> = {
    id: task,
    inputs: instance.inputs,
    config: recorder.track(environment.config),
    vars: instance.definition.vars,
    signal: controller.signal,
    root: environment.root,
    dryRun: environment.dryRun ?? false,
    get $(): Shell {
      // Bound to this task on first use: cwd, abort signal, process groups, environment, and every
      // command and output line reported as the task's events.
      if (!shell) {
        const bound = loadZx().$({
          cwd: environment.root,
          verbose: true,
          quiet: false,
          signal: controller.signal,
          spawn: groups.spawn,
          env: { ...processEnvironment(environment) },
          log: logZxEntry,
        });
        // zx's bound shell has no `.sync`; give it one with the same options.
        shell = Object.assign(bound, { sync: bound({ sync: true }) as unknown as Shell['sync'] });
      }
      return shell;
    },
    log: {
      info: (message) => output.write('log', `${message}\n`),
      warn: (message) => output.write('log', `warning: ${message}\n`),
    },
    commands: {
      started: (command, cwd = environment.root) => {
        const started = Date.now();
        environment.emit({ type: 'task-command', task, command: environment.redactor.redact(command), cwd });
        return (exitCode, signal = null) => {
          output.flush();
          environment.emit({ type: 'task-command-finished', task, exitCode, signal, durationMs: Date.now() - started });
        };
      },
      stdout: (chunk) => output.write('stdout', chunk),
      stderr: (chunk) => output.write('stderr', chunk),
    },
    spawn: (program, args, options = {}) =>
      groups.spawn(program, args, {
        cwd: options.cwd ?? environment.root,
        env: options.env ? { ...processEnvironment(environment), ...options.env } : processEnvironment(environment),
        stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
      }),
    secret: (value) => {
      environment.redactor.add(value);
      return value;
    },
  };

  const aborted = new Promise<'aborted'>((resolve) => {
    controller.signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  try {
    const execution = body(context);
    const winner = await Promise.race([execution, aborted]);
    if (winner === 'aborted') {
      void execution.catch(() => undefined);
      return { ok: false, failure: stoppedFailure(task, stopReason.kind, timeoutMs) };
    }
    return winner;
  } catch (error) {
    if (controller.signal.aborted) return { ok: false, failure: stoppedFailure(task, stopReason.kind, timeoutMs) };
    const failure = zxCore && error instanceof zxCore.ProcessOutput ? processFailure(task, error, commands, output, environment) : failureFromError(task, error, environment);
    return { ok: false, failure: mapFailure(failure) };
  } finally {
    if (timer) clearTimeout(timer);
    environment.runSignal.removeEventListener('abort', onRunAbort);
    await groups.stop(environment.graceMs);
    environment.allGroups.delete(groups);
    output.flush();
  }
}

function stoppedFailure(task: TaskId, kind: 'none' | 'timeout' | 'interrupted', timeoutMs: number | undefined): TaskFailure {
  return kind === 'timeout' ? { reason: 'timeout', task, afterMs: timeoutMs ?? 0 } : { reason: 'interrupted', task };
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
    ...(location ? { location } : {}),
    ...(failure.stack ? { stack: redact(failure.stack) } : {}),
  };
}

const engineDirectory = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The first stack frame in the project's own code (not the engine, not node_modules): where a task threw. */
function locationInProject(stack: string | undefined): SourceLocation | undefined {
  return firstFrameOutside(stack, (file) => file.startsWith(engineDirectory));
}

