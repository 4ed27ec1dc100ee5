import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { task } from '../../lib/dsl/define-tasks.js';
import { canonicalJson } from '../../lib/dsl/canonical-json.js';
import { instanceId } from '../../lib/dsl/instance-id.js';
import { ConfigReadRecorder, readByEach, replayReads } from '../../lib/stamps/config-reads.js';
import { computeFingerprint, definitionDigest, diffComponents, fingerprintText, inputDigests, type FingerprintComponents } from '../../lib/stamps/fingerprint.js';
import { digestOf } from '../../lib/stamps/digest.js';
import { describeChange } from '../../lib/scheduler/run-reason.js';
import type { Fingerprint } from '../../lib/dsl/ids.js';

const base: FingerprintComponents = {
  task: 't',
  inputs: { cluster: 'a' },
  definition: 'd',
  sources: { 'x.yml': '1' },
  tools: { ansible: '2.14' },
  dependencies: { dep: 'f' as Fingerprint },
  config: { '["site"]': 's' },
};

test('every component changes the fingerprint and is named in the diff', () => {
  const variants: [Partial<FingerprintComponents>, string][] = [
    [{ task: 'u' }, 'task'],
    [{ inputs: { cluster: 'b' } }, 'input'],
    [{ definition: 'e' }, 'definition'],
    [{ sources: { 'x.yml': '2' } }, 'source'],
    [{ tools: { ansible: '2.15' } }, 'tool'],
    [{ dependencies: { dep: 'g' as Fingerprint } }, 'dependency'],
    [{ config: { '["site"]': 't' } }, 'config'],
  ];
  for (const [change, component] of variants) {
    const changed = { ...base, ...change };
    assert.is.not(computeFingerprint(changed), computeFingerprint(base), component);
    assert.equal(diffComponents(base, changed).map((item) => item.component), [component]);
  }
});

test('key order does not change ids or fingerprints', () => {
  assert.is(instanceId('t', { b: 1, a: { y: 1, x: 2 } }), instanceId('t', { a: { x: 2, y: 1 }, b: 1 }));
  const reordered = { config: base.config, dependencies: base.dependencies, tools: base.tools, sources: base.sources, definition: base.definition, inputs: base.inputs, task: base.task };
  assert.is(computeFingerprint(reordered), computeFingerprint(base));
});

test('the definition digest covers the body and options but not the description', () => {
  const one = task({ name: 'one', description: 'a', run: () => undefined });
  const reworded = task({ name: 'one', description: 'b', run: () => undefined });
  const otherBody = task({ name: 'one', run: () => console.log('different') });
  const otherTimeout = task({ name: 'one', description: 'a', run: () => undefined, timeout: '1m' });
  assert.is(definitionDigest(one), definitionDigest(reworded));
  assert.is.not(definitionDigest(one), definitionDigest(otherBody));
  assert.is.not(definitionDigest(one), definitionDigest(otherTimeout));
  const parameterised = task({ name: 'p', inputs: { n: z.number() } });
  assert.is.not(inputDigests(parameterised.with({ n: 1 })).n, inputDigests(parameterised.with({ n: 2 })).n);
});

test('config reads record exactly the values read, and replay against a changed config', () => {
  const config = { clusters: { osdc: { nodes: ['10.0.0.1', '10.0.0.2'] }, osms: { nodes: ['10.0.1.1'] } }, site: 'x' };
  const recorder = new ConfigReadRecorder();
  const tracked = recorder.track(config);
  const addresses = tracked.clusters.osdc.nodes.map((node) => node);
  assert.equal(addresses, ['10.0.0.1', '10.0.0.2']);
  const reads = recorder.reads(config);
  const changedElsewhere = { ...config, site: 'y', clusters: { ...config.clusters, osms: { nodes: [] } } };
  assert.equal(replayReads(changedElsewhere, reads), reads);
  const changedRead = { ...config, clusters: { ...config.clusters, osdc: { nodes: ['10.0.0.1', '10.0.0.3'] } } };
  assert.not.equal(replayReads(changedRead, reads), reads);
  assert.throws(() => {
    (tracked as { site: string }).site = 'z';
  }, /read-only/);
});

