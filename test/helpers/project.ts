import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { longTierRuns } from './tiers.js';

export const repositoryRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** A throwaway copy of a fixture project, at the same depth as the fixtures so its imports resolve. */
export class FixtureProject {
  readonly trace: string;

  private constructor(readonly directory: string) {
    this.trace = path.join(directory, 'trace.txt');
  }

  static copy(fixture: string): FixtureProject {
    const directory = mkdtempSync(path.join(repositoryRoot, 'test', 'fixtures', '.run-'));
    cpSync(path.join(repositoryRoot, 'test', 'fixtures', fixture), directory, {
      recursive: true,
      filter: (source) => !source.includes('/.cache'),
    });
    return new FixtureProject(directory);
  }

  path(...parts: string[]): string {
    return path.join(this.directory, ...parts);
  }

  /** Runs the project's deploy.ts with the real CLI (under `wrapper`, e.g. setpriv, when given). */
  run(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 120_000, wrapper: readonly string[] = []): Promise<CliResult> {
    const [program, ...programArgs] = [...wrapper, process.execPath, '--import', 'tsx', 'deploy.ts', ...args];
    return new Promise((resolve) => {
      execFile(
        program!,
        programArgs,
        { cwd: this.directory, env: { ...process.env, NO_COLOR: '1', ONBOARDER_TEST_TRACE: this.trace, ...env }, timeout: timeoutMs },
        (error, stdout, stderr) => {
          const code = error ? ((error as { code?: number }).code ?? 1) : 0;
          resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
        },
      );
    });
  }

  /** Starts the CLI in the background, in its own process group. */
  start(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
    return spawn(process.execPath, ['--import', 'tsx', 'deploy.ts', ...args], {
      cwd: this.directory,
      env: { ...process.env, NO_COLOR: '1', ONBOARDER_TEST_TRACE: this.trace, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** The task ids traced since the last call, and clears the trace. */
  takeTrace(): string[] {
    if (!existsSync(this.trace)) return [];
    const lines = readFileSync(this.trace, 'utf8').split('\n').filter(Boolean);
    rmSync(this.trace);
    return lines.sort();
  }

  remove(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/** Runs `body` on a throwaway copy of a fixture project, removed afterwards whatever happens. */
export async function withProject<Result>(fixture: string, body: (project: FixtureProject) => Promise<Result>): Promise<Result> {
  const project = FixtureProject.copy(fixture);
  try {
    return await body(project);
  } finally {
    project.remove();
  }
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Fails a test that takes longer than `ms` instead of letting it hang (uvu has no timeouts). */
/** The CLI runs this test process has going (runDeploy's): a test that times out stops them. */
export const runningCommands = new Set<ChildProcess>();

function stopRunningCommands(): void {
  for (const child of runningCommands) child.kill('SIGTERM');
}

export function withTimeout<T, Context = unknown>(ms: number, body: (context: Context) => Promise<T>): (context: Context) => Promise<T> {
  // A hang guard, not a measure: the long tier's suites share the machine with the other slot's, and run slower.
  const limit = ms * (longTierRuns ? 2 : 1);
  return (context) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The runs the test started stop (TERM: each stops its tasks and leaves its run lock), so that the
        // next test does not find this one's run holding the lock.
        stopRunningCommands();
        reject(new Error(`test timed out after ${limit} ms`));
      }, limit);
      const started = Date.now();
      body(context).then(
        (value) => {
          // TEST_TIMINGS=1: each test's seconds (uvu's context names the test), to see where a suite's time goes.
          if (process.env.TEST_TIMINGS) process.stderr.write(`\n[timing] ${Math.round((Date.now() - started) / 1000)} s: ${(context as { __test__?: string }).__test__ ?? ''}\n`);
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
}

export function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (condition()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error('condition not met in time'));
      setTimeout(poll, 25);
    };
    poll();
  });
}

/** The processes whose command line is exactly `command` (`sleep 32.15`), not one that only mentions it (a shell). */
export function processesRunning(command: string): number[] {
  return processesMatching(command).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() === command;
    } catch {
      return false;
    }
  });
}

/** Whether any process is alive whose command line contains `marker`. */
export function processesMatching(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(marker)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}
