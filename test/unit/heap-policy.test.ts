// When the CLI asks V8 for a compact heap from start-up (lib/cli/heap-policy.ts). V8 cannot report a flag
// back, so this checks the decision; the benchmark's 10,000-task case measures its effect.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { preferCompactHeapForLargeProjects } from '../../lib/cli/heap-policy.js';

test('only a project with an environment whose state is over 2 MB, and never with ONBOARDER_V8_DEFAULTS=1', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'onboarder-heap-'));
  try {
    assert.is(preferCompactHeapForLargeProjects(root), false, 'no state at all');
    const state = (environment: string, bytes: number) => {
      mkdirSync(path.join(root, '.cache', 'state', environment), { recursive: true });
      writeFileSync(path.join(root, '.cache', 'state', environment, 'state.json'), Buffer.alloc(bytes, 32));
    };
    state('small', 100_000);
    assert.is(preferCompactHeapForLargeProjects(root), false);
    // A stray file beside the environments' directories is not an environment (and not an error).
    writeFileSync(path.join(root, '.cache', 'state', 'notes.txt'), 'kept by hand\n');
    assert.is(preferCompactHeapForLargeProjects(root), false);
    state('large', 3 * 1024 * 1024);
    assert.is(preferCompactHeapForLargeProjects(root), true);
    process.env.ONBOARDER_V8_DEFAULTS = '1';
    assert.is(preferCompactHeapForLargeProjects(root), false);
  } finally {
    delete process.env.ONBOARDER_V8_DEFAULTS;
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
