import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FixtureProject, processesMatching, processesRunning, waitFor, withProject, withTimeout } from '../helpers/project.js';

test('a failing task, then a re-run resumes from it and skips what succeeded', withTimeout(60_000, () => withProject('basic', async (project) => {
  const failed = await project.run(['osdc'], { FAIL_TASK: 'osdc' });
  assert.is(failed.code, 1);
  assert.match(failed.stdout, '[deploy-cluster[cluster=osdc]] FAILED: deploy-cluster[cluster=osdc]: command failed with exit code 3: exit 3');
  assert.match(failed.stdout, '[osdc] blocked: waiting on deploy-cluster[cluster=osdc], which failed');
  // The end repeats each failure with its log file: the FAILED line may be far up a long run's output.
  const recap = /failed: .*\n {2}FAILED deploy-cluster\[cluster=osdc\]: command failed with exit code 3: exit 3\n {4}log: (\.cache\/logs\/test\/[^/]+\/task_deploy-cluster_cluster=osdc_\.log)\n/.exec(failed.stdout);
  assert.ok(recap, failed.stdout);
  assert.match(readFileSync(project.path(recap![1]!), 'utf8'), '-> exit 3');
  const summary = (await project.run(['--summary'])).stdout;
  assert.match(summary, `    log: ${recap![1]}`);
  // The record's table: every task with outcome, attempts, duration and why; a blocked one names what it waits on.
  assert.match(summary, /\n {2}TASK +OUTCOME +ATTEMPTS +DURATION +WHY\n/);
  assert.match(summary, /\n {2}deploy-cluster\[cluster=osdc\] +failed +1 +\d+ms +no stamp\n/);
  assert.match(summary, /\n {2}osdc +blocked +- +- +waiting on deploy-cluster\[cluster=osdc\]\n/);
  // --status says why it failed, as the run did (not only the failure's kind).
  const status = (await project.run(['--status', 'osdc'])).stdout;
  assert.match(status, /\ndeploy-cluster\[cluster=osdc\] +failed +[-0-9: Z]+ +\d+ms +command failed with exit code 3: exit 3\n/);
  project.takeTrace();
  const resumed = await project.run(['osdc']);
  assert.is(resumed.code, 0, resumed.stdout);
  assert.equal(project.takeTrace(), ['deploy-cluster[cluster=osdc]', 'dns']);
  assert.match(resumed.stdout, '[deploy-cluster[cluster=osdc]] run: no stamp (last run failed)');
})));

test('--keep-going runs every branch that does not depend on the failure', withTimeout(60_000, () => withProject('basic', async (project) => {
  const fail = { FAIL_TASK: 'osdc' };
  const stopped = await project.run(['osdc', 'osms', '--concurrency', '1'], fail);
  assert.is(stopped.code, 1);
  project.takeTrace();
  await project.run(['--reset-state', '--yes']);
  const kept = await project.run(['osdc', 'osms', '--keep-going', '--concurrency', '1'], fail);
  assert.is(kept.code, 1);
  assert.ok(project.takeTrace().includes('deploy-cluster[cluster=osms]'));
  assert.match(kept.stdout, '1 failed, 1 blocked');
})));

test('a task that throws fails with its message and location, no stack without --verbose', withTimeout(60_000, () => withProject('basic', async (project) => {
  const result = await project.run(['thrower'], { FAIL_TASK: 'thrower' });
  assert.is(result.code, 1);
  assert.match(result.stdout, /\[thrower\] FAILED: thrower: boom: the API said no \(at tasks\.ts:\d+\)/);
  assert.not.match(result.stdout + result.stderr, '    at ');
})));

test('a task that waits on a promise nothing can settle fails with that reason; the run ends normally', withTimeout(60_000, () => withProject('basic', async (project) => {
  const result = await project.run(['hang', 'osdc', '-k']);
  assert.is(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, "[hang] FAILED: hang: its run is waiting on a promise that nothing can settle");
  assert.match(result.stdout, 'failed: 6 ran, 0 skipped, 1 failed');
})));

