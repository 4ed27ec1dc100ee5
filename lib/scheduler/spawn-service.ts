import { fork, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ProgramExit } from '../dsl/context.js';
import { startProgram } from './start-program.mjs';

/** One program to start: an argument array, never a shell string. */
export interface ProgramRequest {
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The environment the programs of one run share (sent to a spawner again only when it changes). */
  readonly baseEnvironment: NodeJS.ProcessEnv;
  /** Variables added to the base for this program. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the program's standard input, which is then closed; without it, stdin is /dev/null. */
  readonly input?: string;
  /** Output as bytes (latin1 text, one character per byte) instead of UTF-8 text. */
  readonly encoding?: 'latin1';
}

/** A program whose standard input stays open: the caller writes to it and ends it. */
export interface AttachedProgram {
  readonly exit: Promise<ProgramExit>;
  writeStdin(chunk: Buffer): void;
  endStdin(): void;
}

export interface ProgramHandlers {
  /** The program is running as the leader of its own process group `pid`. */
  started(pid: number): void;
  stdout(chunk: string): void;
  stderr(chunk: string): void;
}

export type { ProgramExit };

type SpawnerMessage =
  | { type: 'ready' }
  | { type: 'started'; id: number; pid: number }
  | { type: 'start-failed'; id: number; code?: string; message: string }
  | { type: 'stdout' | 'stderr'; id: number; data: string }
  | { type: 'exit'; id: number; exitCode: number | null; signal: NodeJS.Signals | null; outputLeftOpen?: true };

interface InFlight {
  readonly handlers: ProgramHandlers;
  readonly resolve: (exit: ProgramExit) => void;
  started: boolean;
}

/**
 * The two spawners, one protocol (described in spawn-helper.mjs). Python's is the faster (posix_spawn, see
 * spawn-helper.py); Node's is used where no python3 of 3.9 or later runs, or with ONBOARDER_SPAWNER=node.
 */
export type SpawnerKind = 'python' | 'node';
const helperScripts: Record<SpawnerKind, string> = {
  python: fileURLToPath(new URL('./spawn-helper.py', import.meta.url)),
  node: fileURLToPath(new URL('./spawn-helper.mjs', import.meta.url)),
};

/**
 * How the Python spawner is started. Isolated (-I: no PYTHON* variables, no user site) and without site
 * (-S): the helper needs only the standard library. -X utf8: arguments and environments go to programs as
 * UTF-8, as Node sends them, whatever the locale (in ISO-8859-1 it would encode them in that, and fail on
 * any character outside it).
 */
export function pythonSpawnerCommand(): [program: string, args: string[]] {
  return ['python3', ['-X', 'utf8', '-I', '-S', helperScripts.python]];
}

/** One spawner process and the programs it is running. */
class Spawner {
  readonly inFlight = new Map<number, InFlight>();
  /** Requests sent whose fork has not been acknowledged yet: the spawner is busy forking. */
  pendingStarts = 0;
  /** It has booted (~50 ms): until then programs are spawned directly, not queued behind it. */
  ready = false;
  private lastEnvironment: NodeJS.ProcessEnv | undefined;
  private alive = true;
  private readonly bootTimer: NodeJS.Timeout;

  constructor(
    private readonly child: ChildProcess,
    private readonly onGone: (spawner: Spawner) => void,
    bootTimeoutMs: number,
  ) {
    child.on('message', (message: SpawnerMessage) => this.receive(message));
    child.once('exit', () => this.gone());
    child.once('error', () => this.gone());
    // One that does not come up (an interpreter stuck in its start, a wrapper waiting on a lock) is ended
    // and counts as one that failed to start.
    this.bootTimer = setTimeout(() => {
      if (!this.ready) {
        child.kill('SIGKILL');
        this.gone();
      }
    }, bootTimeoutMs).unref();
    this.idle();
  }

  get usable(): boolean {
    return this.ready && this.alive && this.child.connected;
  }

