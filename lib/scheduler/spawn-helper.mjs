// The process spawner in Node: a small Node process (plain JavaScript, no tsx) that starts programs for the
// engine where Python's (spawn-helper.py, the faster) cannot run. Node forks on Linux, and a fork costs in
// proportion to the forking process's memory: ~2.2 ms from the engine (150-250 MB resident) against ~1 ms
// from this ~40 MB process, and the engine's event loop is blocked for all of it. Protocol (JSON messages
// over the IPC channel; both spawners speak it, test/unit/spawners.test.ts holds them to it):
//   in:  { type: 'env', env }   the base environment of the runs that follow
//        { type: 'run', id, program, args, cwd, env?, input?, stdin?, encoding? }   env: variables added to
//          the base; stdin 'pipe': standard input stays open for the messages below; encoding 'latin1':
//          output chunks carry bytes unchanged
//        { type: 'stdin', id, data }   bytes as latin1 text   { type: 'stdin-end', id }
//   out: { type: 'ready' }   once, when it can take requests
//        { type: 'started', id, pid } | { type: 'start-failed', id, code, message }
//        { type: 'stdout' | 'stderr', id, data }   { type: 'exit', id, exitCode, signal, outputLeftOpen? }
import { startProgram } from './start-program.mjs';

let baseEnvironment = process.env;

// Ctrl-C (or a SIGTERM to the whole process group, or a terminal's hangup) reaches this process too; the
// engine decides what stops and reports it as interrupted, so this keeps serving until the engine
// disconnects.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('SIGHUP', () => undefined);
// Programs started and not yet ended, by request id.
const running = new Map();

// The engine went away. After a normal run nothing is running; if it was killed (kill -9, the OOM killer),
// its tasks' programs are stopped as the engine would have: TERM to each group, KILL after the grace period.
process.on('disconnect', () => {
  if (running.size === 0) process.exit(0);
  const groups = [...running.values()].map((child) => child.pid);
  signalGroups(groups, 'SIGTERM');
  const graceMs = Number(process.env.ONBOARDER_GRACE_MS ?? 5000);
  const deadline = Date.now() + graceMs;
  const poll = setInterval(() => {
    if (running.size > 0 && Date.now() < deadline) return;
    clearInterval(poll);
    signalGroups(groups, 'SIGKILL');
    process.exit(0);
  }, 25);
});

function signalGroups(groups, signal) {
  for (const group of groups) {
    try {
      process.kill(-group, signal);
    } catch {
      // Already gone.
    }
  }
}

// Flow control. A program can print faster than the engine takes its output in (`yes`, a verbose
// playbook, a log dump): messages not yet written to the channel are counted, and past a megabyte or so
// every running program's output is paused, so the program blocks on its full pipe as it would writing to
// a slow terminal, instead of this process buffering without bound.
const pauseAboveMessages = 16;
const resumeBelowMessages = 4;
let unwrittenMessages = 0;
let outputPaused = false;

function send(message) {
  if (!process.connected) return;
  unwrittenMessages++;
  process.send(message, () => {
    unwrittenMessages--;
    if (outputPaused && unwrittenMessages < resumeBelowMessages) setOutputFlowing(true);
  });
  if (!outputPaused && unwrittenMessages > pauseAboveMessages) setOutputFlowing(false);
}

function setOutputFlowing(flowing) {
  outputPaused = !flowing;
  for (const child of running.values()) {
    for (const stream of [child.stdout, child.stderr]) {
      if (flowing) stream?.resume();
      else stream?.pause();
    }
  }
}

send({ type: 'ready' });

process.on('message', (message) => {
  if (message.type === 'env') {
    baseEnvironment = message.env;
    return;
  }
  if (message.type === 'stdin' || message.type === 'stdin-end') {
    const stdin = running.get(message.id)?.stdin;
    if (!stdin || stdin.destroyed) return;
    if (message.type === 'stdin') stdin.write(Buffer.from(message.data, 'latin1'));
    else stdin.end();
    return;
  }
  if (message.type !== 'run') return;
  const { id } = message;
  const child = startProgram(
    {
      program: message.program,
      args: message.args,
      cwd: message.cwd,
      env: message.env ? { ...baseEnvironment, ...message.env } : baseEnvironment,
      input: message.input,
      stdin: message.stdin,
      encoding: message.encoding,
    },
    {
      started: (pid) => send({ type: 'started', id, pid }),
      stdout: (data) => send({ type: 'stdout', id, data }),
      stderr: (data) => send({ type: 'stderr', id, data }),
      exit: (exit) => {
        running.delete(id);
        send('startError' in exit ? { type: 'start-failed', id, ...exit.startError } : { type: 'exit', ...exit, id });
      },
    },
  );
  if (!child) return;
  running.set(id, child);
  if (outputPaused) setOutputFlowing(false);
});
