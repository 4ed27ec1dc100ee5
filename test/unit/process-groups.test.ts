import { ChildProcess, spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProcessGroups } from '../../lib/scheduler/process-groups.js';
import { RemoteChildProcess } from '../../lib/scheduler/remote-child.js';
import { closeSpawnService } from '../../lib/scheduler/spawn-service.js';
import { processesMatching, waitFor } from '../helpers/project.js';
import { runBody } from '../helpers/run-body.js';

const quiet = { stdout: () => undefined, stderr: () => undefined };

test("zx's bash does not read the operator's ~/.bashrc, even where bash would (SHLVL unset, stdin a socket)", async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'onboarder-home-'));
  const marker = path.join(home, 'bashrc-ran');
  writeFileSync(path.join(home, '.bashrc'), `echo "$BASH_EXECUTION_STRING" >> ${marker}\n`);
  const saved = { HOME: process.env.HOME, SHLVL: process.env.SHLVL };
  process.env.HOME = home;
  delete process.env.SHLVL;
  try {
    // What bash itself does here, with Node's socket-pair stdin: it reads the file.
    const direct = await new Promise<number | null>((resolve) => spawn('bash', ['-c', 'true'], { stdio: 'pipe' }).on('exit', resolve));
    assert.is(direct, 0);
    assert.ok(existsSync(marker), 'bash -c here reads ~/.bashrc (the case this guards against)');
    rmSync(marker);
    const run = await runBody(async ({ $ }) => {
      // The first starts while the spawners boot (the engine forks it), the next through a spawner.
      await Promise.all([$`echo through zx`, $`echo through zx again`]);
      await $`echo through a spawner`;
      $.sync`echo through spawnSync`;
    });
    assert.is(run.record.outcome, 'succeeded', run.output);
    assert.not.ok(existsSync(marker), `the task's commands ran the operator's .bashrc: ${existsSync(marker) ? readFileSync(marker, 'utf8') : ''}`);
  } finally {
    process.env.HOME = saved.HOME;
    if (saved.SHLVL !== undefined) process.env.SHLVL = saved.SHLVL;
    rmSync(home, { recursive: true, force: true });
  }
});

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

/** Everything a spawned child reports, in order, once it has closed. */
function collect(child: ChildProcess): Promise<{ stdout: Buffer; events: string[] }> {
  const stdout: Buffer[] = [];
  const events: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on('data', () => undefined);
  child.on('exit', (code, signal) => events.push(`exit ${code} ${signal}`));
  child.on('error', (error: NodeJS.ErrnoException) => events.push(`error ${error.code}`));
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      events.push(`close ${code} ${signal}`);
      resolve({ stdout: Buffer.concat(stdout), events });
    }),
  );
}

test("spawn() for zx: a spawner starts the program; bytes and stdin pass unchanged, events come in a ChildProcess's order", async () => {
  const groups = new ProcessGroups();
  const spawn = groups.spawnFunction;
  const task = new AbortController();
  // The first programs are spawned by the engine itself while a spawner boots.
  let parent = process.pid;
  for (let attempt = 0; attempt < 100 && parent === process.pid; attempt++) {
    parent = Number((await collect(spawn('sh', ['-c', 'echo $PPID'], { signal: task.signal }))).stdout.toString());
    if (parent === process.pid) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(parent !== process.pid, 'a spawner started the program');

  const bytes = spawn("printf '\\377\\000\\200'", [], { shell: '/bin/bash', signal: task.signal });
  assert.instance(bytes, RemoteChildProcess);
  assert.equal([...(await collect(bytes)).stdout], [0xff, 0x00, 0x80]);

  const cat = spawn('cat', [], {});
  const catted = collect(cat);
  cat.stdin!.write(Buffer.from([0xfe, 0x0a]));
  cat.stdin!.end('end');
  const result = await catted;
  assert.equal([...result.stdout], [0xfe, 0x0a, ...Buffer.from('end')]);
  assert.equal(result.events, ['exit 0 null', 'close 0 null']);
  assert.ok(cat.pid !== undefined && cat.stdin!.destroyed);

  assert.equal((await collect(spawn('onboarder-no-such-program', [], {}))).events, ['error ENOENT', 'close null null']);

  // The environment is read at each spawn, as child_process.spawn does, even when the same object changed.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, PROBE: 'first' };
  const first = (await collect(spawn('sh', ['-c', 'echo $PROBE'], { env }))).stdout.toString();
  env.PROBE = 'second';
  const second = (await collect(spawn('sh', ['-c', 'echo $PROBE'], { env }))).stdout.toString();
  assert.equal([first, second], ['first\n', 'second\n']);

  // Output a spawner cannot relay (a stream inherited from the engine): the engine spawns it itself.
  const inherited = spawn('true', [], { stdio: ['pipe', 'inherit', 'pipe'] });
  assert.instance(inherited, ChildProcess);
  await new Promise((resolve) => inherited.on('close', resolve));
  assert.is(groups.size, 0);
  assert.is(getEventListeners(task.signal, 'abort').length, 0, 'every program let go of the abort signal');

  // The abort signal (a task's stop, zx's timeout) kills the program.
  const sleeping = spawn('sleep', ['30'], { signal: task.signal });
  const slept = collect(sleeping);
  task.abort();
  assert.equal((await slept).events, ['exit null SIGTERM', 'close null SIGTERM']);

  // Without spawners (ONBOARDER_SPAWNERS=0, or while they boot) the engine spawns it: a real ChildProcess.
  closeSpawnService();
  process.env.ONBOARDER_SPAWNERS = '0';
  const direct = new AbortController();
  const forked = spawn('true', [], { signal: direct.signal });
  assert.instance(forked, ChildProcess);
  await collect(forked);
  delete process.env.ONBOARDER_SPAWNERS;
  assert.is(getEventListeners(direct.signal, 'abort').length, 0, 'a directly spawned program let go of the abort signal');
  closeSpawnService();
});

test.run();
