// Where etcd snapshots are kept on the controller (tasks/backups/snapshot-store.ts): names, the newest first,
// a snapshot moved in whole with its sha256 beside it, the oldest beyond `keep` removed, a restore refusing a
// snapshot without its digest or with another one.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { authoritiesFile, incomingAuthorities, incomingDirectory, keepAuthorities, keepSnapshot, keptAuthorities, keptSnapshots, prepareSnapshotDirectory, snapshotName, snapshotToRestore } from '../../tasks/backups/snapshot-store.js';

async function inDirectory(body: (root: string, directory: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'onboarder-snapshots-'));
  try {
    await body(root, path.join(root, 'backups', 'site', 'osdc'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The message `promise` rejects with, matched against `pattern`. */
async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const message = await promise.then(
    () => 'it resolved',
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  assert.match(message, pattern);
}

async function take(directory: string, at: string, keep: number, contents = `snapshot at ${at}`): Promise<string> {
  await prepareSnapshotDirectory(directory);
  const name = snapshotName('osdc', new Date(at));
  writeFileSync(path.join(incomingDirectory(directory), `${name}.db`), contents);
  await keepSnapshot(directory, 'osdc', name, keep);
  return name;
}

test("a snapshot's name is its cluster and UTC time; the listing reads the time back, newest first, and ignores other files and clusters", () =>
  inDirectory(async (_, directory) => {
    assert.is(snapshotName('osdc-a', new Date('2026-12-05T21:15:03.456Z')), 'osdc-a-20261205T211503Z');
    mkdirSync(directory, { recursive: true });
    for (const file of ['osdc-20261205T211503Z.db', 'osdc-20261204T000000Z.db', 'osdc-a-20261206T000000Z.db', 'osdc-20261205T211503Z.db.sha256', 'notes.txt', 'osdc-latest.db']) writeFileSync(path.join(directory, file), '');
    const kept = keptSnapshots(directory, 'osdc');
    assert.equal(kept.map((snapshot) => path.basename(snapshot.file)), ['osdc-20261205T211503Z.db', 'osdc-20261204T000000Z.db']);
    assert.equal(kept[0]!.takenAt.toISOString(), '2026-12-05T21:15:03.000Z');
    assert.equal(keptSnapshots(path.join(directory, 'absent'), 'osdc'), []);
  }));

test('a kept snapshot is 0600 in a 0700 folder with its sha256 beside it (as sha256sum -c reads it); only the newest `keep` stay', () =>
  inDirectory(async (_, directory) => {
    const first = await take(directory, '2026-12-01T00:00:00Z', 2);
    assert.match(readFileSync(path.join(directory, `${first}.db.sha256`), 'utf8'), new RegExp(`^[0-9a-f]{64}  ${first}\\.db\\n$`));
    assert.is(statSync(path.join(directory, `${first}.db`)).mode & 0o777, 0o600);
    assert.is(statSync(directory).mode & 0o777, 0o700);
    await take(directory, '2026-12-02T00:00:00Z', 2);
    await take(directory, '2026-12-03T00:00:00Z', 2);
    assert.equal(readdirSync(directory).sort(), ['.incoming', 'osdc-20261202T000000Z.db', 'osdc-20261202T000000Z.db.sha256', 'osdc-20261203T000000Z.db', 'osdc-20261203T000000Z.db.sha256']);
    assert.equal(readdirSync(incomingDirectory(directory)), []);
  }));

test('what an interrupted run left (a copy half done, a digest whose snapshot was never moved in) is never listed, and removed before the next one', () =>
  inDirectory(async (_, directory) => {
    const kept = await take(directory, '2026-11-30T00:00:00Z', 5);
    writeFileSync(path.join(incomingDirectory(directory), 'osdc-20261201T000000Z.db'), 'half a snap');
    writeFileSync(path.join(directory, 'osdc-20261201T000000Z.db.sha256'), `${'a'.repeat(64)}  osdc-20261201T000000Z.db\n`);
    assert.equal(keptSnapshots(directory, 'osdc').map((snapshot) => path.basename(snapshot.file)), [`${kept}.db`]);
    await prepareSnapshotDirectory(directory);
    assert.equal(readdirSync(incomingDirectory(directory)), []);
    assert.equal(readdirSync(directory).sort(), ['.incoming', `${kept}.db`, `${kept}.db.sha256`]);
  }));

test("a cluster's authorities: kept once (0600, with their sha256) and replaced by the next snapshot's; read back whole, a damaged file refused, none kept none read", () =>
  inDirectory(async (root, directory) => {
    await prepareSnapshotDirectory(directory);
    assert.is(await keepAuthorities(directory), undefined, 'a snapshot that brought none keeps none');
    assert.is(await keptAuthorities(root, directory), undefined);
    writeFileSync(incomingAuthorities(directory), 'the CAs, first');
    await keepAuthorities(directory);
    writeFileSync(incomingAuthorities(directory), 'the CAs, second');
    const sha256 = await keepAuthorities(directory);
    const file = authoritiesFile(directory);
    assert.is(readFileSync(file, 'utf8'), 'the CAs, second');
    assert.is(readFileSync(`${file}.sha256`, 'utf8'), `${sha256}  pki.tar.gz\n`);
    assert.is(statSync(file).mode & 0o777, 0o600);
    assert.is(await keptAuthorities(root, directory), file);
    writeFileSync(file, 'the CAs, changed by hand');
    await rejects(keptAuthorities(root, directory), /^backups\/site\/osdc\/pki\.tar\.gz is damaged: its sha256 is [0-9a-f]{64}, pki\.tar\.gz\.sha256 says [0-9a-f]{64}; take a snapshot again/);
    // A digest left without its file (an interrupted run) goes before the next snapshot.
    rmSync(file);
    await prepareSnapshotDirectory(directory);
    assert.not.ok(readdirSync(directory).includes('pki.tar.gz.sha256'));
  }));

test("a restore takes the newest kept snapshot or the one named, checked against its digest; none kept, no digest, or another digest is refused with what to do", () =>
  inDirectory(async (root, directory) => {
    await rejects(snapshotToRestore(root, directory, 'osdc', undefined), /no snapshot of osdc is kept in backups\/site\/osdc: take one with etcd-backup, or name one with snapshot=FILE/);
    const older = await take(directory, '2026-12-01T00:00:00Z', 5);
    const newer = await take(directory, '2026-12-02T00:00:00Z', 5);
    assert.is((await snapshotToRestore(root, directory, 'osdc', undefined)).name, newer);
    const named = await snapshotToRestore(root, directory, 'osdc', `backups/site/osdc/${older}.db`);
    assert.equal([named.name, named.file], [older, path.join(directory, `${older}.db`)]);
    await rejects(snapshotToRestore(root, directory, 'osdc', 'backups/site/osdc/missing.db'), /snapshot backups\/site\/osdc\/missing\.db does not exist/);
    writeFileSync(path.join(root, 'copied.db'), 'a snapshot from elsewhere');
    await rejects(snapshotToRestore(root, directory, 'osdc', 'copied.db'), /snapshot copied\.db has no copied\.db\.sha256 beside it: only a snapshot etcd-backup kept/);
    writeFileSync(path.join(directory, `${newer}.db`), 'bit rot');
    await rejects(snapshotToRestore(root, directory, 'osdc', undefined), new RegExp(`snapshot backups/site/osdc/${newer}\\.db is damaged: its sha256 is [0-9a-f]{64}, ${newer}\\.db\\.sha256 says [0-9a-f]{64}; restore another kept snapshot`));
  }));

test.run();
