import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { defineTasks, task } from '../../lib/dsl/define-tasks.js';
import type { TaskInstance } from '../../lib/dsl/task.js';
import type { TaskId } from '../../lib/dsl/ids.js';
import { parseCommandLine } from '../../lib/cli/parse-args.js';
import { instanceId, parseInstanceId } from '../../lib/dsl/instance-id.js';
import { buildGraph, resolvePhase, resolveTarget, selectSubgraph } from '../../lib/graph/build-graph.js';

test('generations put every task after its dependencies; instances are separate nodes', () => {
  const a = task({ name: 'a' });
  const deploy = task({ name: 'deploy', inputs: { cluster: z.string() }, deps: [a] });
  const b = task({ name: 'b', deps: [deploy.with({ cluster: 'x' }), deploy.with({ cluster: 'y' })] });
  const built = buildGraph([a, deploy, b]);
  assert.ok(built.ok);
  if (!built.ok) return;
  assert.equal(built.value.generations, [['a'], ['deploy[cluster=x]', 'deploy[cluster=y]'], ['b']]);
});

test("a level's tasks are in the order a reader counts them: node w2 before node w10", () => {
  const prep = task({ name: 'prep', inputs: { node: z.string() } });
  const all = task({ name: 'all', deps: [10, 2, 1, 11].map((index) => prep.with({ node: `osdc-w${index}` })) });
  const built = buildGraph([prep, all]);
  assert.ok(built.ok);
  if (!built.ok) return;
  assert.equal(built.value.generations[0], ['prep[node=osdc-w1]', 'prep[node=osdc-w2]', 'prep[node=osdc-w10]', 'prep[node=osdc-w11]']);
});

test('deps and instances come from the environment: a graph per site, instances checked before anything runs', () => {
  interface Site {
    readonly clusters: Readonly<Record<string, { readonly role: 'mcm' | 'osdc' }>>;
  }
  const tasks = defineTasks<Site>();
  const names = (site: Site, role?: string) => Object.entries(site.clusters).filter(([, cluster]) => !role || cluster.role === role).map(([name]) => name);
  const prep = tasks.task({ name: 'prep', inputs: { cluster: z.string() }, instances: (site) => names(site).map((cluster) => ({ cluster })) });
  const osdc = tasks.task({ name: 'osdc', deps: (_, site) => names(site, 'osdc').map((cluster) => prep.with({ cluster })) });
  const two = buildGraph([prep, osdc], { clusters: { mcm: { role: 'mcm' }, 'osdc-a': { role: 'osdc' }, 'osdc-b': { role: 'osdc' } } });
  assert.ok(two.ok);
  if (!two.ok) return;
  // Every declared instance is in the graph (--list, targets), the role target reaches those of its role.
  assert.equal([...two.value.nodes.keys()].sort(), ['osdc', 'prep[cluster=mcm]', 'prep[cluster=osdc-a]', 'prep[cluster=osdc-b]']);
  assert.equal(two.value.nodes.get('osdc' as TaskId)!.dependencies, ['prep[cluster=osdc-a]', 'prep[cluster=osdc-b]']);
  const one = buildGraph([prep, osdc], { clusters: { mcm: { role: 'mcm' } } });
  assert.ok(one.ok && one.value.nodes.size === 2);

  // Task code that names a cluster the site does not declare is refused, with where and the valid ones.
  const stray = tasks.task({ name: 'stray', deps: [prep.with({ cluster: 'osdc-c' })] });
  const refused = buildGraph([prep, stray], { clusters: { mcm: { role: 'mcm' }, 'osdc-b': { role: 'osdc' } } });
  assert.ok(!refused.ok && refused.error.reason === 'invalid-definition');
  if (refused.ok || refused.error.reason !== 'invalid-definition') return;
  assert.is(refused.error.message, "prep[cluster=osdc-c] is not an instance of task 'prep' in this environment");
  assert.is(refused.error.hint, "did you mean 'prep[cluster=osdc-b]'? its instances: prep[cluster=mcm], prep[cluster=osdc-b]");
  assert.match(refused.error.location.file, 'graph.test.ts');
});

