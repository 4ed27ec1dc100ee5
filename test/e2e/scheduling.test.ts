import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { task } from '../../lib/dsl/define-tasks.js';
import type { TaskId } from '../../lib/dsl/ids.js';
import type { TaskInstance } from '../../lib/dsl/task.js';
import type { CatalogEntry } from '../../lib/graph/build-graph.js';
import type { FailureMode } from '../../lib/scheduler/run-graph.js';
import { withTimeout } from '../helpers/project.js';
import { runCatalog } from '../helpers/run-catalog.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(catalog: CatalogEntry[], concurrency: number, pools: Record<string, number> = {}, onFailure: FailureMode = 'no-new') {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-scheduling-'));
  try {
    return await runCatalog({ directory, catalog, concurrency, pools, onFailure });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test('the concurrency limit and pool capacities hold', withTimeout(30_000, async () => {
  let running = 0;
  let mostRunning = 0;
  let inPool = 0;
  let mostInPool = 0;
  const tasks: TaskInstance[] = [];
  for (let index = 0; index < 12; index++) {
    const pooled = index % 2 === 0;
    tasks.push(
      task({
        name: `t${index}`,
        ...(pooled ? { pool: 'api' } : {}),
        run: async () => {
          running++;
          mostRunning = Math.max(mostRunning, running);
          if (pooled) mostInPool = Math.max(mostInPool, ++inPool);
          await sleep(30);
          if (pooled) inPool--;
          running--;
        },
      }),
    );
  }
  const { record } = await run(tasks, 3, { api: 2 });
  assert.is(record.outcome, 'succeeded');
  assert.is(mostRunning, 3);
  assert.is(mostInPool, 2);
}));

test('the task with the longest remaining path starts first, even when declared last', withTimeout(30_000, async () => {
  const started: string[] = [];
  const body = (name: string) => async () => {
    started.push(name);
    await sleep(5);
  };
  const shorts = Array.from({ length: 8 }, (_, index) => task({ name: `short${index}`, run: body(`short${index}`), estimate: 100 }));
  let previous: TaskInstance | undefined;
  const chain: TaskInstance[] = [];
  for (let index = 0; index < 4; index++) {
    const link: TaskInstance = task({ name: `chain${index}`, deps: previous ? [previous] : [], run: body(`chain${index}`), estimate: 100 });
    chain.push(link);
    previous = link;
  }
  const { record } = await run([...shorts, ...chain], 2);
  assert.is(record.outcome, 'succeeded');
  assert.is(started[0], 'chain0');
  assert.equal(record.criticalPath.slice(0, 1), ['chain0' as TaskId]);
}));

test('among tasks of equal priority (no durations known yet), the one declared first starts first', withTimeout(30_000, async () => {
  const started: string[] = [];
  const leaf = (name: string) => task({ name, run: async () => void started.push(name) });
  // Names out of alphabetical order, so sorting by id would start them otherwise.
  const zeta = leaf('zeta');
  const alpha = leaf('alpha');
  const mid = leaf('mid');
  const first = task({ name: 'first', deps: [zeta, alpha, mid], run: async () => void started.push('first') });
  const beta = leaf('beta');
  const second = task({ name: 'second', deps: [beta], run: async () => void started.push('second') });
  // The catalog lists `second` before `first`: its tasks are declared first, each after its deps in the
  // order written. The leaves have the longer remaining path (2 tasks) and start before both targets.
  const { record } = await run([second, first], 1);
  assert.is(record.outcome, 'succeeded');
  assert.equal(started, ['beta', 'zeta', 'alpha', 'mid', 'second', 'first']);
}));

test('a failure under each failure mode: no-new lets the running task finish, continue runs the other branch, kill stops the running task', withTimeout(30_000, async () => {
  const outcomes: Record<string, Record<string, string>> = {};
  for (const mode of ['no-new', 'continue', 'kill'] as const) {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // `long` runs when `broken` fails; `later` is ready only after `long` ended; `after` depends on `broken`.
    const long = task({ name: 'long', estimate: 1000, run: async ({ signal }) => {
      await Promise.race([released, new Promise((resolve) => signal.addEventListener('abort', resolve))]);
      if (signal.aborted) throw new Error('stopped');
    } });
    const later = task({ name: 'later', deps: [long], run: async () => undefined });
    const broken = task({ name: 'broken', estimate: 10, run: async () => {
      setTimeout(release, 200);
      throw new Error('broken');
    } });
    const after = task({ name: 'after', deps: [broken], run: async () => undefined });
    const { record } = await run([later, after], 2, {}, mode);
    outcomes[mode] = Object.fromEntries(record.tasks.map((entry) => [entry.task, entry.outcome]));
    assert.is(record.outcome, 'failed', mode);
  }
  assert.equal(outcomes, {
    'no-new': { long: 'succeeded', broken: 'failed', later: 'not-started', after: 'blocked' },
    continue: { long: 'succeeded', broken: 'failed', later: 'succeeded', after: 'blocked' },
    kill: { long: 'interrupted', broken: 'failed', later: 'blocked', after: 'blocked' },
  });
}));

test.run();