test('an exception that escapes a task stops the run in order: one line, no child left, a record, exit 1', withTimeout(60_000, () => withProject('basic', async (project) => {
  const marker = `35.${process.pid}1`;
  const result = await project.run(['escape', 'osdc'], { ESCAPE_SECONDS: marker, ONBOARDER_GRACE_MS: '500' });
  assert.is(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stderr, /^error: tasks\.ts:\d+: an exception escaped the tasks .*: Error: escaped from a timer: the run stops; .*\(run with --verbose for the stack trace\)$/m);
  assert.not.match(result.stderr, '    at ');
  assert.equal(processesMatching(`sleep ${marker}`), []);
  assert.match(result.stdout, '[escape] FAILED: escape: interrupted');
  assert.equal(readdirSync(project.path('.cache', 'state', 'test', 'runs')).map((name) => path.extname(name)).sort(), ['.html', '.json'], 'the run was recorded, with its report');
})));

test('an exception that escapes a body walked by --dry-run: the same one line and exit 1, not a stack trace', withTimeout(60_000, () => withProject('basic', async (project) => {
  const result = await project.run(['escape', '--dry-run']);
  assert.is(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stderr, /^error: tasks\.ts:\d+: an exception escaped the tasks .*: Error: escaped from a timer: the run stops; .*\(run with --verbose for the stack trace\)$/m);
  assert.not.match(result.stderr, '    at ');
})));

test('retries count and back off, each attempt logged', withTimeout(60_000, () => withProject('basic', async (project) => {
  const result = await project.run(['flaky', '--json'], { FLAKY_FAILURES: '2' });
  assert.is(result.code, 0, result.stdout);
  const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
  const retries = events.filter((event) => event.type === 'task-retrying');
  assert.is(retries.length, 2);
  // retryDelay 20: the first wait is in 10-20 ms, the second (doubled) in 20-40 ms.
  assert.ok(retries[0].delayMs >= 10 && retries[0].delayMs <= 20, String(retries[0].delayMs));
  assert.ok(retries[1].delayMs >= 20 && retries[1].delayMs <= 40, String(retries[1].delayMs));
  assert.equal(events.find((event) => event.type === 'task-succeeded').attempts, 3);
  const logDirectory = project.path('.cache', 'logs', 'test', 'latest');
  const log = readFileSync(`${logDirectory}/task_flaky.log`, 'utf8');
  assert.match(log, 'attempt 1 failed');
  assert.match(log, 'attempt 2 failed');
  assert.match(log, '== succeeded after 3 attempt(s)');
  assert.is(statSync(`${logDirectory}/task_flaky.log`).mode & 0o777, 0o600);
})));

for (const runner of ['zx', 'argv'] as const) {
  test(`a timeout kills the whole process tree (${runner === 'zx' ? "zx's $" : 'runCommand'})`, withTimeout(60_000, async () => {
    const project = FixtureProject.copy('basic');
    const marker = `31.${process.pid}${runner === 'zx' ? 7 : 8}`;
    try {
      const result = await project.run(['slow'], { SLOW_SECONDS: marker, SLOW_TIMEOUT: '700', ONBOARDER_GRACE_MS: '500', SLOW_RUNNER: runner });
      assert.is(result.code, 1);
      assert.match(result.stdout, '[slow] FAILED: slow: timed out after 700ms');
      assert.equal(processesMatching(`sleep ${marker}`), []);
    } finally {
      project.remove();
    }
  }));
}

test('--timeout sets one limit for every task of the run; a tree that ignores TERM is KILLed after the grace period', withTimeout(60_000, () => withProject('basic', async (project) => {
  const marker = `35.${process.pid}5`;
  const result = await project.run(['slow', '--timeout', '0.6'], { SLOW_SECONDS: marker, ONBOARDER_GRACE_MS: '500' });
  assert.is(result.code, 1, result.stdout);
  assert.match(result.stdout, '[slow] FAILED: slow: timed out after 600ms');
  assert.equal(processesMatching(`sleep ${marker}`), []);
  // A tree that ignores the TERM gets the KILL once the grace period is over (its sleeps would last 500 s).
  const stubborn = `500.${process.pid}6`;
  try {
    const ignored = await project.run(['slow', '--timeout', '0.6'], { SLOW_SECONDS: stubborn, SLOW_IGNORE_TERM: '1', ONBOARDER_GRACE_MS: '500' }, 60_000);
    assert.match(ignored.stdout, '[slow] FAILED: slow: timed out after 600ms');
    assert.equal(processesMatching(`sleep ${stubborn}`), []);
  } finally {
    for (const pid of processesMatching(`sleep ${stubborn}`)) process.kill(pid, 'SIGKILL');
  }
  // 0 is no limit at all, not an immediate one: the task's own 300 ms limit is lifted too.
  const unlimited = await project.run(['slow', '--timeout', '0'], { SLOW_SECONDS: '0.5', SLOW_TIMEOUT: '300' });
  assert.is(unlimited.code, 0, unlimited.stdout + unlimited.stderr);
  const ownLimit = await project.run(['slow', '--force', 'slow'], { SLOW_SECONDS: '0.5', SLOW_TIMEOUT: '300' });
  assert.match(ownLimit.stdout, '[slow] FAILED: slow: timed out after 300ms');
  const bad = await project.run(['slow', '--timeout', 'soon']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, "--timeout 'soon' is not a duration");
})));

