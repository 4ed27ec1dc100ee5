import { randomBytes } from 'node:crypto';
import { etcdReleaseNames } from '../../images/manifest.js';
import type { Dependency } from '../../lib/dsl/task.js';
import { fetched } from '../images/index.js';
import { controlPlaneArgumentsSources, kubernetes, rollControlPlaneArguments, upgrade } from '../kubernetes/index.js';
import { clusterGroup, inventoryNode, clusterInput, clusterOf, everyCluster, membersFirst, playbook, tasks } from '../shared/kit.js';

/**
 * A new secrets-encryption key for one cluster. On kubeadm, as Kubernetes documents the rotation of a key
 * for several API servers: the key (32 random bytes, made here and redacted like every secret) is added to every
 * control-plane node's configuration as a reader, every API server restarts on it one at a time, then it
 * goes first and they restart again, then every Secret is written again under it and etcd is read to prove
 * it. Older keys stay as readers, so that an etcd snapshot taken before the rotation can still be restored;
 * the next etcd-backup keeps the new key with its snapshot. On RKE2, with RKE2's own `rke2 secrets-encrypt`
 * (rke2-secrets-rotation.yml). Run when asked (`tsx deploy.ts
 * 'secrets-key-rotation[cluster=osdc-a]'`): each run adds a key, and a run that stopped part way goes on
 * with the key it added instead.
 */
export const secretsKeyRotation = tasks.task({
  name: 'secrets-key-rotation',
  description: "A new secrets-encryption key for a cluster's Secrets: read, then written with, then every Secret written again",
  supportsDryRun: true,
  policy: 'always',
  inputs: clusterInput,
  instances: everyCluster,
  // The control plane is up and encrypts with the cluster's key; on kubeadm, etcdctl reads what etcd holds after.
  deps: ({ cluster }, config): Dependency[] => [kubernetes.with({ cluster }), ...(clusterOf(config, cluster).distribution === 'kubeadm' ? fetched(config, etcdReleaseNames) : [])],
  // Never during a version roll, which restarts the same API servers.
  after: ({ cluster }): Dependency[] => [upgrade.with({ cluster })],
  estimate: '5m',
  sources: [...controlPlaneArgumentsSources, 'tasks/secrets-rotation/playbooks/rke2-secrets-rotation.yml', 'tasks/secrets-rotation/playbooks/includes/restart-server.yml', 'tasks/shared/playbooks/includes/rke2-node-ready.yml'],
  tools: ['ansible-playbook'],
  timeout: '1h',
  run: async (context) => {
    const cluster = clusterOf(context.config, context.inputs.cluster);
    const controlPlane = { cluster, controlPlane: (await membersFirst(context, cluster)).controlPlane.map(inventoryNode), workers: [] };
    if (cluster.distribution === 'rke2') {
      await playbook(context, 'tasks/secrets-rotation/playbooks/rke2-secrets-rotation.yml', controlPlane, { become: true, extraVars: { cluster_name: cluster.name, cluster_group: clusterGroup(cluster.name) } });
      return;
    }
    const freshKey = () => (context.dryRun ? '(secrets-encryption key)' : context.secret(randomBytes(32).toString('base64')));
    await rollControlPlaneArguments(context, controlPlane, { secrets_encryption_key: freshKey(), secrets_encryption_new_key: freshKey() });
  },
});
