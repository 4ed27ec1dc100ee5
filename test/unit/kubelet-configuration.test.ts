// The kubelet's drop-in configuration of a cluster's nodes (tasks/kubernetes/kubelet-configuration.ts): a
// KubeletConfiguration of the cluster's kubelet settings, which both distributions' kubelets read.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import { example } from '../../environments/example.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { kubeletDropIn } from '../../tasks/kubernetes/kubelet-configuration.js';

test("kubespray's reservations, graceful shutdown and kernel protection by default, as a KubeletConfiguration the kubelet merges over its own", () => {
  const config = environmentSchema.parse(example) as Environment;
  const text = kubeletDropIn({ name: 'osms', kubelet: config.clusters.osms!.kubelet });
  assert.ok(text.startsWith('# Managed by Onboarder: the kubelet settings of cluster osms (clusters.osms.kubelet).\n'), text);
  assert.equal(YAML.parse(text), {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    kubeReserved: { cpu: '100m', memory: '256Mi', 'ephemeral-storage': '500Mi', pid: '1000' },
    systemReserved: { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '500Mi', pid: '1000' },
    shutdownGracePeriod: '60s',
    shutdownGracePeriodCriticalPods: '20s',
    protectKernelDefaults: true,
  });
});

test('a cluster that names some settings keeps the defaults of the others; a reservation left empty reserves nothing', () => {
  const definition = structuredClone(example) as any;
  definition.clusters['osdc-a'].kubelet = { systemReserved: {}, shutdownGracePeriod: '2m' };
  const config = environmentSchema.parse(definition) as Environment;
  const parsed = YAML.parse(kubeletDropIn({ name: 'osdc-a', kubelet: config.clusters['osdc-a']!.kubelet }));
  assert.equal([parsed.kubeReserved.memory, parsed.systemReserved, parsed.shutdownGracePeriod, parsed.shutdownGracePeriodCriticalPods, parsed.protectKernelDefaults], ['256Mi', {}, '2m', '20s', true]);
  definition.clusters['osdc-a'].kubelet = { protectKernelDefaults: false };
  assert.is(YAML.parse(kubeletDropIn({ name: 'osdc-a', kubelet: (environmentSchema.parse(definition) as Environment).clusters['osdc-a']!.kubelet })).protectKernelDefaults, false);
});

test.run();
