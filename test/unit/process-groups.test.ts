import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProcessGroups } from '../../lib/scheduler/process-groups.js';
import { processesMatching, waitFor } from '../helpers/project.js';

const quiet = { stdout: () => undefined, stderr: () => undefined };

test('a program whose start is reported after its task stopped is stopped at once', async () => {
  const marker = `40.${process.pid}1`;
  const groups = new ProcessGroups();
  const running = groups.execute({ program: 'sleep', args: [marker], cwd: '/', baseEnvironment: process.env }, quiet);
  // Stopped before the spawner's 'started' message can have arrived.
  await groups.stop(200);
  assert.equal(await running, { exitCode: null, signal: 'SIGTERM' });
  assert.equal(processesMatching(`sleep ${marker}`), []);
});

test('after a stop, no program starts; one that runs is stopped with the group, grandchildren included', async () => {
  const marker = `40.${process.pid}2`;
  const groups = new ProcessGroups();
  const running = groups.execute({ program: 'sh', args: ['-c', `sleep ${marker} & sleep ${marker}; wait`], cwd: '/', baseEnvironment: process.env }, quiet);
  await waitFor(() => processesMatching(`sleep ${marker}`).length >= 2);
  await groups.stop(200);
  assert.ok('signal' in (await running));
  assert.equal(processesMatching(`sleep ${marker}`), []);
  assert.equal(await groups.execute({ program: 'true', args: [], cwd: '/', baseEnvironment: process.env }, quiet), {
    startError: { code: 'ESTOPPED', message: 'the task was stopped' },
  });
});

test('a program that leaves a process in the background: the group stays tracked and ends with the task', async () => {
  const marker = `40.${process.pid}3`;
  const groups = new ProcessGroups();
  const exit = await groups.execute({ program: 'sh', args: ['-c', `sleep ${marker} > /dev/null 2>&1 &`], cwd: '/', baseEnvironment: process.env }, quiet);
  assert.equal(exit, { exitCode: 0, signal: null });
  assert.is(processesMatching(`sleep ${marker}`).length, 1, 'the background sleep outlived its shell');
  assert.is(groups.size, 1);
  await groups.stop(200);
  assert.equal(processesMatching(`sleep ${marker}`), []);

  const done = new ProcessGroups();
  await done.execute({ program: 'true', args: [], cwd: '/', baseEnvironment: process.env }, quiet);
  assert.is(done.size, 0, 'a group with nothing left in it is forgotten');
});

test.run();
