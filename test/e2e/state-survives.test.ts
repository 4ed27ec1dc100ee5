// State that survives an operator's worst day (issue 16, part 1): a journal torn by a kill and then a
// second kill, a corrupt state that --reset-state must still clear, a lock whose pid now belongs to another
// process, a .cache that turns read-only mid-run, a journal another user owns.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withFakeCommand } from '../helpers/fake-command.js';
import { withProject, withTimeout, type FixtureProject } from '../helpers/project.js';

const stateOf = (project: FixtureProject, ...file: string[]) => project.path('.cache', 'state', 'test', ...file);

test('a journal torn by a kill, then a second run killed after appending: every later command reads the state', withTimeout(60_000, async () => {
  await withFakeCommand('onboarder-fake-step', (rig) => withProject('basic', async (project) => {
    assert.is((await project.run(['validate'])).code, 0);
    // What a kill in the middle of a write leaves: a line without its end.
    writeFileSync(stateOf(project, 'state.journal'), '{"op":"start","id":"dns","at":"2026');
    const killed = project.start(['steered'], { PATH: `${rig.binDirectory}:${process.env.PATH}` });
    let stderr = '';
    killed.stderr!.on('data', (chunk) => (stderr += chunk));
    const running = await rig.next('onboarder-fake-step');
    killed.kill('SIGKILL');
    await new Promise((resolve) => killed.on('exit', resolve));
    await running.exit(0);
    assert.match(stderr, /^warning: dropped an incomplete last line of \S+state\.journal \(a run was killed, or the disk filled, while writing it\); it is cut off before the next change is written$/m);
    const journal = readFileSync(stateOf(project, 'state.journal'), 'utf8');
    assert.ok(journal.startsWith('{"op":"start","id":"steered"'), `the torn bytes were cut before the next change: ${journal}`);
    const status = await project.run(['--status', '--json']);
    assert.is(status.code, 0, status.stderr);
    assert.is((JSON.parse(status.stdout) as { tasks: { task: string; state: string }[] }).tasks.find((row) => row.task === 'steered')!.state, 'interrupted');
    const rerun = await project.run(['validate']);
    assert.is(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stdout, '[validate] up to date');
  }));
}));

test('--reset-state clears a state no other command can read, and keeps the old files aside', withTimeout(60_000, () => withProject('basic', async (project) => {
  assert.is((await project.run(['validate'])).code, 0);
  writeFileSync(stateOf(project, 'state.json'), 'not json at all');
  appendFileSync(stateOf(project, 'state.journal'), 'garbage\n{"op":"reset","id":"validate"}\n');
  const refused = await project.run(['validate']);
  assert.is(refused.code, 2);
  assert.match(refused.stderr, /^error: state file \S+state\.json is not valid JSON .*run --reset-state$/m);
  const reset = await project.run(['--reset-state', '--yes']);
  assert.is(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /^reset every stamp of test; the old state is kept as state\.json\.\d{4}-\d\d-\d\dT[\d-]+Z, state\.journal\.\d{4}-\d\d-\d\dT[\d-]+Z$/m);
  const kept = readdirSync(stateOf(project)).filter((name) => /^state\.json\.\d/.test(name));
  assert.is(readFileSync(stateOf(project, kept[0]!), 'utf8'), 'not json at all');
  const after = await project.run(['validate']);
  assert.is(after.code, 0, after.stderr);
  assert.match(after.stdout, '[validate] run: no stamp');
})));

test('a lock whose pid now belongs to another process (a reused pid) is taken over, with a warning', withTimeout(60_000, () => withProject('basic', async (project) => {
  assert.is((await project.run(['validate'])).code, 0);
  // A live process that is not an Onboarder run, named in a lock with another start time.
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    writeFileSync(stateOf(project, 'run.lock'), JSON.stringify({ pid: stranger.pid, host: execFileSync('hostname', { encoding: 'utf8' }).trim(), startedAt: '2026-01-01T00:00:00.000Z', startTicks: 1, bootId, command: 'deploy.ts osdc' }));
    const result = await project.run(['validate']);
    assert.is(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`^warning: took over the lock of run ${stranger.pid} started 2026-01-01T00:00:00.000Z: pid ${stranger.pid} is now another process$`, 'm'));
    assert.is(stranger.exitCode, null, 'the stranger was left alone');
    // The same lock naming that process as it really is (its start time): refused, as a live run.
    const startTicks = Number(readFileSync(`/proc/${stranger.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
    writeFileSync(stateOf(project, 'run.lock'), JSON.stringify({ pid: stranger.pid, host: execFileSync('hostname', { encoding: 'utf8' }).trim(), startedAt: '2026-01-01T00:00:00.000Z', startTicks, bootId }));
    const refused = await project.run(['validate']);
    assert.is(refused.code, 2);
    assert.match(refused.stderr, `another run holds`);
  } finally {
    stranger.kill('SIGKILL');
  }
})));

test('a state journal another user owns (a run with sudo) is refused before anything runs, saying how to fix it', withTimeout(60_000, () => withProject('basic', async (project) => {
  assert.is((await project.run(['validate'])).code, 0);
  writeFileSync(stateOf(project, 'state.journal'), '');
  chownSync(stateOf(project, 'state.journal'), 0, 0);
  chmodSync(stateOf(project, 'state.journal'), 0o600);
  // The run as another user: everything else of the project is that user's.
  for (const entry of ['.', '.cache', '.cache/state', '.cache/state/test', '.cache/state/test/state.json', '.cache/state/test/runs', '.cache/logs', '.cache/logs/test']) {
    if (existsSync(project.path(entry))) chownSync(project.path(entry), 65534, 65534);
  }
  chmodSync(project.directory, 0o755);
  for (const file of readdirSync(project.path('.cache', 'state', 'test', 'runs'))) chownSync(project.path('.cache', 'state', 'test', 'runs', file), 65534, 65534);
  project.takeTrace();
  const result = await project.run(['validate', '--force', 'validate'], { HOME: '/tmp' }, 60_000, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
  assert.is(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, /^error: cannot use \S+state\.journal for the environment's state: permission denied \(EACCES\): another user owns it \(a run with sudo\?\): give it back with `sudo chown -R "\$\(id -un\)" \.cache`, or run as its owner$/m);
  assert.equal(project.takeTrace(), []);
})));

test.run();
