// lib/process: the one way a task starts a program (runProgram for runCommand and the helpers, startProgram
// for zx's `$`), its process groups, and the drain of output left open by something running in the background.
import { ChildProcess, spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { groupHasLiveMember, processStat } from '../../lib/fs/proc-stat.js';
import { ProcessGroups, stopGroups } from '../../lib/process/process-groups.js';
import { processesMatching, waitFor } from '../helpers/project.js';
import { runBody } from '../helpers/run-body.js';

const quiet = { stdout: () => undefined, stderr: () => undefined };
const request = (program: string, args: string[]) => ({ program, args, cwd: '/', env: process.env });

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
      await Promise.all([$`echo through zx`, $`echo through zx again`]);
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

test('a group left with only zombies counts as ended: a stop does not wait for init to reap them (a second Ctrl-C returns at once)', async () => {
  // A parent that never reaps: its child leads its own group and exits at once, a zombie from then on.
  const parent = spawn('python3', ['-c', 'import os, sys, time\npid = os.fork()\nif pid == 0:\n    os.setpgid(0, 0)\n    os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const group = await new Promise<number>((resolve) => parent.stdout!.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
    await waitFor(() => processStat(group)?.state === 'Z');
    process.kill(-group, 0); // signal 0 still finds the group: what a stop used to wait on
    assert.is(groupHasLiveMember(group), false);
    assert.is(groupHasLiveMember(processStat(process.pid)!.group), true, 'this test runner\'s own group');
    let settled = false;
    const stopped = stopGroups([group], 600_000).then(() => (settled = true));
    await waitFor(() => settled, 10_000);
    await stopped;
  } finally {
    parent.kill('SIGKILL');
  }
});

test('after a stop, no program starts; one that runs is stopped with its group, grandchildren included', async () => {
  const marker = `40.${process.pid}2`;
  const groups = new ProcessGroups();
  const running = groups.execute(request('sh', ['-c', `sleep ${marker} & sleep ${marker}; wait`]), quiet);
  await waitFor(() => processesMatching(`sleep ${marker}`).length >= 2);
  await groups.stop(200);
  assert.ok('signal' in (await running));
  assert.equal(processesMatching(`sleep ${marker}`), []);
  assert.equal(await groups.execute(request('true', []), quiet), { startError: { code: 'ESTOPPED', message: 'the task was stopped' } });
});

test('a program that leaves a process in the background: the group stays tracked and ends with the task', async () => {
  const marker = `40.${process.pid}3`;
  const groups = new ProcessGroups();
  const exit = await groups.execute(request('sh', ['-c', `sleep ${marker} > /dev/null 2>&1 &`]), quiet);
  assert.equal(exit, { exitCode: 0, signal: null });
  assert.is(processesMatching(`sleep ${marker}`).length, 1, 'the background sleep outlived its shell');
  assert.is(groups.size, 1);
  await groups.stop(200);
  assert.equal(processesMatching(`sleep ${marker}`), []);

  const done = new ProcessGroups();
  await done.execute(request('true', []), quiet);
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

test("spawn() for zx: a real ChildProcess leading its own group; bytes, stdin, events and the abort signal as child_process gives them", async () => {
  const groups = new ProcessGroups();
  const spawnInGroup = groups.spawnFunction;
  const task = new AbortController();
  const group = (await collect(spawnInGroup('sh', ['-c', 'ps -o pgid= -p $$'], { signal: task.signal }))).stdout.toString().trim();
  const leader = spawnInGroup('sh', ['-c', 'echo $$'], {});
  assert.instance(leader, ChildProcess);
  assert.is((await collect(leader)).stdout.toString().trim(), String(leader.pid));
  assert.ok(Number(group) !== process.pid && Number(group) > 0, 'the program leads a group of its own');

  assert.equal([...(await collect(spawnInGroup("printf '\\377\\000\\200'", [], { shell: '/bin/bash' }))).stdout], [0xff, 0x00, 0x80]);

  const cat = spawnInGroup('cat', [], {});
  const catted = collect(cat);
  cat.stdin!.write(Buffer.from([0xfe, 0x0a]));
  cat.stdin!.end('end');
  const result = await catted;
  assert.equal([...result.stdout], [0xfe, 0x0a, ...Buffer.from('end')]);
  assert.equal(result.events, ['exit 0 null', 'close 0 null']);

  assert.equal((await collect(spawnInGroup('onboarder-no-such-program', [], {}))).events, ['error ENOENT', 'close -2 null']);
  assert.is(groups.size, 0);

  const sleeping = spawnInGroup('sleep', ['30'], { signal: task.signal });
  const slept = collect(sleeping);
  task.abort();
  assert.equal((await slept).events, ['error ABORT_ERR', 'exit null SIGTERM', 'close null SIGTERM']);
  assert.is(getEventListeners(task.signal, 'abort').length, 0, 'every program let go of the abort signal');
});

test.run();
