// The record of a run's process groups (lib/process/recorded-groups.ts): what the next run stops after a
// kill -9 of the engine, and what it must never signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RecordedGroups, stopLeftoverGroups } from '../../lib/process/recorded-groups.js';

const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-groups-'));
const file = path.join(directory, 'running-groups.json');

/** A detached `sleep`: the leader of a group of its own, as a task's program is. */
function leader(): ChildProcess {
  return spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
}

const exited = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.signalCode) : child.once('exit', (_code, signal) => resolve(signal))));

/** The record's lines, parsed. */
function recordLines(): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

test('groups are recorded as they start and end (0600, one line each), and the record goes when the run closes it', async () => {
  const groups = new RecordedGroups(file);
  groups.groupStarted(process.pid, 'node');
  assert.is(statSync(file).mode & 0o777, 0o600);
  groups.groupEnded(process.pid);
  const lines = recordLines();
  assert.is(typeof lines[0]!.bootId, 'string');
  assert.equal([lines[1]!.started, lines[1]!.program, lines[2]!.ended], [process.pid, 'node', process.pid]);
  groups.close();
  assert.throws(() => statSync(file));
  // Ended before the engine was killed: nothing to stop.
  const again = new RecordedGroups(file);
  again.groupStarted(process.pid, 'node');
  again.groupEnded(process.pid);
  assert.equal(await stopLeftoverGroups(file, 500), []);
});

test("a group left by a killed run is stopped; one whose leader's start does not match (a reused id) is not", async () => {
  const left = leader();
  const recorder = new RecordedGroups(file);
  recorder.groupStarted(left.pid!, 'sleep');
  // Another process under a recorded id, started after the record was last written: it stands for a
  // process that got the id of a group that ended.
  const [, started] = recordLines();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const stranger = leader();
  appendFileSync(file, `${JSON.stringify({ ...started, started: stranger.pid })}\n`);
  const stopped = await stopLeftoverGroups(file, 500);
  assert.equal(stopped, [`${left.pid} (sleep)`]);
  assert.is(await exited(left), 'SIGTERM');
  assert.is(stranger.exitCode ?? stranger.signalCode, null, 'the stranger runs on');
  assert.throws(() => statSync(file), undefined, 'the record is removed once read');
  stranger.kill('SIGKILL');
});

test('a line torn by a full disk, or one that is not a record, is skipped, and the lines before it still count', async () => {
  const left = leader();
  new RecordedGroups(file).groupStarted(left.pid!, 'sleep');
  appendFileSync(file, 'null\n7\n["x"]\n{"ended": ');
  assert.equal(await stopLeftoverGroups(file, 500), [`${left.pid} (sleep)`]);
  assert.is(await exited(left), 'SIGTERM');
});

test('a record written whole by the previous version is read too', async () => {
  const left = leader();
  new RecordedGroups(file).groupStarted(left.pid!, 'sleep');
  const [header, started] = recordLines();
  writeFileSync(file, JSON.stringify({ bootId: header!.bootId, recordedAtTicks: started!.at, groups: [{ group: left.pid, startTicks: started!.startTicks, program: 'sleep' }] }));
  assert.equal(await stopLeftoverGroups(file, 500), [`${left.pid} (sleep)`]);
  assert.is(await exited(left), 'SIGTERM');
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('what a leader left in the background is stopped after the leader exited, once the record was written again', async () => {
  // The background sleep starts after the record was first written.
  const shell = spawn('sh', ['-c', 'sleep 0.1; sleep 60 & echo $!'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const recorder = new RecordedGroups(file);
  recorder.groupStarted(shell.pid!, 'sh');
  const background = Number(await new Promise<string>((resolve) => shell.stdout!.once('data', (chunk) => resolve(String(chunk)))));
  await exited(shell);
  await new Promise((resolve) => setTimeout(resolve, 30));
  recorder.groupOutlivedLeader(shell.pid!);
  assert.equal(await stopLeftoverGroups(file, 500), [`${shell.pid} (sh)`]);
  // A signalled process is gone once its new parent (init) has reaped it: allow that a moment.
  for (let waited = 0; waited < 2000 && isRunning(background); waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.throws(() => process.kill(background, 0), undefined, 'the background sleep is gone');
});

test('a record from another boot, or one that cannot be read, stops nothing', async () => {
  const left = leader();
  new RecordedGroups(file).groupStarted(left.pid!, 'sleep');
  const [, ...events] = readFileSync(file, 'utf8').trim().split('\n');
  writeFileSync(file, [JSON.stringify({ bootId: 'another-boot' }), ...events].join('\n'));
  assert.equal(await stopLeftoverGroups(file, 500), []);
  writeFileSync(file, '{"bootId": "torn');
  assert.equal(await stopLeftoverGroups(file, 500), []);
  assert.is(left.exitCode ?? left.signalCode, null);
  left.kill('SIGKILL');
});

test.after(() => rmSync(directory, { recursive: true, force: true }));

test.run();
