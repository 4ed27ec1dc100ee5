import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { glob } from 'tinyglobby';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildReplayBundle, loadReplayModules, removeUnnamedBundles } from '../../lib/cli/replay-bundle.js';
import { signatures } from '../../lib/cli/up-to-date-cache.js';

const engineLib = fileURLToPath(new URL('../../lib/', import.meta.url));

/** What a cache entry records about the engine's modules: the signature of each. */
async function engineSignatures(): Promise<Record<string, string>> {
  return signatures((await glob(['**/*.{ts,mts,mjs,js}'], { cwd: engineLib, absolute: true })).map((file) => path.normalize(file)));
}

// (The bundle is refused when a module in it uses import.meta: one added to the replay's modules fails this
// first case.)
test('the bundle is written when every source still has its recorded signature, and named by its digest', async () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-replay-bundle-'));
  try {
    const recorded = await engineSignatures();
    const name = await buildReplayBundle(directory, recorded);
    assert.match(name ?? '', /^replay-[0-9a-f]{64}\.mjs$/);
    const file = path.join(directory, name!);
    assert.is(statSync(file).mode & 0o777, 0o600);
    assert.is(`replay-${createHash('sha256').update(readFileSync(file)).digest('hex')}.mjs`, name);
    const loaded = await loadReplayModules(directory, name);
    assert.type(loaded.replayUpToDateRun, 'function');
    assert.type(loaded.tolerateClosedOutput, 'function');
    // Built again from the same sources: the same file.
    assert.is(await buildReplayBundle(directory, recorded), name);
    assert.equal(readdirSync(directory), [name]);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('no bundle when a source changed since it was recorded, changed just before, or was not recorded', async () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-replay-bundle-'));
  try {
    const recorded = await engineSignatures();
    const source = path.join(engineLib, 'reporter', 'plain-reporter.ts');
    assert.ok(recorded[source], 'the plain reporter is an engine module');
    assert.is(await buildReplayBundle(directory, { ...recorded, [source]: '0:0:0:0:0:0' }), undefined);
    assert.is(await buildReplayBundle(directory, { ...recorded, [source]: 'racy' }), undefined);
    const { [source]: _left, ...without } = recorded;
    assert.is(await buildReplayBundle(directory, without), undefined);
    assert.equal(readdirSync(directory), []);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a bundle that is missing, misnamed or not its digest is passed over for the modules themselves; unnamed ones are removed', async () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-replay-bundle-'));
  try {
    const wrong = `replay-${'a'.repeat(64)}.mjs`;
    // Loadable, but not what its name says: loading it would give a replay that is not a function.
    writeFileSync(path.join(directory, wrong), 'export const replayUpToDateRun = "not the modules";\n');
    writeFileSync(path.join(directory, 'elsewhere.mjs'), 'export const replayUpToDateRun = "not the modules";\n');
    for (const name of [undefined, wrong, `replay-${'b'.repeat(64)}.mjs`, '../elsewhere.mjs', 'elsewhere.mjs']) {
      assert.type((await loadReplayModules(directory, name)).replayUpToDateRun, 'function', String(name));
    }
    writeFileSync(path.join(directory, 'entry.json'), '{}');
    removeUnnamedBundles(directory, new Set());
    assert.equal(readdirSync(directory).sort(), ['elsewhere.mjs', 'entry.json']);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test.run();
