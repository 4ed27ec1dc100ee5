import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ProgramExit } from '../../lib/dsl/context.js';
import { startProgram } from '../../lib/scheduler/start-program.mjs';

/** Starts `script` with sh and collects its stdout, how it ended, and its process group. */
function run(script: string): Promise<{ output: string; exit: ProgramExit; group: number }> {
  return new Promise((resolve) => {
    let output = '';
    let group = 0;
    startProgram(
      { program: 'sh', args: ['-c', script], cwd: process.cwd(), env: process.env },
      { started: (pid) => (group = pid), stdout: (chunk) => (output += chunk), stderr: () => undefined, exit: (exit) => resolve({ output, exit, group }) },
    );
  });
}

test('output held open by something the program left running is given up 2 s after it exits, and said so', async () => {
  const { output, exit, group } = await run('sleep 30 & echo started');
  // What it left runs on in the program's group (a task's stop signals that group; here the test does).
  process.kill(-group, 'SIGKILL');
  assert.is(output, 'started\n');
  assert.equal(exit, { exitCode: 0, signal: null, outputLeftOpen: true });
});

test.run();
