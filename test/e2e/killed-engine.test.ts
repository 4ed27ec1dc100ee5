// The engine killed with SIGKILL (the OOM killer, a kill -9): no false stamp, and nothing it started runs
// on unnoticed. The task's program is a FAKE the test steers (test/helpers/fake-command.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FakeCommands, withFakeCommand } from '../helpers/fake-command.js';
import { withProject, withTimeout, type FixtureProject } from '../helpers/project.js';
import { processStat } from '../../lib/fs/proc-stat.js';

const step = 'onboarder-fake-step';

/** Starts the CLI with the rig's programs first on PATH; resolves its exit code when it ends. */
function start(project: FixtureProject, rig: FakeCommands, args: string[]): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  const child = project.start(args, { PATH: `${rig.binDirectory}:${process.env.PATH}`, ONBOARDER_GRACE_MS: '500' });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, exited, output: () => output };
}

test('a stamped task forced, the engine killed during it: the re-run runs it again', withTimeout(60_000, async () => {
  await withFakeCommand(step, (rig) => withProject('basic', async (project) => {
    const first = start(project, rig, ['steered']);
    await (await rig.next(step)).exit(0);
    assert.is(await first.exited, 0, first.output());

    const forced = start(project, rig, ['steered', '--force', 'steered']);
    const running = await rig.next(step);
    forced.child.kill('SIGKILL');
    assert.is(await forced.exited, null);
    await running.exit(0);

    const rerun = start(project, rig, ['steered']);
    await (await rig.next(step)).exit(0);
    assert.is(await rerun.exited, 0, rerun.output());
    assert.match(rerun.output(), '[steered] run: no stamp (last run interrupted)');
  }));
}));

test("the engine killed while a task's program runs: the next run stops that program first and says so", withTimeout(60_000, async () => {
  await withFakeCommand(step, (rig) => withProject('basic', async (project) => {
    const killed = start(project, rig, ['steered']);
    const orphan = await rig.next(step);
    killed.child.kill('SIGKILL');
    await killed.exited;
    const next = start(project, rig, ['steered']);
    // The orphan goes before the task runs again (its program is started only after).
    await orphan.gone();
    await (await rig.next(step)).exit(0);
    assert.is(await next.exited, 0, next.output());
    assert.match(next.output(), new RegExp(`^warning: stopped what a killed run left running: process group ${orphan.pid} \\(${step}\\)$`, 'm'));
  }));
}));

test('the engine killed after starting a program and before recording it: the next run finds it by the run\'s marker and stops it, and nothing else', withTimeout(60_000, async () => {
  await withFakeCommand(step, (rig) => withProject('basic', async (project) => {
    const killed = start(project, rig, ['steered']);
    const orphan = await rig.next(step);
    killed.child.kill('SIGKILL');
    await killed.exited;
    // As if the kill had come between the fork and the record's line for it: the record keeps only its first
    // line (this boot, the run's marker).
    const record = project.path('.cache', 'state', 'test', 'running-groups.json');
    const [header] = readFileSync(record, 'utf8').split('\n');
    assert.match(header!, /"marker":"[0-9a-f]{24}"/);
    writeFileSync(record, `${header}\n`);
    // A program of another run (another marker), in its own group: not this run's to stop.
    const bystander = spawn('sleep', ['33.7'], { detached: true, stdio: 'ignore', env: { ...process.env, ONBOARDER_RUN: '0123456789abcdef01234567' } });
    try {
      const next = start(project, rig, ['steered']);
      await orphan.gone();
      await (await rig.next(step)).exit(0);
      assert.is(await next.exited, 0, next.output());
      assert.match(next.output(), new RegExp(`^warning: stopped what a killed run left running: process group ${orphan.pid} \\(onboarder-fake-`, 'm'));
      assert.is(bystander.exitCode, null, 'the other run\'s program runs on');
      assert.ok(processStat(bystander.pid!) !== undefined);
    } finally {
      bystander.kill('SIGKILL');
    }
  }));
}));

test('without --concurrency, tasks that wait on remote work run at once, whatever the CPU count', withTimeout(60_000, async () => {
  await withFakeCommand(step, (rig) => withProject('basic', async (project) => {
    const run = start(project, rig, ['parallel']);
    // All three are running before any of them is let go (the CPU count, 2 on CI, would hold the third back).
    const running = [await rig.next(step), await rig.next(step), await rig.next(step)];
    assert.equal(running.map((invocation) => invocation.argv[0]).sort(), ['parallel-step[n=1]', 'parallel-step[n=2]', 'parallel-step[n=3]']);
    for (const invocation of running) await invocation.exit(0);
    assert.is(await run.exited, 0, run.output());
  }));
}));

test.run();
