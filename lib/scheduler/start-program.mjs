// Starts one program as the leader of its own process group: the one place that does, used by the
// spawner processes (spawn-helper.mjs, plain Node) and by the engine when it spawns directly
// (spawn-service.ts). Plain JavaScript so that both can load it; types in start-program.d.mts.
import { spawn } from 'node:child_process';

/** How long a program's output may stay open after it exited (see outputLeftOpen in ProgramExit). */
const outputDrainMs = 2000;

/**
 * @param {import('./start-program.d.mts').StartRequest} request
 * @param {import('./start-program.d.mts').StartHandlers} handlers
 */
export function startProgram(request, handlers) {
  const startFailed = (error) => handlers.exit({ startError: { ...(error.code ? { code: error.code } : {}), message: error.message } });
  let child;
  try {
    child = spawn(request.program, request.args, {
      cwd: request.cwd,
      env: request.env,
      stdio: [request.input === undefined && request.stdin !== 'pipe' ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      // Its own process group, so stopping the task signals the whole tree.
      detached: true,
    });
  } catch (error) {
    startFailed(error);
    return undefined;
  }
  // A program that cannot start (not found, not executable) has no pid and reports only 'error'.
  child.once('error', (error) => {
    if (child.pid === undefined) startFailed(error);
  });
  if (child.pid === undefined) return undefined;
  handlers.started(child.pid);
  const encoding = request.encoding ?? 'utf8';
  child.stdout.setEncoding(encoding).on('data', handlers.stdout);
  child.stderr.setEncoding(encoding).on('data', handlers.stderr);
  if (child.stdin) {
    // The program may exit without reading its input (or be `true` in a dry run): not an error of ours.
    child.stdin.on('error', () => undefined);
    // A piped stdin stays open for the caller to write to and end.
    if (request.stdin !== 'pipe') child.stdin.end(request.input);
  }
  // A program that leaves something running in the background with its output (`daemon &`) has ended,
  // but its pipes stay open as long as that process lives. Once it has exited, its output gets a grace
  // period to drain, then is no longer read (Go's Cmd.WaitDelay); the task's stop ends what is left.
  // (Node resumes an exited program's output at once, paused or not, and reads what is left in the pipe:
  // the period is for something else holding it open, not for the engine being slow.)
  let outputLeftOpen = false;
  let drainTimer;
  const stopReading = () => {
    outputLeftOpen = true;
    child.stdout.destroy();
    child.stderr.destroy();
  };
  child.once('exit', () => {
    drainTimer = setTimeout(stopReading, outputDrainMs);
  });
  child.once('close', (exitCode, signal) => {
    clearTimeout(drainTimer);
    handlers.exit(outputLeftOpen ? { exitCode, signal, outputLeftOpen: true } : { exitCode, signal });
  });
  return child;
}
