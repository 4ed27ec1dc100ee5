// CoreDNS's autoscaler on a kubeadm cluster (tasks/kubernetes/dns-autoscaler.ts): kubespray's dns-autoscaler,
// with its parameters in the ConfigMap the autoscaler reads on every poll.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { dnsAutoscalerImage } from '../../images/manifest.js';
import { dnsAutoscalerManifest, dnsAutoscalerParameters } from '../../tasks/kubernetes/dns-autoscaler.js';

type Item = { kind: string; metadata: { name: string; namespace?: string }; data?: Record<string, string>; spec?: any };
const items = (text: string) => (JSON.parse(text) as { items: Item[] }).items;
const parse = (change: (definition: any) => void = () => {}) => {
  const definition = structuredClone(example) as any;
  change(definition);
  return environmentSchema.parse(definition) as Environment;
};

test("kubespray's objects and defaults: a replica per 256 cores or 16 nodes, at least 2, never all on one node", () => {
  const cluster = parse().clusters['osdc-a']!;
  const applied = items(dnsAutoscalerManifest(cluster));
  assert.equal(applied.map((item) => `${item.kind}/${item.metadata.name}`), ['ServiceAccount/dns-autoscaler', 'ClusterRole/system:dns-autoscaler', 'ClusterRoleBinding/system:dns-autoscaler', 'ConfigMap/dns-autoscaler', 'Deployment/dns-autoscaler']);
  const linear = { coresPerReplica: 256, nodesPerReplica: 16, min: 2, preventSinglePointFailure: true };
  assert.equal(JSON.parse(applied[3]!.data!.linear!), linear);
  const container = applied[4]!.spec.template.spec.containers[0];
  assert.is(container.image, dnsAutoscalerImage);
  // The same parameters as its default, for a ConfigMap someone deleted; CoreDNS is kubeadm's Deployment.
  assert.ok(container.command.includes(`--default-params=${JSON.stringify({ linear })}`), container.command.join(' '));
  assert.ok(container.command.includes('--target=Deployment/coredns') && container.command.includes('--configmap=dns-autoscaler'));
  assert.equal(applied[4]!.spec.template.spec.tolerations, [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
});

test('a one-node cluster keeps one replica; the settings override the defaults', () => {
  const single = { controlPlane: [{}], workers: [], dnsAutoscaler: undefined } as unknown as Environment['clusters'][string];
  assert.equal(dnsAutoscalerParameters(single), { coresPerReplica: 256, nodesPerReplica: 16, min: 1, preventSinglePointFailure: false });
  const cluster = parse((definition) => (definition.clusters['osdc-a'].dnsAutoscaler = { nodesPerReplica: 4, minReplicas: 3 })).clusters['osdc-a']!;
  assert.equal(dnsAutoscalerParameters(cluster), { coresPerReplica: 256, nodesPerReplica: 4, min: 3, preventSinglePointFailure: true });
  assert.equal(JSON.parse(items(dnsAutoscalerManifest(cluster))[3]!.data!.linear!), dnsAutoscalerParameters(cluster));
});

test.run();
