import path from 'node:path';
import { z } from 'zod';
import { durationMs } from '../../lib/dsl/duration.js';
import type { Dependency, Duration } from '../../lib/dsl/task.js';
import { etcdReleaseNames } from '../../images/manifest.js';
import { fetched } from '../images/index.js';
import { kubernetes } from '../kubernetes/index.js';
import { clusterName } from '../../environments/schema.js';
import { clusterGroup, clusterInput, clusterOf, clustersOf, everyCluster, playbook, tasks } from '../shared/kit.js';
import { etcdRelease } from './etcd-release.js';
import { ageInWords, keptSnapshots, snapshotDirectory, snapshotName, snapshotToRestore } from './snapshot-store.js';
import { snapshotSources, takeSnapshot } from './take-snapshot.js';

/**
 * A snapshot of one cluster's etcd, kept off the cluster on the machine that runs Onboarder
 * (backups.directory/<environment>/<cluster>/, 0600, each with its sha256 beside it), the newest
 * backups.keep of them. Taken on the first control-plane node: etcdctl for kubeadm (checked whole with
 * etcdutl), `rke2 etcd-snapshot save` for RKE2. Run when asked (`tsx deploy.ts backups`, from cron say):
 * a run takes one when the newest is older than backups.every, so a re-run within it does nothing; --force
 * takes one now. The upgrade step takes one before it rolls a node; `etcd-restore` brings a cluster back to one.
 */
export const etcdBackup = tasks.task({
  name: 'etcd-backup',
  description: "Snapshot a cluster's etcd to the controller's backups (when the newest is older than backups.every)",
  supportsDryRun: true,
  inputs: clusterInput,
  instances: everyCluster,
  // The cluster is up, and on kubeadm the etcd release whose etcdctl takes it is present and verified.
  deps: ({ cluster }, config): Dependency[] => [kubernetes.with({ cluster }), ...(clusterOf(config, cluster).distribution === 'kubeadm' ? fetched(config, etcdReleaseNames) : [])],
  estimate: '1m',
  sources: snapshotSources,
  tools: ['ansible-playbook'],
  timeout: '1h',
  check: (context) => {
    const { config, inputs, root } = context;
    const directory = snapshotDirectory(root, config, inputs.cluster);
    const [newest] = keptSnapshots(directory, inputs.cluster);
    const shown = path.relative(root, directory) || directory;
    if (!newest) return { drift: `no snapshot of ${inputs.cluster} in ${shown}` };
    const age = Date.now() - newest.takenAt.getTime();
    return age < durationMs(config.backups.every as Duration) ? true : { drift: `the newest snapshot of ${inputs.cluster} is ${ageInWords(age)} old (backups.every ${config.backups.every})` };
  },
  run: (context) => takeSnapshot(context, clusterOf(context.config, context.inputs.cluster)),
});

/** A snapshot of every cluster's etcd (etcd-backup of each), where the newest is older than backups.every. */
export const backups = tasks.task({
  name: 'backups',
  description: "Snapshot every cluster's etcd to the controller's backups (etcd-backup of each)",
  // Every cluster the environment declares.
  deps: (_, config) => clustersOf(config).map(({ name }) => etcdBackup.with({ cluster: name })),
});

/**
 * Brings a cluster's etcd back to a kept snapshot (disaster recovery): the newest of the cluster's unless
 * `snapshot=` names one, checked against its sha256 first. kubeadm: each control-plane node restores it
 * (etcdutl) into a new data directory, then the control plane restarts on it, the old data kept as
 * /var/lib/etcd.before-<restore>. RKE2: RKE2's cluster reset on the first server, the others join again.
 * It replaces the cluster's state, so it asks first (--yes in scripts):
 * `tsx deploy.ts 'etcd-restore[cluster=osdc]'`.
 */
export const etcdRestore = tasks.task({
  name: 'etcd-restore',
  description: "Bring a cluster's etcd back to a kept snapshot (the newest, or snapshot=FILE); asks first",
  inputs: { cluster: clusterName, snapshot: z.string().min(1).optional() },
  // One per declared cluster; the command line may add the snapshot to restore.
  instances: everyCluster,
  commandLineInputs: true,
  policy: 'always',
  destroys: 'always',
  // On kubeadm, the etcd release whose etcdutl restores it, present and verified.
  deps: ({ cluster }, config): Dependency[] => (clusterOf(config, cluster).distribution === 'kubeadm' ? fetched(config, etcdReleaseNames) : []),
  sources: ['tasks/backups/playbooks/etcd-restore.yml', 'tasks/backups/playbooks/includes/etcd-tools.yml'],
  tools: ['ansible-playbook'],
  timeout: '1h',
  run: async (context) => {
    const { config, inputs, root } = context;
    const cluster = clusterOf(config, inputs.cluster);
    const snapshot = await snapshotToRestore(root, snapshotDirectory(root, config, cluster.name), cluster.name, inputs.snapshot);
    const kubeadm = cluster.distribution === 'kubeadm';
    const etcd = kubeadm ? etcdRelease(root, config.versions.kubernetes) : undefined;
    context.log.info(`restoring ${cluster.name} to ${path.relative(root, snapshot.file) || snapshot.file} (sha256 ${snapshot.sha256})`);
    const controlPlane = { cluster, controlPlane: cluster.controlPlane.map((node) => ({ ...node })), workers: [] };
    await playbook(context, 'tasks/backups/playbooks/etcd-restore.yml', controlPlane, {
      become: true,
      extraVars: {
        cluster_group: clusterGroup(cluster.name),
        snapshot_file: snapshot.file,
        snapshot_name: snapshot.name,
        snapshot_sha256: snapshot.sha256,
        restore_id: snapshotName(`${snapshot.name}-restored`, new Date()),
        ...(etcd
          ? {
              initial_cluster: cluster.controlPlane.map((node) => `${node.name}=https://${node.address}:2380`).join(','),
              etcd_version: etcd.version,
              etcd_release: etcd.release,
              etcd_release_directory: etcd.directory,
            }
          : {}),
      },
    });
  },
});
