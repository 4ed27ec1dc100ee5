// A disk that fills up during a run: a small tmpfs mounted where the logs or the state go (root, as the
// namespace tests), filled so that the run can start and then cannot write.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FixtureProject, withProject, withTimeout } from '../helpers/project.js';

/** Mounts a tmpfs of `kib` KiB at `directory` holding what was there, with `freePages` of 4 KiB left free. */
function smallDisk(directory: string, freePages: number, kib = 16): () => void {
  const kept = `${directory}.kept`;
  if (existsSync(directory)) cpSync(directory, kept, { recursive: true });
  mkdirSync(directory, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k,mode=0700`, 'tmpfs', directory]);
  if (existsSync(kept)) {
    cpSync(kept, directory, { recursive: true });
    rmSync(kept, { recursive: true });
  }
  const { available } = diskSpace(directory);
  const fillerPages = Math.floor(available / 4096) - freePages;
  if (fillerPages > 0) writeFileSync(path.join(directory, 'filler'), Buffer.alloc(fillerPages * 4096));
  return () => execFileSync('umount', [directory]);
}

function diskSpace(directory: string): { available: number } {
  const [, line] = execFileSync('df', ['-B1', '--output=avail', directory], { encoding: 'utf8' }).trim().split('\n');
  return { available: Number(line!.trim()) };
}

/** Every file under `directory`, relative. */
function filesUnder(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' }).sort();
}

test('logs that cannot be written any more: one warning, the run goes on and records its stamps', withTimeout(60_000, async () => {
  const project = FixtureProject.copy('basic');
  let unmount = () => undefined as void;
  try {
    unmount = smallDisk(project.path('.cache', 'logs'), 0);
    const result = await project.run(['osdc']);
    assert.is(result.code, 0, result.stdout + result.stderr);
    const warnings = result.stderr.trim().split('\n');
    assert.is(warnings.length, 1, result.stderr);
    assert.match(warnings[0]!, /^warning: task logs stopped: ENOSPC writing \S+\.log; the console has every line$/);
    assert.match(result.stdout, /succeeded: \d+ ran/);
    assert.ok(project.takeTrace().length > 0);
    const again = await project.run(['osdc']);
    assert.is(again.code, 0, again.stderr);
    assert.match(again.stdout, /^\[validate\] up to date$/m, 'every stamp was kept');
    assert.match(again.stdout, /^\[deploy-cluster\[cluster=osdc\]\] up to date$/m);
  } finally {
    unmount();
    project.remove();
  }
}));

test('a state journal that cannot be written: the run stops at once with one line naming the disk, the lock is released, nothing half-written is left', withTimeout(60_000, () => withProject('basic', async (project) => {
  let unmount = () => undefined as void;
  try {
    assert.is((await project.run(['validate'])).code, 0);
    project.takeTrace();
    const state = project.path('.cache', 'state', 'test');
    const before = readFileSync(path.join(state, 'state.json'), 'utf8');
    // A journal whose last page has 40 bytes left: the next line is written in part (a short write), then
    // the disk is full. One page free besides: the run lock takes it.
    const line = (id: string) => `${JSON.stringify({ op: 'reset', id })}\n`;
    const journal = line('x'.repeat(4096 - 40 - line('').length));
    writeFileSync(path.join(state, 'state.journal'), journal);
    unmount = smallDisk(project.path('.cache', 'state'), 1, 64);
    const result = await project.run(['osdc', '--force-all']);
    assert.is(result.code, 1, result.stdout + result.stderr);
    const errors = result.stderr.split('\n').filter((entry) => entry.startsWith('error: '));
    assert.equal(errors.length, 1, result.stderr);
    assert.match(errors[0]!, /^error: no space left on device \(ENOSPC\) while writing \S+state\.journal \(recording 'start' of validate\): the run stopped; what finished before is recorded\. Fix that, then run again$/);
    assert.not.match(result.stdout + result.stderr, /internal error|    at /);
    // What could not be written afterwards is said, one warning each.
    assert.match(result.stderr, /^warning: could not save the run record \(--summary shows the one before\) \(ENOSPC/m);
    assert.equal(project.takeTrace(), [], 'nothing ran without being recorded');
    assert.is(readFileSync(path.join(state, 'state.journal'), 'utf8'), journal, 'the part of a line the disk took was cut off again');
    assert.not.ok(existsSync(path.join(state, 'run.lock')), 'the lock is released');
    assert.equal(filesUnder(state).filter((file) => file.endsWith('.tmp')), []);
    assert.is(readFileSync(path.join(state, 'state.json'), 'utf8'), before);
    rmSync(path.join(project.path('.cache', 'state'), 'filler'));
    const after = await project.run(['osdc']);
    assert.is(after.code, 0, after.stderr);
  } finally {
    unmount();
  }
})));

test('a state directory that cannot be changed any more during a run that succeeds: exit 0, a warning for each thing not saved, the lock included', withTimeout(60_000, () => withProject('basic', async (project) => {
  const state = project.path('.cache', 'state', 'test');
  mkdirSync(state, { recursive: true });
  try {
    execFileSync('chattr', ['-i', state]);
  } catch {
    console.log('chattr cannot mark files immutable here (not ext4?): this case is not checked');
    return;
  }
  try {
    // The task marks the directory immutable (no file can be created, renamed or removed in it; what is
    // open stays writable), as a disk that goes read-only after the task's work.
    const result = await project.run(['validate'], { FREEZE_DIRECTORY: state });
    assert.is(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stderr, /^warning: could not remove the run lock \S+run\.lock \(EPERM\): the next run takes it over, as its process is gone$/m);
    assert.match(result.stderr, /^warning: could not save \S+state\.json \(the journal beside it keeps every stamp and is read on the next run\)/m);
    assert.not.match(result.stderr, /^error:|internal error|    at /m);
    execFileSync('chattr', ['-i', state]);
    const again = await project.run(['validate']);
    assert.is(again.code, 0, again.stderr);
    assert.match(again.stdout, '[validate] up to date', 'the stamp was kept in the journal');
  } finally {
    execFileSync('chattr', ['-i', state]);
  }
})));

test.run();
