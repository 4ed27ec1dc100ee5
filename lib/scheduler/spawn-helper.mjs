// The process spawner: a small Node process (plain JavaScript, no tsx) that starts programs for the engine.
// Node forks on Linux, and a fork costs in proportion to the forking process's memory: ~2.2 ms from the
// engine (150-250 MB resident) against ~1 ms from this ~40 MB process, and the engine's event loop is
// blocked for all of it. Protocol (JSON messages over the IPC channel), see spawn-service.ts:
//   in:  { type: 'env', env }   the base environment of the runs that follow
//        { type: 'run', id, program, args, cwd, env?, input? }   env: variables added to the base
//   out: { type: 'ready' }   once, when it can take requests
//        { type: 'started', id, pid } | { type: 'start-failed', id, code, message }
//        { type: 'stdout' | 'stderr', id, data }   { type: 'exit', id, exitCode, signal }
import { startProgram } from './start-program.mjs';

let baseEnvironment = process.env;

// Ctrl-C (or a SIGTERM to the whole process group) reaches this process too; the engine decides what stops
// and reports it as interrupted, so this keeps serving until the engine disconnects.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
// The engine went away: nothing more to do.
process.on('disconnect', () => process.exit(0));

process.send({ type: 'ready' });

process.on('message', (message) => {
  if (message.type === 'env') {
    baseEnvironment = message.env;
    return;
  }
  if (message.type !== 'run') return;
  const { id } = message;
  startProgram(
    {
      program: message.program,
      args: message.args,
      cwd: message.cwd,
      env: message.env ? { ...baseEnvironment, ...message.env } : baseEnvironment,
      input: message.input,
    },
    {
      started: (pid) => process.send({ type: 'started', id, pid }),
      stdout: (data) => process.send({ type: 'stdout', id, data }),
      stderr: (data) => process.send({ type: 'stderr', id, data }),
      exit: (exit) =>
        process.send('startError' in exit ? { type: 'start-failed', id, ...exit.startError } : { type: 'exit', id, exitCode: exit.exitCode, signal: exit.signal }),
    },
  );
});
