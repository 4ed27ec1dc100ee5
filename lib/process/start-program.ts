import cp, { type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ProgramExit } from '../dsl/context.js';
import { throttle, type OutputGate } from './throttle.js';

/**
 * How long a program's output may stay open after it exited. A program that leaves something running in
 * the background with its output (`daemon &`) has ended, but its pipes stay open as long as that process
 * lives: after this grace period they are no longer read (Go's Cmd.WaitDelay), and the task's stop ends
 * what is left. Node reads what is left in the pipe of an exited program at once: the period is for
 * something else holding it open, not for the engine being slow.
 */
export const outputDrainMs = 2000;

/** Programs whose output was given up after the drain period (see ProgramExit.outputLeftOpen). */
const leftOutputOpen = new WeakSet<ChildProcess>();

/** Whether `child` exited while something it left running still held its output (then no longer read). */
export function outputWasLeftOpen(child: ChildProcess): boolean {
  return leftOutputOpen.has(child);
}

/**
 * Starts a program as the leader of its own process group (and session): the one place where the engine
 * starts a program. Everything a task runs comes here: runCommand and every tool helper (through
 * runProgram), and zx's `$` (its `spawn` option). `shell` runs the words with that shell as
 * child_process.spawn would, but see shellCommand. `started` receives the group's id before anything else
 * can happen to it. After the program exits, its output is read for at most outputDrainMs more.
 */
export function startProgram(command: string, args: readonly string[], options: cp.SpawnOptions, started: (group: number) => void): ChildProcess {
  const [program, programArgs] = options.shell ? shellCommand(options.shell, command, args) : [command, args];
  const child = cp.spawn(program, programArgs, { ...options, shell: false, detached: true });
  if (child.pid === undefined) return child;
  started(child.pid);
  child.once('exit', () => {
    const streams = [child.stdout, child.stderr].filter((stream): stream is NonNullable<typeof stream> => stream !== null && !stream.readableEnded);
    if (streams.length === 0) return;
    const timer = setTimeout(() => {
      leftOutputOpen.add(child);
      for (const stream of streams) stream.destroy();
    }, outputDrainMs);
    child.once('close', () => clearTimeout(timer));
  });
  return child;
}

/** One program to run with an argument array, never a shell string. */
export interface ProgramRequest {
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Written to the program's standard input, which is then closed; without it, stdin is /dev/null. */
  readonly input?: string;
}

export interface ProgramHandlers {
  stdout(chunk: string): void;
  stderr(chunk: string): void;
}

/**
 * Runs a program through startProgram and resolves with how it ended. Output is decoded as UTF-8 and
 * handed over chunk by chunk to synchronous handlers (the task's log file is written synchronously); when
 * the console's stream (`gate`) falls behind, the program's output is paused until it drains (throttle):
 * a program that prints faster than that waits on its full pipe, and nothing grows in memory.
 */
export function runProgram(request: ProgramRequest, handlers: ProgramHandlers, started: (group: number) => void, gate?: OutputGate): Promise<ProgramExit> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = startProgram(request.program, request.args, { cwd: request.cwd, env: request.env, stdio: [request.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] }, started);
    } catch (error) {
      const failure = error as NodeJS.ErrnoException;
      resolve({ startError: { ...(failure.code ? { code: failure.code } : {}), message: failure.message } });
      return;
    }
    // A program that cannot start (not found, not executable) has no pid and reports only 'error'.
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) resolve({ startError: { ...(error.code ? { code: error.code } : {}), message: error.message } });
    });
    if (child.pid === undefined) return;
    child.stdout!.setEncoding('utf8').on('data', handlers.stdout);
    child.stderr!.setEncoding('utf8').on('data', handlers.stderr);
    throttle([child.stdout, child.stderr], gate);
    if (child.stdin) {
      // The program may exit without reading its input: not an error of ours.
      child.stdin.on('error', () => undefined);
      child.stdin.end(request.input);
    }
    child.once('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
      resolve(outputWasLeftOpen(child) ? { exitCode, signal, outputLeftOpen: true } : { exitCode, signal });
    });
  });
}

/**
 * What child_process.spawn runs for `shell` on Linux: the shell with `-c` and the words joined by spaces;
 * and for bash (zx's shell) `--norc` first. `bash -c` reads ~/.bashrc as if started by sshd when its stdin
 * is a socket (Node's pipes are socket pairs) or SSH_CLIENT is set, and SHLVL is below 2: every command of a
 * run started from cron, CI or a service would run the operator's .bashrc first (pyenv init, prompts,
 * output), slowly and differently on each machine.
 */
export function shellCommand(shell: string | true, command: string, args: readonly string[]): [string, string[]] {
  const program = typeof shell === 'string' ? shell : '/bin/sh';
  const noStartupFiles = path.basename(program) === 'bash' ? ['--norc'] : [];
  return [program, [...noStartupFiles, '-c', [command, ...args].join(' ')]];
}

/**
 * child_process.spawnSync for zx's `$.sync`, with its shell started as shellCommand says. It blocks the
 * engine until the program ends, so no timeout or Ctrl-C reaches it: for short commands only.
 */
export function startProgramSync(command: string, args: readonly string[] = [], options: cp.SpawnSyncOptions = {}): cp.SpawnSyncReturns<string | Buffer> {
  const [program, programArgs] = options.shell ? shellCommand(options.shell, command, args) : [command, args];
  return cp.spawnSync(program, programArgs, { ...options, shell: false });
}