test("a batch's shared value is read by each member: every member's stamp records what the body read through it", () => {
  const config = { clusters: { osdc: { kubelet: { protectKernelDefaults: true }, workers: [{ name: 'w1' }, { name: 'w2' }], podCidr: '10.46.0.0/16' } } };
  const [first, second] = [new ConfigReadRecorder(), new ConfigReadRecorder()];
  const cluster = readByEach([first.track(config).clusters.osdc, second.track(config).clusters.osdc]);
  assert.is(cluster.kubelet.protectKernelDefaults, true);
  assert.equal(cluster.workers.map((worker) => worker.name), ['w1', 'w2']);
  assert.is(JSON.stringify({ pods: cluster.podCidr }), '{"pods":"10.46.0.0/16"}');
  assert.equal(Object.keys(cluster), ['kubelet', 'workers', 'podCidr']);
  const reads = first.reads(config);
  assert.equal(Object.keys(reads).sort(), ['["clusters","osdc","kubelet","protectKernelDefaults"]', '["clusters","osdc","podCidr"]', '["clusters","osdc","workers","0","name"]', '["clusters","osdc","workers","1","name"]', '["clusters","osdc","workers","length"]', '["clusters","osdc"]#keys'].sort());
  assert.equal(second.reads(config), reads, 'the second member recorded the same reads as the first');
  // One member (a batch of one): its own copy, as it is.
  const alone = new ConfigReadRecorder();
  const tracked = alone.track(config).clusters.osdc;
  assert.is(readByEach([tracked]), tracked);
});

test("an array's methods record the entries' settings they read and the array's length, never a whole entry", () => {
  const config = { workers: [{ name: 'w1', cores: 4 }, { name: 'w2', cores: 4 }] };
  const recorder = new ConfigReadRecorder();
  const names = recorder.track(config).workers.filter((worker) => worker.name !== 'w9').map((worker) => worker.name);
  assert.equal(names, ['w1', 'w2']);
  const reads = recorder.reads(config);
  assert.equal(Object.keys(reads).sort(), ['["workers","0","name"]', '["workers","1","name"]', '["workers","length"]']);
  assert.equal(replayReads({ workers: [{ name: 'w1', cores: 16 }, { name: 'w2', cores: 4 }] }, reads), reads, 'a resized worker is not a change to what was read');
  assert.not.equal(replayReads({ workers: [{ name: 'w1', cores: 4 }] }, reads), reads, 'a worker taken out is');
});

test('a changed read says what changed: values kept in the stamp, a list names the entries it gained or lost', () => {
  const site = (workers: string[], packages = ['python3']) => ({ clusters: { osdc: { workers: workers.map((name) => ({ name })) } }, packages, keys: Object.fromEntries(workers.map((name) => [name, 1])) });
  const recorder = new ConfigReadRecorder();
  const tracked = recorder.track(site(['osdc-w1', 'osdc-w2', 'osdc-w3']));
  void [...tracked.clusters.osdc.workers].map((worker) => worker.name);
  void tracked.packages[0];
  void Object.keys(tracked.keys);
  const reads = recorder.reads(site(['osdc-w1', 'osdc-w2', 'osdc-w3']));
  const stamp = { ...base, config: reads };
  const describe = (config: ReturnType<typeof site>) => diffComponents(stamp, { ...base, config: replayReads(config, reads) }, config).map(describeChange);
  assert.equal(describe(site(['osdc-w1', 'osdc-w2', 'osdc-w3', 'osdc-w4'])), ['config clusters.osdc.workers changed: 3 -> 4 entries (adds osdc-w4)', 'config keys keys changed (adds osdc-w4)']);
  // The lost entries' own reads are not listed again.
  assert.equal(describe(site(['osdc-w1'])), [
    'config clusters.osdc.workers changed: 3 -> 1 entries (removes osdc-w2, osdc-w3)',
    'config keys keys changed (removes osdc-w2, osdc-w3)',
  ]);
  assert.equal(describe(site(['osdc-w1', 'osdc-w2', 'osdc-w3'], ['containerd'])), ['config packages[0] changed: "python3" -> "containerd"']);
});

