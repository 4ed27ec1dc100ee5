// Batches: ready instances of a task with the same batch key run as one body (one playbook for a cluster's
// nodes), in one slot, each with its own assessment, stamp and outcome.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { MembersFailed } from '../../lib/dsl/command-failure.js';
import { defineTasks } from '../../lib/dsl/define-tasks.js';
import type { TaskId } from '../../lib/dsl/ids.js';
import { buildGraph, type CatalogEntry } from '../../lib/graph/build-graph.js';
import { withTimeout } from '../helpers/project.js';
import { runCatalog } from '../helpers/run-catalog.js';
import { formatTaskSummary, summarizeTask } from '../../lib/reporter/task-summary.js';

interface Site {
  readonly nodes: Readonly<Record<string, { readonly cluster: string; readonly address: string }>>;
  readonly packages: readonly string[];
}

const site: Site = {
  nodes: {
    a1: { cluster: 'a', address: '10.0.0.1' },
    a2: { cluster: 'a', address: '10.0.0.2' },
    a3: { cluster: 'a', address: '10.0.0.3' },
    b1: { cluster: 'b', address: '10.0.1.1' },
  },
  packages: ['chrony'],
};

const tasks = defineTasks<Site>();

/** A per-node task batched by cluster; each body call is recorded with the nodes it ran for. */
function prepTask(bodies: string[][], behave: (nodes: readonly string[], attempt: number) => void = () => undefined, options: { retries?: number } = {}) {
  let attempt = 0;
  return tasks.task({
    name: 'prep',
    inputs: { node: z.string() },
    instances: (config) => Object.keys(config.nodes).map((node) => ({ node })),
    batch: ({ node }, config) => config.nodes[node]!.cluster,
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    run: async (context) => {
      void context.config.packages.length;
      // Each member reads its own node's address through its own configuration.
      const nodes = context.batch.map((member) => (void member.config.nodes[member.inputs.node]!.address, member.inputs.node));
      bodies.push(nodes);
      behave(nodes, ++attempt);
    },
  });
}

async function run(directory: string, catalog: CatalogEntry[], config: Site, concurrency = 10, signal?: AbortSignal) {
  const { record, events } = await runCatalog({ directory, catalog, config, concurrency, onFailure: 'continue', ...(signal ? { signal } : {}) });
  const outcomes = Object.fromEntries(record.tasks.map((task) => [task.task, task.outcome]));
  return { record, events, outcomes };
}

