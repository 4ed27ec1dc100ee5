import { mkdtempSync, rmSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SourceDigests } from '../../lib/stamps/source-digests.js';

test('digests are cached by path, size, mtime and inode, and survive a restart', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'onboarder-sources-'));
  try {
    mkdirSync(path.join(root, 'images'));
    const image = path.join(root, 'images', 'cloud.img');
    writeFileSync(image, 'aaaa');
    const fixedTime = new Date('2026-01-01T00:00:00Z');
    utimesSync(image, fixedTime, fixedTime);
    const cacheFile = path.join(root, 'cache.json');
    const first = await SourceDigests.open(root, cacheFile);
    const before = await first.digest(['images/*.img']);
    assert.ok(before.ok);
    await first.save();
    // Same size and mtime, same inode: the cache answers without reading (a multi-GB image is not re-read).
    writeFileSync(image, 'bbbb');
    utimesSync(image, fixedTime, fixedTime);
    const reopened = await SourceDigests.open(root, cacheFile);
    const cached = await reopened.digest(['images/*.img']);
    assert.equal(cached, before);
    // A new mtime means the file is read again.
    utimesSync(image, new Date(), new Date(Date.now() + 5000));
    const reread = await reopened.digest(['images/cloud.img']);
    assert.ok(reread.ok && before.ok && reread.digests['images/cloud.img'] !== before.digests['images/cloud.img']);
    assert.equal(await reopened.digest(['images/missing.img']), { ok: false, missing: 'images/missing.img' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