test('an instance id reads back as its task and inputs; an id it cannot have written is refused', () => {
  for (const inputs of [{}, { cluster: 'osdc-b' }, { node: 'osdc-a-w1', replicas: 3, debug: true }, { spec: { a: [1, 2] } }, { version: '1.30' }]) {
    const id = instanceId('task', inputs);
    assert.equal(parseInstanceId(id), { name: 'task', inputs }, id);
  }
  assert.is(parseInstanceId('task[cluster]'), undefined);
  assert.is(parseInstanceId('task[a=1,b'), undefined);
  // A string that reads as a number is written bare by instanceId: reading it back gives the number, whose id differs.
  assert.is(parseInstanceId('task[a=b,c=d,e]'), undefined);
});

test("'after' orders without joining the fingerprint: an edge, not an input", () => {
  const dns = task({ name: 'dns' });
  const image = task({ name: 'image' });
  const vms = task({ name: 'vms', deps: [image], after: [dns] });
  const built = buildGraph([vms]);
  assert.ok(built.ok);
  if (!built.ok) return;
  assert.equal(built.value.generations, [['dns', 'image'], ['vms']]);
  const node = built.value.nodes.get('vms' as TaskId)!;
  assert.equal({ dependencies: node.dependencies, orderOnly: [...(node.orderOnly ?? [])] }, { dependencies: ['image', 'dns'], orderOnly: ['dns'] });
  // Selecting the task selects what it runs after.
  assert.equal([...selectSubgraph(built.value, ['vms' as TaskId]).nodes.keys()].sort(), ['dns', 'image', 'vms']);
});

test('declaration order: depth first from the catalog, deps as written, shared deps once; 10,000 deep', () => {
  const shared = task({ name: 'shared' });
  const b = task({ name: 'b', deps: [shared] });
  const a = task({ name: 'a', deps: [b, shared] });
  const built = buildGraph([a]);
  assert.ok(built.ok);
  const order = [...built.value.declared].sort((x, y) => x[1] - y[1]).map(([id]) => id);
  assert.equal(order, ['shared', 'b', 'a']);

  let previous: TaskInstance | undefined;
  for (let index = 0; index < 10_000; index++) previous = task({ name: `link${index}`, deps: previous ? [previous] : [] });
  const chain = buildGraph([previous!]);
  assert.ok(chain.ok);
  assert.is(chain.value.declared.get('link0' as TaskId), 0);
  assert.is(chain.value.declared.get('link9999' as TaskId), 9999);
});

test('a cycle is found with its path', () => {
  const first: TaskInstance = task({ name: 'first', deps: [() => second] });
  const second: TaskInstance = task({ name: 'second', deps: [() => third] });
  const third: TaskInstance = task({ name: 'third', deps: [() => first] });
  const built = buildGraph([first]);
  assert.not.ok(built.ok);
  if (built.ok) return;
  assert.is(built.error.reason, 'cycle');
  if (built.error.reason !== 'cycle') return;
  assert.equal(built.error.path, ['first', 'second', 'third', 'first']);
  assert.is(built.error.locations.length, 3);
  assert.match(built.error.locations[0]!.file, 'graph.test.ts');
});

test('two tasks with one name are a duplicate, with both sites', () => {
  const one = task({ name: 'same' });
  const two = task({ name: 'same' });
  const built = buildGraph([one, two]);
  assert.ok(!built.ok && built.error.reason === 'duplicate-task');
});

test('an undefined dependency (circular import) is a clear definition error', () => {
  const broken = task({ name: 'broken', deps: [undefined as unknown as TaskInstance] });
  const built = buildGraph([broken]);
  assert.ok(!built.ok && built.error.reason === 'invalid-definition' && /circular import/.test(built.error.message));
});

