import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Fingerprint, TaskId } from '../../lib/dsl/ids.js';
import { JsonStateStore } from '../../lib/state/json-state-store.js';
import { acquireRunLock } from '../../lib/state/run-lock.js';
import { writeFileAtomic } from '../../lib/fs/atomic-write.js';

const id = 'task' as TaskId;
const stamp = {
  fingerprint: 'f' as Fingerprint,
  components: { task: 'task', inputs: {}, definition: 'd', sources: {}, tools: {}, dependencies: {}, config: {} },
  finishedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 5,
};

function temporaryDirectory(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'onboarder-state-'));
}

test('a stamp survives without close (journal), is removed at start, and compacts on close', async () => {
  const directory = temporaryDirectory();
  try {
    const store = JsonStateStore.open(directory);
    assert.ok(store.ok);
    if (!store.ok) return;
    await store.value.markStarted(id, 'now');
    await store.value.markSucceeded(id, stamp);
    const reopened = JsonStateStore.open(directory);
    assert.ok(reopened.ok && reopened.value.record(id)?.stamp?.fingerprint === 'f', 'the journal alone keeps the stamp');
    await store.value.markStarted(id, 'later');
    const afterStart = JsonStateStore.open(directory);
    assert.ok(afterStart.ok && afterStart.value.record(id)?.stamp === undefined, 'a started task has no stamp');
    await store.value.markSucceeded(id, stamp);
    await store.value.close();
    assert.not.ok(existsSync(path.join(directory, 'state.journal')));
    assert.is(statSync(path.join(directory, 'state.json')).mode & 0o777, 0o600);
    const compacted = JsonStateStore.open(directory);
    assert.ok(compacted.ok && compacted.value.record(id)!.durations.length === 2);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a torn last journal line is dropped with a warning; a corrupt snapshot is an error and kept', () => {
  const directory = temporaryDirectory();
  try {
    writeFileSync(path.join(directory, 'state.journal'), `${JSON.stringify({ op: 'success', id, stamp })}\n{"op":"sta`);
    const store = JsonStateStore.open(directory);
    assert.ok(store.ok && store.value.record(id)?.stamp !== undefined && store.value.warnings.length === 1);
    appendFileSync(path.join(directory, 'state.journal'), `\n${JSON.stringify({ op: 'reset', id })}\n`);
    const corruptJournal = JsonStateStore.open(directory);
    assert.ok(!corruptJournal.ok && corruptJournal.error.reason === 'state-corrupt');
    rmSync(path.join(directory, 'state.journal'));
    writeFileSync(path.join(directory, 'state.json'), 'not json');
    const corrupt = JsonStateStore.open(directory);
    assert.ok(!corrupt.ok && corrupt.error.reason === 'state-corrupt');
    assert.is(readFileSync(path.join(directory, 'state.json'), 'utf8'), 'not json');
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a pipe, a device or a directory where a state file belongs is refused, not read', () => {
  const directory = temporaryDirectory();
  try {
    // Reading a pipe with no writer would wait forever; /dev/zero would never end.
    spawnSync('mkfifo', [path.join(directory, 'state.journal')]);
    const pipe = JsonStateStore.open(directory);
    assert.equal(pipe.ok ? undefined : pipe.error, { reason: 'state-corrupt', file: path.join(directory, 'state.journal'), detail: 'not a regular file' });
    rmSync(path.join(directory, 'state.journal'));
    symlinkSync('/dev/zero', path.join(directory, 'state.json'));
    const device = JsonStateStore.open(directory);
    assert.ok(!device.ok && device.error.reason === 'state-corrupt' && device.error.detail === 'not a regular file');
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('atomic writes replace whole files with mode 0600', async () => {
  const directory = temporaryDirectory();
  try {
    const file = path.join(directory, 'a', 'file.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    assert.is(readFileSync(file, 'utf8'), 'two');
    assert.is(statSync(file).mode & 0o777, 0o600);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('the run lock refuses a live holder and takes over from a dead one', () => {
  const directory = temporaryDirectory();
  try {
    const file = path.join(directory, 'run.lock');
    const first = acquireRunLock(file);
    assert.ok(first.ok);
    const second = acquireRunLock(file);
    assert.ok(!second.ok && second.error.reason === 'state-locked' && second.error.pid === process.pid);
    if (first.ok) first.value.release();
    const dead = spawnSync('true').pid!;
    writeFileSync(file, JSON.stringify({ pid: dead, host: os.hostname(), startedAt: 'then' }));
    const third = acquireRunLock(file);
    assert.ok(third.ok && /took over the lock of run/.test(third.value.takeoverWarning ?? ''));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test.run();
