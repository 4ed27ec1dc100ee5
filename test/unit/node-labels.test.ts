// What node-labels does to a Node's taints (tasks/kubernetes/node-labels.ts): sets the declared ones that are
// not there with their value, removes the ones Onboarder set that are declared no more, and leaves alone
// every taint someone else set.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kubeadmControlPlaneTaint, kubeadmControlPlaneTaints, managedTaints, managedTaintsAnnotation, nodeLabelsManifest, taintArgument, taintChanges, type Taint } from '../../tasks/kubernetes/node-labels.js';

const dedicated: Taint = { key: 'openspace.io/dedicated', value: 'data', effect: 'NoSchedule' };
const cordoned: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

test('a declared taint not there is set, with its value; one there with the same value is left as it is', () => {
  assert.equal(taintChanges([dedicated], [cordoned], []), ['openspace.io/dedicated=data:NoSchedule']);
  assert.equal(taintChanges([dedicated], [cordoned, dedicated], [dedicated]), []);
  // Another value for the same key and effect: set again (kubectl taint --overwrite).
  assert.equal(taintChanges([{ ...dedicated, value: 'gpu' }], [dedicated], [dedicated]), ['openspace.io/dedicated=gpu:NoSchedule']);
});

test("a taint Onboarder set and no longer declared is removed; another's never", () => {
  assert.equal(taintChanges([], [cordoned, dedicated], [dedicated]), ['openspace.io/dedicated:NoSchedule-']);
  assert.equal(taintChanges([], [cordoned, dedicated], []), [], 'not recorded as set by Onboarder: left alone');
  assert.equal(taintChanges([], [cordoned], [dedicated]), [], 'gone already: nothing to remove');
  // The same key with another effect is another taint.
  assert.equal(taintChanges([{ ...dedicated, effect: 'NoExecute' }], [dedicated], [dedicated]), ['openspace.io/dedicated:NoSchedule-', 'openspace.io/dedicated=data:NoExecute']);
});

test('the annotation: what the manifest records is what is read back; a missing or broken one is none', () => {
  const manifest = JSON.parse(nodeLabelsManifest([{ name: 'w1', labels: { 'openspace.io/pool': 'data' }, taints: [dedicated] }])) as { items: { metadata: { labels: object; annotations: Record<string, string> } }[] };
  assert.equal(manifest.items[0]!.metadata.labels, { 'openspace.io/pool': 'data' });
  assert.equal(managedTaints(manifest.items[0]!.metadata.annotations), [dedicated]);
  assert.equal(managedTaints(undefined), []);
  assert.equal(managedTaints({ [managedTaintsAnnotation]: 'not json' }), []);
  assert.is(taintArgument(cordoned), 'node.kubernetes.io/unschedulable:NoSchedule');
});

test("a kubeadm control plane keeps kubeadm's taint while its cluster has workers; without any it is taken off, and comes back with the first", () => {
  const changes = (clusterHasWorkers: boolean, current: Taint[], declared: Taint[] = []) => {
    const { wanted, managed } = kubeadmControlPlaneTaints(declared, [], clusterHasWorkers);
    return taintChanges(wanted, current, managed);
  };
  assert.equal(changes(true, [kubeadmControlPlaneTaint]), []);
  assert.equal(changes(false, [kubeadmControlPlaneTaint, cordoned]), ['node-role.kubernetes.io/control-plane:NoSchedule-']);
  assert.equal(changes(false, []), []);
  assert.equal(changes(true, []), ['node-role.kubernetes.io/control-plane:NoSchedule']);
  // Declared in the environment: kept whatever the workers.
  assert.equal(changes(false, [kubeadmControlPlaneTaint], [kubeadmControlPlaneTaint]), []);
  assert.equal(changes(true, [], [kubeadmControlPlaneTaint]), ['node-role.kubernetes.io/control-plane:NoSchedule']);
});

test.run();
