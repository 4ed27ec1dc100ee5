import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HeldOutput } from '../../lib/reporter/held-output.js';

function withTemp(tmp: string, body: () => void): void {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    body();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

const released = (held: HeldOutput) => {
  const pieces: string[] = [];
  held.release((text) => pieces.push(text));
  return pieces.join('');
};

test('a few lines are held in memory and released whole', () => {
  const held = new HeldOutput();
  held.add('[t] one');
  held.add('[t] two');
  assert.is(released(held), '[t] one\n[t] two\n');
  assert.is(released(held), '', 'released once');
});

test('past a MiB the lines go to a private file and come back exactly, multi-byte characters included', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'onboarder-held-'));
  try {
    withTemp(tmp, () => {
      const held = new HeldOutput();
      // 3-byte and 4-byte characters at every offset, so reads of 64 KiB cut through some of them.
      const lines = Array.from({ length: 80_000 }, (_, index) => `[deploy] line ${index} größe ✓ 🚀 ${'x'.repeat(index % 7)}`);
      for (const line of lines.slice(0, 40_000)) held.add(line);
      const [scratch] = readdirSync(tmp);
      assert.match(scratch ?? '', new RegExp(`^onboarder-scratch-${process.pid}-output-`), 'held output went to a scratch directory');
      const file = path.join(tmp, scratch!, 'held-output.txt');
      assert.is(statSync(file).mode & 0o777, 0o600);
      for (const line of lines.slice(40_000)) held.add(line);
      assert.is(released(held), `${lines.join('\n')}\n`);
      assert.equal(readdirSync(tmp), [], 'and the file is removed');
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('when no file can be made, the lines stay in memory and all come out', () => {
  withTemp('/nonexistent/onboarder-tmp', () => {
    const held = new HeldOutput();
    const lines = Array.from({ length: 40_000 }, (_, index) => `[t] ${index} ${'y'.repeat(40)}`);
    for (const line of lines) held.add(line);
    assert.is(released(held), `${lines.join('\n')}\n`);
  });
});

test('a disk that fills while lines go to the file: what did not fit stays in memory, and every line comes out in order', () => {
  if (process.getuid?.() !== 0) {
    console.warn('not root: the full-disk case of held output needs a tmpfs mount');
    return;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'onboarder-held-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1200k', 'tmpfs', tmp]);
  try {
    withTemp(tmp, () => {
      const held = new HeldOutput();
      // ~4.5 MB with 2-, 3- and 4-byte characters: the file takes the first MiB or so, the write that
      // fills the disk stops part-way, possibly inside a character.
      const lines = Array.from({ length: 100_000 }, (_, index) => `[deploy] ${index} größe ✓ 🚀 ${'z'.repeat(index % 5)}`);
      for (const line of lines) held.add(line);
      assert.is(released(held), `${lines.join('\n')}\n`);
      assert.equal(readdirSync(tmp), []);
    });
  } finally {
    execFileSync('umount', [tmp]);
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