  run(id: number, request: ProgramRequest & { readonly stdin?: 'pipe' }, handlers: ProgramHandlers, resolve: (exit: ProgramExit) => void): void {
    if (this.inFlight.size === 0) {
      // Waiting for this program's messages keeps the engine alive; an idle spawner does not.
      this.child.ref();
      this.child.channel?.ref();
    }
    this.inFlight.set(id, { handlers, resolve, started: false });
    this.pendingStarts++;
    // By content, not identity: a caller may change its environment object between two programs.
    if (!sameEnvironment(this.lastEnvironment, request.baseEnvironment)) {
      this.lastEnvironment = { ...request.baseEnvironment };
      this.child.send({ type: 'env', env: this.lastEnvironment });
    }
    this.child.send({
      type: 'run',
      id,
      program: request.program,
      args: request.args,
      cwd: request.cwd,
      ...(request.env ? { env: request.env } : {}),
      ...(request.input !== undefined ? { input: request.input } : {}),
      ...(request.stdin ? { stdin: request.stdin } : {}),
      ...(request.encoding ? { encoding: request.encoding } : {}),
    });
  }

  /** Bytes for a running program's standard input; without a chunk, closes it. */
  stdin(id: number, chunk?: Buffer): void {
    if (!this.inFlight.has(id) || !this.child.connected) return;
    this.child.send(chunk ? { type: 'stdin', id, data: chunk.toString('latin1') } : { type: 'stdin-end', id });
  }

  disconnect(): void {
    if (this.child.connected) this.child.disconnect();
    this.gone();
  }

  private receive(message: SpawnerMessage): void {
    if (message.type === 'ready') {
      this.ready = true;
      clearTimeout(this.bootTimer);
      return;
    }
    const running = this.inFlight.get(message.id);
    if (!running) return;
    switch (message.type) {
      case 'started':
        running.started = true;
        this.pendingStarts--;
        running.handlers.started(message.pid);
        return;
      case 'stdout':
        running.handlers.stdout(message.data);
        return;
      case 'stderr':
        running.handlers.stderr(message.data);
        return;
      case 'start-failed':
        this.pendingStarts--;
        this.finish(message.id, { startError: { ...(message.code ? { code: message.code } : {}), message: message.message } });
        return;
      case 'exit':
        this.finish(message.id, { exitCode: message.exitCode, signal: message.signal, ...(message.outputLeftOpen ? { outputLeftOpen: true } : {}) });
        return;
    }
  }

  private finish(id: number, exit: ProgramExit): void {
    const running = this.inFlight.get(id)!;
    this.inFlight.delete(id);
    running.resolve(exit);
    if (this.inFlight.size === 0) this.idle();
  }

  private idle(): void {
    this.child.unref();
    this.child.channel?.unref();
  }

  private gone(): void {
    if (!this.alive) return;
    this.alive = false;
    clearTimeout(this.bootTimer);
    this.onGone(this);
    // Programs it started keep running in their own groups (the task's stop still signals them); what it
    // was relaying is lost, so each is reported as ended with a clear reason.
    for (const [id, running] of this.inFlight) {
      this.inFlight.delete(id);
      running.resolve({ startError: { code: 'ESPAWNER', message: running.started ? 'the process spawner exited while the program ran' : 'the process spawner exited' } });
    }
  }
}

/**
 * Starts programs for the engine through a few small spawner processes (spawn-helper.py, else
 * spawn-helper.mjs): the engine's event loop no longer stops for a fork per command, and Python's
 * posix_spawn starts a program in half the time of a fork from a small Node process. Each program is a
 * process-group leader, as with a direct spawn. When no spawner can be started, or with
 * ONBOARDER_SPAWNERS=0, programs are spawned directly.
 */
export class SpawnService {
  private readonly spawners: Spawner[] = [];
  private nextId = 1;
  private unavailable = process.env.ONBOARDER_SPAWNERS === '0';

  constructor(
    private readonly capacity = Math.min(4, Math.max(1, os.availableParallelism())),
    private kind: SpawnerKind = process.env.ONBOARDER_SPAWNER === 'node' ? 'node' : 'python',
    /** How long a spawner may take to say it is ready (a cold Python or Node start takes well under 1 s). */
    private readonly bootTimeoutMs = 5000,
  ) {}

  /** Which spawner this service starts now: Python's until one fails to come up, then Node's. */
  get spawnerKind(): SpawnerKind {
    return this.kind;
  }

