import type cp from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ProgramExit } from '../dsl/context.js';
import { outputWasLeftOpen, runProgram, startProgram, startProgramSync, type ProgramHandlers, type ProgramRequest } from './start-program.js';
import { groupHasLiveMember } from '../fs/proc-stat.js';
import { throttle, type OutputGate } from './throttle.js';

/** Told when a task's process group starts and when it is gone (see RecordedGroups). */
export interface GroupListener {
  /** `program`: the program's name alone (no arguments, which may hold secrets). */
  groupStarted(group: number, program: string): void;
  groupEnded(group: number): void;
  /** Its leader exited while others in it run on (something left in the background). */
  groupOutlivedLeader(group: number): void;
}

/**
 * Tracks the process groups a task starts. Each program leads its own group (startProgram), so stopping a
 * task signals the whole tree, grandchildren included: TERM, then KILL after a grace period. A group whose
 * leader exits while others in it still run (a program that left something in the background) stays
 * tracked, so nothing a task started outlives it; the group's id cannot be reused while any member lives.
 */
export class ProcessGroups {
  private readonly groups = new Set<number>();
  private boundSpawn: typeof cp.spawn | undefined;
  /** Set once the task is stopped: a program that starts after that is stopped at once. */
  private stoppedWithGraceMs: number | undefined;

  /**
   * With `dryRun`, no program of the task's runs: execute() ends at once with exit code 0 and no output,
   * and zx's `$` and `$.sync` run `true` instead; the command is only reported.
   */
  constructor(
    private readonly dryRun = false,
    /** Told (one line) when a program ended but something it left running kept its output open. */
    private readonly notice: (message: string) => void = () => undefined,
    private readonly listener?: GroupListener,
    /** The console's stream: programs' output is paused while it is behind (see throttle). */
    private readonly gate?: OutputGate,
  ) {}

  /** Runs a program (for runCommand and the tool helpers), tracking its group while it runs. */
  async execute(request: ProgramRequest, handlers: ProgramHandlers): Promise<ProgramExit> {
    if (this.stoppedWithGraceMs !== undefined) return { startError: { code: 'ESTOPPED', message: 'the task was stopped' } };
    if (this.dryRun) return succeededWithoutRunning;
    let group: number | undefined;
    const exit = await runProgram(request, handlers, (pid) => this.adopt((group = pid), path.basename(request.program)), this.gate);
    if (group !== undefined) this.leaderExited(group);
    if ('outputLeftOpen' in exit && exit.outputLeftOpen) this.noticeOutputLeftOpen(request.program);
    return exit;
  }

  /** child_process.spawn for zx's `$`: the program starts through startProgram, and its group is tracked. */
  spawn(command: string, args: readonly string[] = [], options: cp.SpawnOptions = {}): ChildProcess {
    const [program, programArgs, spawnOptions] = this.dryRun ? ['true', [], { ...options, shell: false }] : [command, args, options];
    // Named by the program alone (the shell, for zx): a command line may hold a secret.
    const name = path.basename(typeof spawnOptions.shell === 'string' ? spawnOptions.shell : spawnOptions.shell ? '/bin/sh' : program);
    let group: number | undefined;
    const child = startProgram(program, programArgs, spawnOptions, (pid) => this.adopt((group = pid), name));
    throttle([child.stdout, child.stderr], this.gate);
    if (group !== undefined) {
      const leader = group;
      child.once('close', () => {
        this.leaderExited(leader);
        if (outputWasLeftOpen(child)) this.noticeOutputLeftOpen(name);
      });
    }
    return child;
  }

  /** spawn() as a free function, a drop-in for child_process.spawn: zx uses it through its `spawn` option. */
  get spawnFunction(): typeof cp.spawn {
    return (this.boundSpawn ??= this.spawn.bind(this) as unknown as typeof cp.spawn);
  }

  /** child_process.spawnSync for zx's `$.sync`: startProgramSync, or in a dry run `true`. */
  get spawnSyncFunction(): typeof cp.spawnSync {
    const dryRun = this.dryRun;
    return ((command: string, args: readonly string[], options: cp.SpawnSyncOptions) =>
      dryRun ? startProgramSync('true', [], { ...options, shell: false }) : startProgramSync(command, args, options)) as unknown as typeof cp.spawnSync;
  }

  get size(): number {
    return this.groups.size;
  }

  /** Signals every live group; KILL follows after `graceMs` for any still alive. Resolves when all are gone. */
  async stop(graceMs: number): Promise<void> {
    this.stoppedWithGraceMs = graceMs;
    if (this.groups.size === 0) return;
    const groups = [...this.groups];
    await stopGroups(groups, graceMs);
    for (const group of groups) this.forget(group);
  }

  /** Immediately KILLs every group (a second Ctrl-C). */
  killNow(): void {
    this.stoppedWithGraceMs = 0;
    signalGroups([...this.groups], 'SIGKILL');
  }

  private noticeOutputLeftOpen(program: string): void {
    this.notice(`${program} exited, but a process it left running kept its output open: no longer read (that process is stopped when the task ends)`);
  }

  private leaderExited(group: number): void {
    if (!groupAlive(group)) this.forget(group);
    else this.listener?.groupOutlivedLeader(group);
  }

  private forget(group: number): void {
    if (this.groups.delete(group)) this.listener?.groupEnded(group);
  }

  /** Tracks a started group, or stops it at once when the task already was (a body that kept going). */
  private adopt(group: number, program: string): void {
    this.groups.add(group);
    this.listener?.groupStarted(group, program);
    const graceMs = this.stoppedWithGraceMs;
    if (graceMs === undefined) return;
    signalGroups([group], 'SIGTERM');
    setTimeout(signalGroups, graceMs, [group], 'SIGKILL').unref();
  }
}

const succeededWithoutRunning: ProgramExit = Object.freeze({ exitCode: 0, signal: null });

/** TERM to each group, KILL after `graceMs` to any still alive; resolves when all are gone (or 2 s after KILL). */
export async function stopGroups(groups: readonly number[], graceMs: number): Promise<void> {
  signalGroups(groups, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && groups.some(groupAlive)) await sleep(25);
  if (!groups.some(groupAlive)) return;
  signalGroups(groups, 'SIGKILL');
  // Bounded: a zombie that nobody reaps still answers signal 0.
  const killDeadline = Date.now() + 2000;
  while (Date.now() < killDeadline && groups.some(groupAlive)) await sleep(10);
}

function signalGroups(groups: readonly number[], signal: NodeJS.Signals): void {
  for (const group of groups) {
    try {
      process.kill(-group, signal);
    } catch {
      // The group is already gone.
    }
  }
}

/** Whether anything of the group still runs: signal 0 reaches it and it is not only zombies. */
function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
  } catch {
    return false;
  }
  return groupHasLiveMember(group) ?? true;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