test('kill -9 during a task: the re-run runs that task again, completed stamps are kept, the killed run\'s private files go', withTimeout(60_000, () => withProject('basic', async (project) => {
  const marker = `32.${process.pid}3`;
  // A temp directory of the test's own (tsx keeps its cache there too).
  const tmp = project.path('tmp');
  mkdirSync(tmp);
  const scratch = () => readdirSync(tmp).filter((name) => name.startsWith('onboarder-'));
  const child = project.start(['after-slow'], { SLOW_SECONDS: marker, SLOW_PRIVATE_FILE: '1', TMPDIR: tmp });
  await waitFor(() => processesMatching(`sleep ${marker}`).length >= 2);
  process.kill(-child.pid!, 'SIGKILL');
  for (const pid of processesMatching(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
  const left = scratch();
  assert.equal(left.map((name) => name.replace(/\d+-file-\w+$/, 'PID-file-XXXXXX')), ['onboarder-scratch-PID-file-XXXXXX'], 'the killed run could not remove its private file');
  assert.is(readFileSync(path.join(tmp, left[0]!, 'vars.json'), 'utf8'), '{"token":"slow-secret"}');
  // Another run's scratch (alive: this test's own pid) and anything else there are not touched.
  const live = `onboarder-scratch-${process.pid}-file-Abc123`;
  mkdirSync(path.join(tmp, live));
  mkdirSync(path.join(tmp, 'onboarder-project-xyz'));
  project.takeTrace();
  const rerun = await project.run(['after-slow'], { TMPDIR: tmp });
  assert.is(rerun.code, 0, rerun.stdout + rerun.stderr);
  assert.equal(project.takeTrace(), ['after-slow', 'slow']);
  assert.match(rerun.stdout, '[validate] up to date');
  assert.match(rerun.stdout, '[slow] run: no stamp (last run interrupted)');
  assert.equal(scratch().sort(), [live, 'onboarder-project-xyz'].sort(), 'the killed run\'s scratch is gone');
})));

for (const runner of ['argv', 'zx'] as const) {
  test(`kill -9 of the engine alone: the next run stops the programs it left, says so, and runs the task again (${runner})`, withTimeout(60_000, async () => {
    const project = FixtureProject.copy('basic');
    const marker = `32.${process.pid}${runner === 'argv' ? 4 : 5}`;
    try {
      const child = project.start(['after-slow'], { SLOW_SECONDS: marker, SLOW_RUNNER: runner, ONBOARDER_GRACE_MS: '500' });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      await waitFor(() => processesRunning(`sleep ${marker}`).length === 2);
      // Only the engine (as the OOM killer would), not its process group: nobody is left to stop its programs.
      process.kill(child.pid!, 'SIGKILL');
      await exited;
      assert.equal(processesRunning(`sleep ${marker}`).length, 2, 'the programs outlive the engine');
      const rerun = await project.run(['after-slow'], { SLOW_SECONDS: '0.1' });
      assert.is(rerun.code, 0, rerun.stdout + rerun.stderr);
      assert.match(rerun.stderr, /^warning: stopped what a killed run left running: process group \d+ \((bash|sh)\)$/m, `stderr: ${rerun.stderr}\nprograms left: ${JSON.stringify(processesMatching(`sleep ${marker}`))}`);
      assert.equal(processesMatching(`sleep ${marker}`), []);
      assert.match(rerun.stdout, '[slow] run: no stamp (last run interrupted)');
      assert.not.ok(existsSync(project.path('.cache', 'state', 'test', 'running-groups.json')), 'a run that ended leaves no record of groups');
    } finally {
      for (const pid of processesMatching(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
      project.remove();
    }
  }));
}

for (const [runner, signal] of [['zx', 'SIGINT'], ['argv', 'SIGINT'], ['argv', 'SIGTERM'], ['zx', 'SIGHUP']] as const) {
  test(`${signal} stops the run: no child survives, finished stamps stay, exit 130 (${runner})`, withTimeout(60_000, async () => {
    const project = FixtureProject.copy('basic');
    const marker = `33.${process.pid}${{ SIGINT: runner === 'zx' ? 1 : 2, SIGTERM: 3, SIGHUP: 4 }[signal]}`;
    try {
      const child = project.start(['after-slow'], { SLOW_SECONDS: marker, ONBOARDER_GRACE_MS: '1000', SLOW_RUNNER: runner });
      let stdout = '';
      child.stdout!.on('data', (chunk) => (stdout += chunk));
      await waitFor(() => processesMatching(`sleep ${marker}`).length >= 2);
      // To the engine's process group, as a terminal's Ctrl-C (or a service manager's stop) does: the tasks
      // end as interrupted, not as failed commands.
      process.kill(-child.pid!, signal);
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.is(code, 130);
      assert.equal(processesMatching(`sleep ${marker}`), []);
      assert.match(stdout, 'interrupted');
      // What waited on the interrupted task says so: it did not fail.
      assert.match(stdout, '[after-slow] blocked: waiting on slow, which was interrupted');
      assert.not.match(stdout, 'which failed');
      const status = await project.run(['--status', 'after-slow', '--json']);
      const rows = (JSON.parse(status.stdout) as { version: number; kind: string; tasks: { task: string; state: string }[] }).tasks;
      assert.is(rows.find((row) => row.task === 'validate')!.state, 'done');
      assert.is(rows.find((row) => row.task === 'slow')!.state, 'interrupted');
      assert.equal(readdirSync(project.path('.cache', 'state', 'test', 'runs')).map((name) => path.extname(name)).sort(), ['.html', '.json'], 'the run was recorded, with its report');
    } finally {
      project.remove();
    }
  }));
}

test('a second Ctrl-C kills at once what ignores the first: no child survives, finished stamps stay, exit 130', withTimeout(60_000, async () => {
  const project = FixtureProject.copy('basic');
  // Sleeps of 500 s: they outlive the test unless the second Ctrl-C kills them.
  const marker = `500.${process.pid}5`;
  try {
    // A grace period longer than this test may take: only the second Ctrl-C can end the run in time.
    const child = project.start(['after-slow'], { SLOW_SECONDS: marker, SLOW_IGNORE_TERM: '1', SLOW_RUNNER: 'argv', ONBOARDER_GRACE_MS: '600000' });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await waitFor(() => processesMatching(`sleep ${marker}`).length >= 2);
    process.kill(-child.pid!, 'SIGINT');
    await waitFor(() => stderr.includes('press Ctrl-C again to kill them now'));
    // The first one was sent as TERM to the task's group, which ignores it: the sleeps are still there.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(processesMatching(`sleep ${marker}`).length >= 2, 'the programs ignore TERM');
    process.kill(-child.pid!, 'SIGINT');
    // Not a time limit on the kill: a run still going after 30 s is stopped so the test can fail cleanly.
    const code = await Promise.race([exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 30_000).unref())]);
    if (code === 'still running') process.kill(-child.pid!, 'SIGKILL');
    assert.is(code, 130);
    assert.equal(processesMatching(`sleep ${marker}`), []);
    const status = await project.run(['--status', 'after-slow', '--json']);
    const rows = (JSON.parse(status.stdout) as { version: number; kind: string; tasks: { task: string; state: string }[] }).tasks;
    assert.is(rows.find((row) => row.task === 'validate')!.state, 'done');
    assert.is(rows.find((row) => row.task === 'slow')!.state, 'interrupted');
  } finally {
    for (const pid of processesMatching(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
    project.remove();
  }
}));

test('a second run while one holds the lock is refused with the holder', withTimeout(60_000, async () => {
  const project = FixtureProject.copy('basic');
  const marker = `34.${process.pid}9`;
  try {
    const child = project.start(['slow'], { SLOW_SECONDS: marker });
    await waitFor(() => processesMatching(`sleep ${marker}`).length >= 2);
    const second = await project.run(['osdc']);
    assert.is(second.code, 2);
    assert.match(second.stderr, new RegExp(`another run holds .*run.lock \\(pid ${child.pid} on `));
    process.kill(-child.pid!, 'SIGKILL');
    for (const pid of processesMatching(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
    const third = await project.run(['validate']);
    assert.is(third.code, 0, third.stderr);
    assert.match(third.stderr, 'warning: took over the lock of run');
  } finally {
    project.remove();
  }
}));

test.run();