test('a read of a key set before and not now (or the other way) says "not set", never the marker the stamp keeps', () => {
  const site = (reserved: Record<string, string>) => ({ kubelet: { systemReserved: reserved } });
  const recorder = new ConfigReadRecorder();
  const tracked = recorder.track(site({ cpu: '500m' }));
  void [tracked.kubelet.systemReserved.cpu, (tracked.kubelet.systemReserved as Record<string, string>).memory];
  const reads = recorder.reads(site({ cpu: '500m' }));
  const describe = (config: ReturnType<typeof site>) => diffComponents({ ...base, config: reads }, { ...base, config: replayReads(config, reads) }, config).map(describeChange);
  assert.equal(describe(site({ memory: '1Gi' })), ['config kubelet.systemReserved.cpu changed: "500m" -> not set', 'config kubelet.systemReserved.memory changed: not set -> "1Gi"']);
});

test('a stamp from before values were kept (digests) is replayed as digests: still fresh, still compared', () => {
  const config = { site: 'x', nodes: ['a', 'b'] };
  const old = { '["site"]': digestOf('x'), '["nodes"]#keys': digestOf(['0', '1']) };
  assert.equal({ ...replayReads(config, old) }, old);
  assert.not.equal(replayReads({ ...config, site: 'y' }, old), old);
});

test('canonical JSON: sorted keys at every level, otherwise exactly JSON.stringify', () => {
  const sorted = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(sorted) : value !== null && typeof value === 'object' ? Object.fromEntries(Object.keys(value).sort().map((key) => [key, sorted((value as Record<string, unknown>)[key])])) : value;
  const samples: unknown[] = [
    { b: 1, a: [3, { z: null, y: 'x"\\u2028\n' }], c: { e: true, d: false } },
    [undefined, () => 1, Number.NaN, -0, 1e21, 'ü', [], {}],
    { skipped: undefined, fn: () => 1, kept: 0, 'key with "quotes"': 1, 'ä': 2, A: 3 },
    'plain',
    42,
    null,
  ];
  for (const sample of samples) assert.is(canonicalJson(sample), JSON.stringify(sorted(sample)));
  assert.is(canonicalJson({ b: 1, a: 2 }), canonicalJson({ a: 2, b: 1 }));
  assert.is(canonicalJson({ at: new Date(0) }), '{"at":"1970-01-01T00:00:00.000Z"}', 'toJSON is honoured, as JSON.stringify does');
  assert.throws(() => canonicalJson({ big: 1n }), /BigInt/);
});

test('the fingerprint text is the canonical JSON of the components, so stamps stay valid', () => {
  const samples: FingerprintComponents[] = [
    base,
    { ...base, inputs: {}, sources: {}, tools: {}, dependencies: {}, config: {} },
    {
      ...base,
      task: 'deploy "quoted" ü',
      inputs: { zeta: '1', alpha: '2', 'ä': '3' },
      dependencies: Object.assign(Object.create(null) as Record<string, Fingerprint>, { 'b[x=1]': 'f1' as Fingerprint, a: 'f2' as Fingerprint }),
      config: { '["clusters","osdc"]#keys': 'k', '["site"]': 's' },
    },
  ];
  for (const components of samples) {
    assert.is(fingerprintText(components), canonicalJson(components));
    assert.is(computeFingerprint(components), digestOf(components));
  }
});

test.run();
