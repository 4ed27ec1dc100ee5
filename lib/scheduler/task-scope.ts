import { $ as zx, type LogEntry, type Shell } from 'zx/core';
import type { BatchMember, CommandReporter, ExecuteOptions, ProgramExit, ProgressUnit, TaskContext, TaskLogger } from '../dsl/context.js';
import { ProgressMeter } from './progress-meter.js';
import type { TaskId } from '../dsl/ids.js';
import type { TaskInstance } from '../dsl/task.js';
import type { ConfigReadRecorder } from '../stamps/config-reads.js';
import type { EngineEvent } from './events.js';
import { ProcessGroups, type GroupListener } from '../process/process-groups.js';
import type { OutputGate } from '../process/throttle.js';
import type { Redactor } from './redactor.js';
import { TaskOutput } from './task-output.js';

/** What a task's scope needs from the run around it (a subset of the TaskEnvironment). */
export interface ScopeEnvironment {
  readonly root: string;
  readonly config: unknown;
  readonly redactor: Redactor;
  readonly emit: (event: EngineEvent) => void;
  readonly dryRun?: boolean;
  /** Told of every process group a task starts and ends (the run's record of them). */
  readonly groupListener?: GroupListener;
  /** The console's stream: programs' output is paused while it is behind. */
  readonly outputGate?: OutputGate;
}

/** A task a body runs for, with the recorder of the config reads made through its `batch` member. */
export interface BatchMemberScope {
  readonly instance: TaskInstance;
  readonly recorder: ConfigReadRecorder;
}

/** 'stalled': the event loop ran dry while the body still waited, so nothing can ever wake it. */
export type StopReason = 'none' | 'timeout' | 'interrupted' | 'stalled';

/**
 * The context one attempt of a task runs in: its output, process groups, abort state, and the TaskContext
 * its body receives. A class on purpose: every run creates one per task, and tsx compiles each named
 * closure with a `__name()` call that reshapes the function object (a new hidden class and descriptor
 * array per closure, measured at 20x the cost of a plain closure); methods and getters cost nothing per
 * task. The signal, the config view and `$` are made on first use.
 */
export class TaskScope implements TaskContext<Record<string, unknown>, unknown, unknown> {
  readonly id: TaskId;
  readonly inputs: Record<string, unknown>;
  readonly vars: unknown;
  readonly root: string;
  readonly dryRun: boolean;
  readonly log: TaskLogger;
  readonly commands: CommandReporter;
  readonly output: TaskOutput;
  readonly groups: ProcessGroups;
  /** Commands started through `$`, by zx's id: the last one names a failure. */
  readonly zxCommands = new Map<string, { command: string; started: number }>();
  /** Resolves when the task is stopped (timeout, interrupted run). */
  readonly stopped: Promise<'stopped'>;
  private stopReasonKind: StopReason = 'none';
  private stopError: Error | undefined;
  private controller: AbortController | undefined;
  private trackedConfig: unknown;
  private configTracked = false;
  private shell: Shell | undefined;
  private resolveStopped!: (value: 'stopped') => void;

  private members: BatchMember<Record<string, unknown>, unknown>[] | undefined;

  constructor(
    instance: TaskInstance,
    private readonly environment: ScopeEnvironment,
    private readonly recorder: ConfigReadRecorder,
    /** The tasks of its batch, itself first; without it, itself, its reads through `config`'s recorder. */
    private readonly memberScopes?: readonly BatchMemberScope[],
  ) {
    this.id = instance.id;
    this.inputs = instance.inputs;
    this.vars = instance.definition.vars;
    this.root = environment.root;
    this.dryRun = environment.dryRun ?? false;
    this.output = new TaskOutput(instance.id, environment.emit, environment.redactor);
    this.groups = new ProcessGroups(this.dryRun, (message) => this.log.warn(message), environment.groupListener, environment.outputGate);
    this.log = new ScopeLogger(this.output, new ProgressMeter(instance.id, environment.emit, environment.redactor));
    this.commands = new ScopeCommands(this);
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    // Bodies may destructure these: `async ({ secret, execute }) => ...`.
    this.secret = this.secret.bind(this);
    this.execute = this.execute.bind(this);
  }

  /** Stops the task because the whole run was interrupted (a listener on the run's signal). */
  readonly interrupt = () => this.stop('interrupted', new Error('the run was interrupted'));

  get stopReason(): StopReason {
    return this.stopReasonKind;
  }

