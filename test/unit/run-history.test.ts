import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newRunId, pruneRunHistory, readLastRunRecord, runRecordDirectory, runsKept } from '../../lib/state/run-records.js';

/** `count` runs a minute apart, oldest first, each with a record and a log directory. */
function pastRuns(count: number): string[] {
  return Array.from({ length: count }, (_, index) => newRunId(new Date(Date.UTC(2026, 0, 1, 0, index))));
}

function history() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'onboarder-runs-'));
  const paths = { stateDirectory: path.join(root, 'state', 'env'), logDirectory: path.join(root, 'logs', 'env') };
  mkdirSync(runRecordDirectory(paths.stateDirectory), { recursive: true });
  mkdirSync(paths.logDirectory, { recursive: true });
  const record = (id: string) => {
    writeFileSync(path.join(runRecordDirectory(paths.stateDirectory), `${id}.json`), '{}\n');
    writeFileSync(path.join(runRecordDirectory(paths.stateDirectory), `${id}.html`), '<!doctype html>\n');
  };
  const logs = (id: string) => {
    mkdirSync(path.join(paths.logDirectory, id));
    writeFileSync(path.join(paths.logDirectory, id, 'task_x.log'), 'line\n');
  };
  return { root, paths, record, logs, remove: () => rmSync(root, { recursive: true, force: true }) };
}

test(`the newest ${runsKept} records (with their HTML reports) and the logs of the newest ${runsKept} runs that wrote any are kept; other files are left alone`, async () => {
  const { paths, record, logs, remove } = history();
  try {
    const runs = pastRuns(runsKept + 5);
    for (const id of runs) record(id);
    // The newest runs found everything up to date: records, no logs.
    const logged = runs.slice(0, -3);
    for (const id of logged) logs(id);
    symlinkSync(logged.at(-1)!, path.join(paths.logDirectory, 'latest'));
    writeFileSync(path.join(paths.logDirectory, 'notes.txt'), 'mine\n');
    writeFileSync(path.join(runRecordDirectory(paths.stateDirectory), 'backup.json'), '{}\n');
    mkdirSync(path.join(paths.logDirectory, 'by-hand'));

    assert.equal(await pruneRunHistory(paths), []);
    assert.equal(
      readdirSync(runRecordDirectory(paths.stateDirectory)).sort(),
      ['backup.json', ...runs.slice(-runsKept).flatMap((id) => [`${id}.json`, `${id}.html`])].sort(),
    );
    // Runs without logs do not push out the logs of older runs that have them.
    assert.equal(readdirSync(paths.logDirectory).sort(), ['by-hand', 'latest', 'notes.txt', ...logged.slice(-runsKept)].sort());
    assert.ok(existsSync(path.join(paths.logDirectory, 'latest', 'task_x.log')), 'latest still leads to the newest logs');

    // Below the limit nothing goes, and missing directories are no error.
    assert.equal(await pruneRunHistory(paths), []);
    assert.equal(await pruneRunHistory({ stateDirectory: path.join(paths.stateDirectory, 'none'), logDirectory: path.join(paths.logDirectory, 'none') }), []);
  } finally {
    remove();
  }
});

test('the last run record is the newest run id, not another .json next to the records', async () => {
  const { paths, remove } = history();
  try {
    const [older, newer] = pastRuns(2) as [string, string];
    const records = runRecordDirectory(paths.stateDirectory);
    const record = (runId: string) => JSON.stringify({ runId, environment: 'test', targets: [], startedAt: '', finishedAt: '', durationMs: 0, outcome: 'succeeded', tasks: [], criticalPath: [], counts: {} });
    writeFileSync(path.join(records, `${older}.json`), record(older));
    writeFileSync(path.join(records, `${newer}.json`), record(newer));
    // Sorts after both ('b' > '2'): read as the last record until the names were checked.
    writeFileSync(path.join(records, 'backup.json'), record('a backup'));
    const last = await readLastRunRecord(paths.stateDirectory);
    assert.is(last.ok && last.value?.runId, newer);
    // One of another shape is refused with its file and key, not met as a TypeError by --summary.
    writeFileSync(path.join(records, `${newer}.json`), JSON.stringify({ runId: newer }));
    const wrong = await readLastRunRecord(paths.stateDirectory);
    assert.match(wrong.ok ? '' : JSON.stringify(wrong.error), /not a run record Onboarder writes \(environment: /);
  } finally {
    remove();
  }
});

test('a run that cannot be removed is reported with its path and code; the others still go', async () => {
  const { paths, record, logs, remove } = history();
  const asRoot = process.getuid?.() === 0;
  const runs = pastRuns(runsKept + 2);
  const stuck = path.join(paths.logDirectory, runs[0]!);
  try {
    for (const id of runs) {
      record(id);
      logs(id);
    }
    // Root removes whatever the mode says: a mount point cannot be removed by anyone (EBUSY).
    if (asRoot) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', stuck]);
    else chmodSync(stuck, 0o500);
    const unremoved = await pruneRunHistory(paths);
    assert.is(unremoved.length, 1, unremoved.join('; '));
    assert.match(unremoved[0]!, asRoot ? `${stuck} (EBUSY)` : /\(EACCES\)$/);
    assert.match(unremoved[0]!, runs[0]!);
    assert.not.ok(existsSync(path.join(paths.logDirectory, runs[1]!)), 'the next oldest went');
    assert.not.ok(existsSync(path.join(runRecordDirectory(paths.stateDirectory), `${runs[0]}.json`)), 'and so did the stuck run\'s record');
  } finally {
    if (asRoot) execFileSync('umount', [stuck]);
    else chmodSync(stuck, 0o700);
    remove();
  }
});

test.run();
