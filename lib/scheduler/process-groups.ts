import cp, { type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RemoteChildProcess } from './remote-child.js';
import { spawnService, type ProgramExit, type ProgramHandlers, type ProgramRequest } from './spawn-service.js';

/**
 * Tracks the process groups a task starts. Each program leads its own group (detached), so stopping a task
 * signals the whole tree, grandchildren included: TERM, then KILL after a grace period. A group whose
 * leader exits while others in it still run (a program that left something in the background) stays
 * tracked, so nothing a task started outlives it; the group's id cannot be reused while any member lives.
 */
export class ProcessGroups {
  private readonly groups = new Set<number>();
  private boundSpawn: typeof cp.spawn | undefined;
  /** Set once the task is stopped: a program that starts after that is stopped at once. */
  private stoppedWithGraceMs: number | undefined;

  /**
   * With `dryRun`, no process starts at all: every program (`execute`, zx's `$` and `$.sync`) ends at once
   * with exit code 0 and no output; the command is only reported.
   */
  constructor(
    private readonly dryRun = false,
    /** Told (one line) when a program ended but something it left running kept its output open. */
    private readonly notice: (message: string) => void = () => undefined,
  ) {}

  /** Runs a program through the spawn service, tracking its group while it runs. */
  async execute(request: ProgramRequest, handlers: Omit<ProgramHandlers, 'started'>): Promise<ProgramExit> {
    if (this.stoppedWithGraceMs !== undefined) return { startError: { code: 'ESTOPPED', message: 'the task was stopped' } };
    if (this.dryRun) return succeededWithoutRunning;
    let group: number | undefined;
    const exit = await spawnService().run(request, {
      // A spawner reports the start a moment later: the task may have been stopped meanwhile.
      started: (pid) => this.adopt((group = pid)),
      stdout: handlers.stdout,
      stderr: handlers.stderr,
    });
    // A program whose spawner died may still run: it stays tracked, so the task's stop ends it.
    if (group !== undefined && !('startError' in exit)) this.leaderExited(group);
    this.noticeOutputLeftOpen(request.program, exit);
    return exit;
  }

  /**
   * child_process.spawn for zx: starts a process as a new group leader and tracks it (`true` instead, in a
   * dry run). With piped stdio (zx's default) a spawner process starts it and the caller gets a
   * RemoteChildProcess; with other stdio, or while no spawner is ready, the engine spawns it itself.
   */
  spawn(command: string, args: readonly string[] = [], options: cp.SpawnOptions = {}): ChildProcess {
    if (this.dryRun) {
      const child = new RemoteChildProcess(command, args);
      child.attach({ exit: Promise.resolve(succeededWithoutRunning), writeStdin: () => undefined, endStdin: () => undefined });
      return child as unknown as ChildProcess;
    }
    if (!relayable(options)) return this.spawnDirectly(command, args, options);
    const [program, programArgs] = options.shell ? shellCommand(options.shell, command, args) : [command, args];
    const child = new RemoteChildProcess(program, programArgs, { signal: options.signal, killSignal: options.killSignal });
    let group: number | undefined;
    const attached = spawnService().attach(
      {
        program,
        args: programArgs,
        cwd: options.cwd instanceof URL ? fileURLToPath(options.cwd) : (options.cwd ?? process.cwd()),
        baseEnvironment: options.env ?? process.env,
        encoding: 'latin1',
      },
      {
        started: (pid) => {
          this.adopt((group = pid));
          child.started(pid);
        },
        stdout: (chunk) => child.output('stdout', chunk),
        stderr: (chunk) => child.output('stderr', chunk),
      },
    );
    if (!attached) return this.spawnDirectly(command, args, options);
    child.attach(attached);
    void attached.exit.then((exit) => {
      if (group !== undefined && !('startError' in exit)) this.leaderExited(group);
      this.noticeOutputLeftOpen(program, exit);
    });
    return child as unknown as ChildProcess;
  }

  private spawnDirectly(command: string, args: readonly string[], options: cp.SpawnOptions): ChildProcess {
    const [program, programArgs] = options.shell ? shellCommand(options.shell, command, args) : [command, args];
    const child = cp.spawn(program, programArgs, { ...options, shell: false, detached: true });
    const group = child.pid;
    if (group !== undefined) {
      this.adopt(group);
      child.once('exit', () => this.leaderExited(group));
    }
    return child;
  }