  /** Stops the task: its signal aborts with `error` and `stopped` resolves. The first reason wins. */
  stop(kind: Exclude<StopReason, 'none'>, error: Error): void {
    if (this.stopReasonKind !== 'none') return;
    this.stopReasonKind = kind;
    this.stopError = error;
    this.controller?.abort(error);
    this.resolveStopped('stopped');
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.stopError) this.controller.abort(this.stopError);
    }
    return this.controller.signal;
  }

  get config(): unknown {
    if (!this.configTracked) {
      this.trackedConfig = this.recorder.track(this.environment.config);
      this.configTracked = true;
    }
    return this.trackedConfig;
  }

  get batch(): readonly BatchMember<Record<string, unknown>, unknown>[] {
    if (!this.members) {
      const config = this.environment.config;
      this.members = this.memberScopes ? this.memberScopes.map(({ instance, recorder }) => ({ id: instance.id, inputs: instance.inputs, config: recorder.track(config) })) : [{ id: this.id, inputs: this.inputs, config: this.config }];
    }
    return this.members;
  }

  get $(): Shell {
    // Bound to this task on first use: cwd, abort signal, process groups, environment, and every command
    // and output line reported as the task's events.
    if (!this.shell) {
      const bound = zx({
        cwd: this.root,
        verbose: true,
        quiet: false,
        signal: this.signal,
        spawn: this.groups.spawnFunction,
        spawnSync: this.groups.spawnSyncFunction,
        env: { ...process.env },
        log: this.logZxEntry.bind(this),
      });
      // zx's bound shell has no `.sync`; give it one with the same options.
      this.shell = Object.assign(bound, { sync: bound({ sync: true }) as unknown as Shell['sync'] });
    }
    return this.shell;
  }

  execute(program: string, args: readonly string[], options: ExecuteOptions = {}): Promise<ProgramExit> {
    return this.groups.execute(
      {
        program,
        args,
        cwd: options.cwd ?? this.root,
        env: { ...process.env, ...options.env },
        ...(options.input !== undefined ? { input: options.input } : {}),
      },
      { stdout: options.stdout ?? ignoreOutput, stderr: options.stderr ?? ignoreOutput },
    );
  }

  secret<T extends string>(value: T): T {
    this.environment.redactor.add(value);
    return value;
  }

  /** A command reported by a tool helper started; the returned function reports its end. */
  commandStarted(command: string, cwd: string): (exitCode: number | null, signal?: string | null) => void {
    const started = Date.now();
    const { emit, redactor } = this.environment;
    emit({ type: 'task-command', task: this.id, command: redactor.redact(command), cwd });
    return (exitCode, signal = null) => {
      this.output.flush();
      emit({ type: 'task-command-finished', task: this.id, exitCode, signal, durationMs: Date.now() - started });
    };
  }

  private logZxEntry(entry: LogEntry): void {
    // A command run quiet (or with verbose off) is reported by whoever ran it, not here.
    if (entry.verbose === false) return;
    const { emit, redactor } = this.environment;
    switch (entry.kind) {
      case 'cmd':
        this.zxCommands.set(entry.id, { command: entry.cmd, started: Date.now() });
        emit({ type: 'task-command', task: this.id, command: redactor.redact(entry.cmd), cwd: entry.cwd ?? this.root });
        break;
      case 'stdout':
      case 'stderr':
        this.output.write(entry.kind, entry.data.toString());
        break;
      case 'end': {
        this.output.flush();
        const started = this.zxCommands.get(entry.id)?.started ?? Date.now();
        emit({ type: 'task-command-finished', task: this.id, exitCode: entry.exitCode, signal: entry.signal, durationMs: Date.now() - started });
        break;
      }
      default:
        break;
    }
  }
}

function ignoreOutput(): void {}

class ScopeLogger implements TaskLogger {
  constructor(
    private readonly output: TaskOutput,
    private readonly meter: ProgressMeter,
  ) {}

  progress(what: string, done: number, total?: number, unit: ProgressUnit = 'bytes'): void {
    this.meter.report(what, done, total, unit);
  }

  info(message: string): void {
    this.output.write('log', `${message}\n`);
  }

  warn(message: string): void {
    this.output.write('log', `warning: ${message}\n`);
  }
}

class ScopeCommands implements CommandReporter {
  constructor(private readonly scope: TaskScope) {}

  started(command: string, cwd: string = this.scope.root): (exitCode: number | null, signal?: string | null) => void {
    return this.scope.commandStarted(command, cwd);
  }

  stdout(chunk: string): void {
    this.scope.output.write('stdout', chunk);
  }

  stderr(chunk: string): void {
    this.scope.output.write('stderr', chunk);
  }
}
