import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { digestFile } from '../../lib/stamps/digest.js';
import { SourceDigests } from '../../lib/stamps/source-digests.js';
import { settled } from '../helpers/settle.js';

/** A project with one image, and a digest reader that counts the files it reads. */
function imageProject() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'onboarder-sources-'));
  mkdirSync(path.join(root, 'images'));
  const image = path.join(root, 'images', 'cloud.img');
  const reads: string[] = [];
  const countingReader = (file: string) => {
    reads.push(file);
    return digestFile(file);
  };
  const open = () => SourceDigests.open(root, path.join(root, 'cache.json'), countingReader);
  return { root, image, reads, open };
}

test('digests are cached by file signature across runs; a rewrite is read again even with its mtime put back', async () => {
  const { root, image, reads, open } = imageProject();
  try {
    writeFileSync(image, 'aaaa');
    const fixedTime = new Date('2026-01-01T00:00:00Z');
    utimesSync(image, fixedTime, fixedTime);
    await settled(image);
    const first = await open();
    const before = await first.digest(['images/*.img']);
    assert.ok(before.ok);
    assert.is(reads.length, 1);
    await first.save();

    // Unchanged: the next run's cache answers without reading (a multi-GB image is not read again).
    const reopened = await open();
    assert.equal(await reopened.digest(['images/*.img']), before);
    assert.is(reads.length, 1, 'not read again');

    // Same size, and the mtime set back: the change time still moved, so the file is read again.
    writeFileSync(image, 'bbbb');
    utimesSync(image, fixedTime, fixedTime);
    await settled(image);
    const reread = await reopened.digest(['images/cloud.img']);
    assert.is(reads.length, 2);
    assert.ok(reread.ok && before.ok && reread.digests['images/cloud.img'] !== before.digests['images/cloud.img']);
    assert.equal(await reopened.digest(['images/missing.img']), { ok: false, missing: 'images/missing.img' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a file changed just before it was read (or dated ahead of the clock) is not cached: every run reads it', async () => {
  const { root, image, reads, open } = imageProject();
  try {
    writeFileSync(image, 'aaaa');
    // Its modification time ahead of now: as racy as a file changed this instant, and stays so.
    const ahead = new Date(Date.now() + 3_600_000);
    utimesSync(image, ahead, ahead);
    const first = await open();
    const digested = await first.digest(['images/cloud.img']);
    await first.save();
    assert.is(reads.length, 1);

    const second = await open();
    assert.equal(await second.digest(['images/cloud.img']), digested);
    assert.is(reads.length, 2, 'read again although nothing changed');
    await second.save();

    // Once its times are in the past, the next read is cached.
    const past = new Date('2026-01-01T00:00:00Z');
    utimesSync(image, past, past);
    await settled(image);
    const third = await open();
    assert.equal(await third.digest(['images/cloud.img']), digested);
    await third.save();
    const fourth = await open();
    assert.equal(await fourth.digest(['images/cloud.img']), digested);
    assert.is(reads.length, 3, 'settled when read: cached');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a cache of the older format (size, mtime, inode) is read again, not trusted', async () => {
  const { root, image, reads, open } = imageProject();
  try {
    writeFileSync(image, 'aaaa');
    await settled(image);
    writeFileSync(path.join(root, 'cache.json'), JSON.stringify({ 'images/cloud.img': { size: 4, mtimeMs: 0, inode: 0, digest: 'stale' } }));
    const digests = await open();
    const result = await digests.digest(['images/cloud.img']);
    assert.ok(result.ok && result.digests['images/cloud.img'] !== 'stale');
    assert.is(reads.length, 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