  /** Lets every spawner go (each exits when its channel closes); programs still being relayed end as errors. */
  close(): void {
    for (const spawner of [...this.spawners]) spawner.disconnect();
  }

  run(request: ProgramRequest, handlers: ProgramHandlers): Promise<ProgramExit> {
    return new Promise((resolve) => {
      const spawner = this.pick();
      if (!spawner) return spawnDirectly(request, handlers, resolve);
      spawner.run(this.nextId++, request, handlers, resolve);
    });
  }

  /**
   * Starts a program on a spawner with its standard input open, for callers that stream to it (zx's `$`);
   * undefined while no spawner is ready, for the caller to spawn it directly.
   */
  attach(request: ProgramRequest, handlers: ProgramHandlers): AttachedProgram | undefined {
    const spawner = this.pick();
    if (!spawner) return undefined;
    const id = this.nextId++;
    const exit = new Promise<ProgramExit>((resolve) => spawner.run(id, { ...request, stdin: 'pipe' }, handlers, resolve));
    return { exit, writeStdin: (chunk) => spawner.stdin(id, chunk), endStdin: () => spawner.stdin(id) };
  }

  /**
   * The ready spawner with the fewest forks in progress. While all are busy and there is room, another
   * one boots in the background; until some spawner is ready, programs are spawned directly.
   */
  private pick(): Spawner | undefined {
    let best: Spawner | undefined;
    for (const spawner of this.spawners) if (spawner.usable && (!best || spawner.pendingStarts < best.pendingStarts)) best = spawner;
    const booting = this.spawners.some((spawner) => !spawner.ready);
    if ((!best || best.pendingStarts > 0) && !booting && this.spawners.length < this.capacity && !this.unavailable) this.start();
    return best;
  }

  private start(): void {
    const kind = this.kind;
    try {
      // The spawner gets the engine's environment without NODE_OPTIONS (a plain Node: none of the engine's
      // own flags, tsx's loader, profilers, heap sizes); the programs it starts get the engine's environment,
      // NODE_OPTIONS included, from the first 'env' message.
      const options: SpawnOptions = { env: { ...process.env, NODE_OPTIONS: undefined }, serialization: 'json', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] };
      const child = kind === 'python' ? spawn(...pythonSpawnerCommand(), options) : fork(helperScripts.node, [], { ...options, execArgv: [] });
      this.spawners.push(
        new Spawner(child, (gone) => {
          this.spawners.splice(this.spawners.indexOf(gone), 1);
          if (gone.ready) return;
          // One that never came up will not the next time either: Node's next, then spawn directly.
          if (kind === 'python') this.kind = 'node';
          else this.unavailable = true;
        }, this.bootTimeoutMs),
      );
    } catch {
      if (kind === 'python') this.kind = 'node';
      else this.unavailable = true;
    }
  }
}

function sameEnvironment(sent: NodeJS.ProcessEnv | undefined, wanted: NodeJS.ProcessEnv): boolean {
  if (!sent) return false;
  let count = 0;
  for (const name in wanted) {
    if (sent[name] !== wanted[name]) return false;
    count++;
  }
  return count === Object.keys(sent).length;
}

function spawnDirectly(request: ProgramRequest, handlers: ProgramHandlers, resolve: (exit: ProgramExit) => void): void {
  startProgram(
    {
      program: request.program,
      args: request.args,
      cwd: request.cwd,
      env: request.env ? { ...request.baseEnvironment, ...request.env } : request.baseEnvironment,
      ...(request.input !== undefined ? { input: request.input } : {}),
      ...(request.encoding ? { encoding: request.encoding } : {}),
    },
    { started: handlers.started, stdout: handlers.stdout, stderr: handlers.stderr, exit: resolve },
  );
}

let shared: SpawnService | undefined;

/** The spawn service of this engine process (spawners are shared by every run and task). */
export function spawnService(): SpawnService {
  return (shared ??= new SpawnService());
}

/** Ends the spawners, if any started: the CLI calls it when a run is over, so nothing keeps it alive. */
export function closeSpawnService(): void {
  shared?.close();
  shared = undefined;
}