test('namespaces qualify names; unknown names get a suggestion; subgraphs keep transitive deps', () => {
  const tasks = defineTasks<unknown>();
  const prep = tasks.namespace('node-prep');
  const copy = prep.task({ name: 'copy-ssh-key' });
  const osdc = tasks.task({ name: 'osdc', deps: [copy] });
  const other = tasks.task({ name: 'other' });
  const built = buildGraph([osdc, other]);
  assert.ok(built.ok);
  if (!built.ok) return;
  assert.equal(resolveTarget(built.value, 'osdx'), { ok: false, error: { reason: 'unknown-target', target: 'osdx', suggestion: 'osdc' } });
  assert.equal(resolveTarget(built.value, 'node-prep:copy-ssh-key'), { ok: true, value: 'node-prep:copy-ssh-key' });
  const sub = selectSubgraph(built.value, ['osdc' as never]);
  assert.equal([...sub.nodes.keys()].sort(), ['node-prep:copy-ssh-key', 'osdc']);
});

test("the Python runner's phase names and flags still work: --skip-phases tools_storage, --force-rebuild", () => {
  const tasks = defineTasks<unknown>();
  const foundation = tasks.namespace('foundation');
  const storage = foundation.task({ name: 'tools-storage' });
  const validation = foundation.task({ name: 'validation' });
  const otherValidation = tasks.namespace('network').task({ name: 'validation' });
  const built = buildGraph([storage, validation, otherValidation]);
  assert.ok(built.ok);
  if (!built.ok) return;
  assert.equal(resolvePhase(built.value, 'tools_storage'), { ok: true, value: 'foundation:tools-storage' });
  assert.equal(resolvePhase(built.value, 'tools-storage'), { ok: true, value: 'foundation:tools-storage' });
  assert.equal(resolvePhase(built.value, 'foundation:validation'), { ok: true, value: 'foundation:validation' });
  // Two namespaces have one: the full name is needed.
  assert.not.ok(resolvePhase(built.value, 'validation').ok);
  // Only phases to skip are read this loosely: what runs is named exactly.
  assert.not.ok(resolveTarget(built.value, 'tools-storage').ok);

  const parsed = parseCommandLine(['osdc', '--skip-phases', 'validation,tools_storage', '--skip', 'dns', '--force-rebuild']);
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  assert.equal([parsed.value.skip, parsed.value.skipPhases], [['dns'], ['validation', 'tools_storage']]);
  assert.is(parsed.value.forceAll, true);
  // As the runner took it: every word after --skip-phases up to the next option is a phase, not a target.
  const spaced = parseCommandLine(['foundation', '--skip-phases', 'validation', 'tools_storage', '--force-rebuild']);
  assert.ok(spaced.ok && spaced.value.targets.length === 1 && spaced.value.skipPhases.join() === 'validation,tools_storage', JSON.stringify(spaced));
  const phasesOnly = parseCommandLine(['--skip-phases', 'validation', 'osdc']);
  assert.ok(!phasesOnly.ok && phasesOnly.error.reason === 'usage' && /no target given/.test(phasesOnly.error.message));
});

test('--only alone runs just those tasks: they are the targets', () => {
  const alone = parseCommandLine(['--only', 'a,b']);
  assert.ok(alone.ok && alone.value.targets.join() === 'a,b' && alone.value.only.join() === 'a,b', JSON.stringify(alone));
  const within = parseCommandLine(['osdc', '--only', 'a']);
  assert.ok(within.ok && within.value.targets.join() === 'osdc' && within.value.only.join() === 'a');
  assert.not.ok(parseCommandLine(['--force', 'a']).ok, 'without a target or --only there is nothing to run');
  // A comma inside an instance's brackets separates its inputs, not two targets.
  const inputs = parseCommandLine(['--only', 'etcd-restore[cluster=osdc,snapshot=backups/a.db],dns', '--force', 'node-prep[node=w1],x[a=1,b=2]']);
  assert.ok(inputs.ok, JSON.stringify(inputs));
  if (!inputs.ok) return;
  assert.equal([inputs.value.only, inputs.value.force], [['etcd-restore[cluster=osdc,snapshot=backups/a.db]', 'dns'], ['node-prep[node=w1]', 'x[a=1,b=2]']]);
});

test('invalid inputs at .with() name the call site', () => {
  const deploy = task({ name: 'deploy', inputs: { replicas: z.number().int().positive() } });
  assert.throws(() => deploy.with({ replicas: -1 }), /inputs of task 'deploy' are invalid: replicas/);
});

test.run();
