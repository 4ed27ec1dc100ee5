import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createScratchDirectory, removeStaleScratchDirectories, withScratchDirectory } from '../../lib/state/scratch-directory.js';

/** Runs `body` with TMPDIR pointing at a fresh directory of its own. */
async function inOwnTemp(body: (tmp: string) => Promise<void> | void): Promise<void> {
  const saved = process.env.TMPDIR;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'onboarder-scratch-test-'));
  process.env.TMPDIR = tmp;
  try {
    await body(tmp);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A pid no process has: one that just exited. */
const deadPid = () => spawnSync('true').pid!;

test('a scratch directory is private, names its process and purpose, and goes when its body ends, also by throwing', () =>
  inOwnTemp(async (tmp) => {
    const directory = createScratchDirectory('ansible');
    assert.is(path.dirname(directory), tmp);
    assert.match(path.basename(directory), new RegExp(`^onboarder-scratch-${process.pid}-ansible-\\w{6}$`));
    assert.is(statSync(directory).mode & 0o777, 0o700);
    assert.throws(() => createScratchDirectory('../x'), /one lowercase word, not '\.\.\/x'/);

    let inside = '';
    let thrown: unknown;
    try {
      await withScratchDirectory('dns', async (scratch) => {
        inside = scratch;
        writeFileSync(path.join(scratch, 'secret'), 'x', { mode: 0o600 });
        throw new Error('body failed');
      });
    } catch (error) {
      thrown = error;
    }
    assert.is((thrown as Error).message, 'body failed', 'the body\'s error passes through');
    assert.ok(inside !== '' && !existsSync(inside));
  }));

test('stale scratch directories are removed: only this user\'s real directories of processes that are gone', () =>
  inOwnTemp((tmp) => {
    const dead = deadPid();
    const stale = path.join(tmp, `onboarder-scratch-${dead}-ansible-Abc123`);
    mkdirSync(path.join(stale, 'cp'), { recursive: true });
    writeFileSync(path.join(stale, 'extra-vars.json'), '{"token":"x"}');
    const live = path.join(tmp, `onboarder-scratch-${process.pid}-file-Def456`);
    mkdirSync(live);
    // A link with a scratch name (someone else's trap in a shared /tmp) is neither followed nor removed.
    const target = path.join(tmp, 'elsewhere');
    mkdirSync(target);
    writeFileSync(path.join(target, 'keep'), '');
    const link = path.join(tmp, `onboarder-scratch-${dead}-file-Lnk789`);
    symlinkSync(target, link);
    const file = path.join(tmp, `onboarder-scratch-${dead}-file-Fil000`);
    writeFileSync(file, '');
    const unrelated = path.join(tmp, 'onboarder-project-Ghi789');
    mkdirSync(unrelated);
    const othersNames = process.getuid?.() === 0 ? [path.join(tmp, `onboarder-scratch-${dead}-dns-Oth111`)] : [];
    for (const others of othersNames) {
      mkdirSync(others);
      chownSync(others, 65534, 65534);
    }

    assert.equal(removeStaleScratchDirectories(), [stale]);
    assert.equal(readdirSync(tmp).sort(), ['elsewhere', path.basename(file), path.basename(link), path.basename(live), path.basename(unrelated), ...othersNames.map((name) => path.basename(name))].sort());
    assert.ok(existsSync(path.join(target, 'keep')));
    assert.equal(removeStaleScratchDirectories(), []);
  }));

test.run();