  private noticeOutputLeftOpen(program: string, exit: ProgramExit): void {
    if ('outputLeftOpen' in exit && exit.outputLeftOpen) {
      this.notice(`${program} exited, but a process it left running kept its output open: no longer read (that process is stopped when the task ends)`);
    }
  }

  private leaderExited(group: number): void {
    if (!groupAlive(group)) this.groups.delete(group);
  }

  /** Tracks a started group, or stops it at once when the task already was (a body that kept going). */
  private adopt(group: number): void {
    this.groups.add(group);
    const graceMs = this.stoppedWithGraceMs;
    if (graceMs === undefined) return;
    signalGroups([group], 'SIGTERM');
    setTimeout(signalGroups, graceMs, [group], 'SIGKILL').unref();
  }

  /** spawn() as a free function, a drop-in for child_process.spawn: zx uses it through its `spawn` option. */
  get spawnFunction(): typeof cp.spawn {
    return (this.boundSpawn ??= this.spawn.bind(this) as unknown as typeof cp.spawn);
  }

  /** child_process.spawnSync for zx's `$.sync`: the real one, or in a dry run one that runs nothing. */
  get spawnSyncFunction(): typeof cp.spawnSync {
    return (this.dryRun ? spawnSyncWithoutRunning : spawnSyncThroughShell) as unknown as typeof cp.spawnSync;
  }

  get size(): number {
    return this.groups.size;
  }

  /** Signals every live group; KILL follows after `graceMs` for any still alive. Resolves when all are gone. */
  async stop(graceMs: number): Promise<void> {
    this.stoppedWithGraceMs = graceMs;
    if (this.groups.size === 0) return;
    const groups = [...this.groups];
    signalGroups(groups, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && groups.some(groupAlive)) await sleep(25);
    signalGroups(groups, 'SIGKILL');
    // Bounded: a zombie that nobody reaps still answers signal 0.
    const killDeadline = Date.now() + 2000;
    while (Date.now() < killDeadline && groups.some(groupAlive)) await sleep(10);
  }

  /** Immediately KILLs every group (a second Ctrl-C). */
  killNow(): void {
    this.stoppedWithGraceMs = 0;
    signalGroups([...this.groups], 'SIGKILL');
  }
}

const succeededWithoutRunning: ProgramExit = Object.freeze({ exitCode: 0, signal: null });

/** What spawnSync returns for a program that exited 0 with no output, for a dry run. */
function spawnSyncWithoutRunning(): cp.SpawnSyncReturns<Buffer> {
  const empty = Buffer.alloc(0);
  return { pid: 0, output: [null, empty, empty], stdout: empty, stderr: empty, status: 0, signal: null };
}

/** Spawn options a spawner can honour: every standard stream piped, no other descriptors, the same user. */
function relayable(options: cp.SpawnOptions): boolean {
  if (options.uid !== undefined || options.gid !== undefined || options.argv0 !== undefined) return false;
  const stdio = options.stdio ?? 'pipe';
  if (typeof stdio === 'string') return stdio === 'pipe' || stdio === 'overlapped';
  return stdio.length <= 3 && stdio.every((stream) => stream === 'pipe' || stream === 'overlapped' || stream === undefined || stream === null);
}

/**
 * What child_process.spawn runs for `shell` on Linux: the shell with `-c` and the words joined by spaces;
 * and for bash (zx's shell) `--norc` first. `bash -c` reads ~/.bashrc as if started by sshd when its stdin
 * is a socket (Node's pipes are socket pairs) or SSH_CLIENT is set, and SHLVL is below 2: every command of a
 * run started from cron, CI or a service would run the operator's .bashrc first (pyenv init, prompts,
 * output), slowly and differently on each machine.
 */
function shellCommand(shell: string | true, command: string, args: readonly string[]): [string, string[]] {
  const program = typeof shell === 'string' ? shell : '/bin/sh';
  const noStartupFiles = path.basename(program) === 'bash' ? ['--norc'] : [];
  return [program, [...noStartupFiles, '-c', [command, ...args].join(' ')]];
}

/** child_process.spawnSync with its shell started as shellCommand says. */
function spawnSyncThroughShell(command: string, args: readonly string[] = [], options: cp.SpawnSyncOptions = {}): cp.SpawnSyncReturns<string | Buffer> {
  const [program, programArgs] = options.shell ? shellCommand(options.shell, command, args) : [command, args];
  return cp.spawnSync(program, programArgs, { ...options, shell: false });
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

function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
