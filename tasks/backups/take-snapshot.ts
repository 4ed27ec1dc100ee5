import path from 'node:path';
import type { ToolContext } from '../../lib/tools/command.js';
import type { Environment } from '../../environments/schema.js';
import { clusterGroup, inventoryNode, membersFirst, playbook, type NamedCluster } from '../shared/kit.js';
import { etcdRelease } from './etcd-release.js';
import { authoritiesFile, incomingAuthorities, incomingDirectory, keepAuthorities, keepSnapshot, prepareSnapshotDirectory, snapshotDirectory, snapshotName } from './snapshot-store.js';

/** The files a step that takes a snapshot runs (its `sources`). */
export const snapshotSources = ['tasks/backups/playbooks/etcd-snapshot.yml', 'tasks/backups/playbooks/includes/etcd-tools.yml'];

/**
 * Takes a snapshot of a cluster's etcd on its first control-plane node and keeps it on the controller
 * (snapshot-store.ts): etcd-backup's body, and the upgrade step's first act before it rolls a node.
 */
export async function takeSnapshot(context: ToolContext & { readonly config: Environment; readonly dryRun: boolean }, cluster: NamedCluster): Promise<void> {
  const { config, root } = context;
  const directory = snapshotDirectory(root, config, cluster.name);
  const name = snapshotName(cluster.name, new Date());
  const etcd = cluster.distribution === 'kubeadm' && !context.dryRun ? etcdRelease(root, config.versions.kubernetes) : undefined;
  if (!context.dryRun) await prepareSnapshotDirectory(directory);
  // On a control-plane node that is in the cluster (the first of them).
  const firstControlPlane = { cluster, controlPlane: (await membersFirst(context, cluster)).controlPlane.slice(0, 1).map(inventoryNode), workers: [] };
  await playbook(context, 'tasks/backups/playbooks/etcd-snapshot.yml', firstControlPlane, {
    become: true,
    extraVars: {
      cluster_group: clusterGroup(cluster.name),
      snapshot_name: name,
      snapshot_destination: path.join(incomingDirectory(directory), `${name}.db`),
      ...(etcd ? { etcd_version: etcd.version, etcd_release: etcd.release, etcd_release_directory: etcd.directory, authorities_destination: incomingAuthorities(directory) } : {}),
    },
  });
  if (context.dryRun) return;
  const kept = await keepSnapshot(directory, cluster.name, name, config.backups.keep);
  const authorities = await keepAuthorities(directory);
  if (authorities) context.log.info(`kept the cluster's authorities (its CAs and service-account key) as ${path.relative(root, authoritiesFile(directory))} (sha256 ${authorities}): a rebuilt control plane keeps them`);
  context.log.info(`kept ${path.relative(root, kept.file) || kept.file} (sha256 ${kept.sha256})${kept.removed.length > 0 ? `; removed the oldest beyond backups.keep ${config.backups.keep}: ${kept.removed.join(', ')}` : ''}`);
}