function withDirectory(body: (directory: string) => Promise<void>) {
  return withTimeout(30_000, async () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-batches-'));
    try {
      await body(directory);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
}

const sorted = (bodies: string[][]) => bodies.map((nodes) => [...nodes].sort()).sort((x, y) => x.join().localeCompare(y.join()));

test('ready instances with the same key run as one body in one slot; each is stamped, and a re-run runs none', withDirectory(async (directory) => {
  const bodies: string[][] = [];
  const prep = prepTask(bodies);
  // Concurrency 1: a batch takes one slot, so cluster a's three nodes still run together.
  const first = await run(directory, [prep], site, 1);
  assert.is(first.record.outcome, 'succeeded');
  assert.equal(sorted(bodies), [['a1', 'a2', 'a3'], ['b1']]);
  assert.equal(first.events.filter((event) => event.type === 'task-succeeded').length, 4);
  // Every member says in its log which body it ran in; the first one's log has the output.
  const logLines = first.events.flatMap((event) => (event.type === 'task-output' ? [`${event.task}: ${event.line}`] : []));
  assert.ok(logLines.some((line) => /^prep\[node=a[23]\]: runs as one body with prep\[node=a1\] and 1 more: the output is in prep\[node=a1\]'s log/.test(line)), logLines.join('\n'));
  bodies.length = 0;
  const again = await run(directory, [prep], site);
  assert.equal(bodies, []);
  assert.equal(Object.values(again.outcomes), ['skipped', 'skipped', 'skipped', 'skipped']);
}));

test("a value one member read changes: that member runs alone; a value read through context.config re-runs them all", withDirectory(async (directory) => {
  const bodies: string[][] = [];
  const prep = prepTask(bodies);
  await run(directory, [prep], site);
  bodies.length = 0;
  const moved = { ...site, nodes: { ...site.nodes, a2: { cluster: 'a', address: '10.0.0.22' } } };
  const second = await run(directory, [prep], moved);
  assert.equal(bodies, [['a2']]);
  assert.is(second.outcomes['prep[node=a2]' as TaskId], 'succeeded');
  assert.is(second.outcomes['prep[node=a1]' as TaskId], 'skipped');
  bodies.length = 0;
  await run(directory, [prep], { ...moved, packages: ['chrony', 'jq'] });
  assert.equal(sorted(bodies), [['a1', 'a2', 'a3'], ['b1']]);
}));

test('MembersFailed fails only the members it names, and the others are stamped', withDirectory(async (directory) => {
  const bodies: string[][] = [];
  let thrown = false;
  const prep = prepTask(bodies, (nodes) => {
    if (nodes.includes('a2') && !thrown && (thrown = true)) throw new MembersFailed(['prep[node=a2]'], new Error('a2: unreachable'));
  });
  const first = await run(directory, [prep], site);
  assert.is(first.outcomes['prep[node=a2]' as TaskId], 'failed');
  assert.is(first.outcomes['prep[node=a1]' as TaskId], 'succeeded');
  assert.is(first.outcomes['prep[node=a3]' as TaskId], 'succeeded');
  const failure = first.events.find((event) => event.type === 'task-failed');
  assert.ok(failure?.type === 'task-failed' && failure.task === 'prep[node=a2]' && failure.failure.reason === 'task-threw' && failure.failure.message === 'a2: unreachable');
  // The next run prepares a2 alone: the others are fresh.
  bodies.length = 0;
  await run(directory, [prep], site);
  assert.equal(bodies, [['a2']]);
}));

test('a retry runs the body again for the failed members only', withDirectory(async (directory) => {
  const bodies: string[][] = [];
  const prep = prepTask(bodies, (nodes) => {
    if (nodes.length > 1 && nodes.includes('a2')) throw new MembersFailed(['prep[node=a2]'], new Error('a2: unreachable'));
  }, { retries: 1 });
  const { outcomes, events } = await run(directory, [prep], site);
  assert.equal(sorted(bodies), [['a1', 'a2', 'a3'], ['a2'], ['b1']]);
  assert.equal(Object.values(outcomes), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  assert.equal(events.filter((event) => event.type === 'task-retrying').map((event) => event.type === 'task-retrying' && event.task), ['prep[node=a2]']);
}));

test('a batch interrupted mid-body: every member is interrupted, none keeps an old stamp, and the next run runs them all again', withDirectory(async (directory) => {
  const bodies: string[][] = [];
  await run(directory, [prepTask(bodies)], site);
  const interrupt = new AbortController();
  const waiting = tasks.task({
    name: 'prep',
    inputs: { node: z.string() },
    instances: (config) => Object.keys(config.nodes).map((node) => ({ node })),
    batch: ({ node }, config) => config.nodes[node]!.cluster,
    run: async (context) => {
      void context.config.packages.length;
      for (const member of context.batch) void member.config.nodes[member.inputs.node]!.address;
      setTimeout(() => interrupt.abort(), 50);
      await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
    },
  });
  const stopped = await run(directory, [waiting], { ...site, packages: ['chrony', 'jq'] }, 10, interrupt.signal);
  assert.is(stopped.record.outcome, 'interrupted');
  assert.equal(Object.values(stopped.outcomes).sort(), ['interrupted', 'interrupted', 'interrupted', 'interrupted']);
  bodies.length = 0;
  await run(directory, [prepTask(bodies)], site);
  assert.equal(sorted(bodies), [['a1', 'a2', 'a3'], ['b1']], 'the old stamps went when the batch started');
}));

test("a batch's members are assessed side by side: their drift probes run at once, and only the drifted one runs", withDirectory(async (directory) => {
  let probing = 0;
  let mostProbing = 0;
  const ran: string[][] = [];
  const probed = tasks.task({
    name: 'probed',
    inputs: { node: z.string() },
    instances: (config) => Object.keys(config.nodes).map((node) => ({ node })),
    batch: ({ node }, config) => config.nodes[node]!.cluster,
    check: async (context) => {
      mostProbing = Math.max(mostProbing, ++probing);
      await new Promise((resolve) => setTimeout(resolve, 50));
      probing--;
      return context.inputs.node === 'a3' ? { drift: 'a3 drifted' } : true;
    },
    run: async (context) => void ran.push(context.batch.map((member) => member.inputs.node)),
  });
  await run(directory, [probed], site);
  ran.length = 0;
  const again = await run(directory, [probed], site);
  assert.ok(mostProbing >= 3, `cluster a's three probes at once (at most ${mostProbing} at once)`);
  assert.equal(ran, [['a3']]);
  assert.is(again.outcomes['probed[node=a3]' as TaskId], 'succeeded');
}));

test('a body that fails otherwise fails every member of its batch', withDirectory(async (directory) => {
  const bodies: string[][] = [];
  const prep = prepTask(bodies, (nodes) => {
    if (nodes.includes('a1')) throw new Error('the playbook could not start');
  });
  const { outcomes } = await run(directory, [prep], site);
  assert.equal(outcomes, { 'prep[node=a1]': 'failed', 'prep[node=a2]': 'failed', 'prep[node=a3]': 'failed', 'prep[node=b1]': 'succeeded' });
}));

test('a batch function that throws is refused before anything runs, with where the task is defined', () => {
  const broken = tasks.task({ name: 'broken', inputs: { node: z.string() }, instances: () => [{ node: 'x' }], batch: () => { throw new Error('no cluster for x'); } });
  const built = buildGraph([broken], site);
  assert.not.ok(built.ok);
  if (!built.ok) {
    assert.is(built.error.reason, 'invalid-definition');
    assert.match(JSON.stringify(built.error), "computing the batch of task 'broken[node=x]' threw: no cluster for x");
    assert.match(JSON.stringify(built.error), 'batches.test.ts');
  }
});

test('--summary names an instance\'s batch', () => {
  const prep = prepTask([]);
  const built = buildGraph([prep], site);
  if (!built.ok) throw new Error(JSON.stringify(built.error));
  assert.is(summarizeTask(built.value, prep, 'prep[node=a2]' as TaskId).batch, 'a');
  assert.match(formatTaskSummary(summarizeTask(built.value, prep, 'prep[node=b1]' as TaskId)), 'runs as one body with the ready instances of batch b');
  assert.match(formatTaskSummary(summarizeTask(built.value, prep)), 'ready instances of the same batch key run as one body');
});

test.run();
