import cp, { type ChildProcess } from 'node:child_process';

/**
 * Tracks the child processes a task starts. Each child leads its own process group (detached), so stopping
 * a task signals the whole tree, grandchildren included: TERM, then KILL after a grace period.
 */
export class ProcessGroups {
  private readonly children = new Set<ChildProcess>();

  /** With `dryRun`, every spawn runs `true` instead: the command is reported, nothing happens. */
  constructor(private readonly dryRun = false) {}

  private boundSpawn: typeof cp.spawn | undefined;

  /** Starts a process as a new group leader and tracks it (`true` instead, in a dry run). */
  spawn(command: string, args: readonly string[], options: cp.SpawnOptions): ChildProcess {
    const child = this.dryRun ? cp.spawn('true', [], { ...options, detached: true }) : cp.spawn(command, args, { ...options, detached: true });
    this.track(child);
    return child;
  }

  /** spawn() as a free function, a drop-in for child_process.spawn: zx uses it through its `spawn` option. */
  get spawnFunction(): typeof cp.spawn {
    return (this.boundSpawn ??= this.spawn.bind(this) as unknown as typeof cp.spawn);
  }

  track(child: ChildProcess): void {
    if (child.pid === undefined) return;
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  get size(): number {
    return this.children.size;
  }

  /** Signals every live group; KILL follows after `graceMs` for any still alive. Resolves when all are gone. */
  async stop(graceMs: number): Promise<void> {
    if (this.children.size === 0) return;
    const groups = [...this.children].map((child) => child.pid!);
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
    signalGroups([...this.children].map((child) => child.pid!), 'SIGKILL');
  }
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
