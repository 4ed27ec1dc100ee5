import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { durationMs } from '../../lib/dsl/duration.js';
import type { Dependency, Duration } from '../../lib/dsl/task.js';
import { etcdReleaseNames } from '../../images/manifest.js';
import { fetched } from '../images/index.js';
import { kubeconfigPath, kubernetes, platformServices } from '../kubernetes/index.js';
import { kubectlCreate, kubectlGet } from '../../lib/tools/kubernetes.js';
import { withPrivateFile } from '../../lib/tools/private-file.js';
import { veleroSchedule } from '../shared/chart-releases.js';
import { clusterName } from '../../environments/schema.js';
import { clusterGroup, inventoryNode, clusterInput, clusterOf, clustersOf, everyCluster, membersFirst, playbook, tasks } from '../shared/kit.js';
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
    // RKE2 resets the cluster on its first server: one that is in the cluster.
    const controlPlane = { cluster, controlPlane: (await membersFirst(context, cluster)).controlPlane.map(inventoryNode), workers: [] };
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

/** What ends a Velero restore (its status.phase), and whether the cluster got what it asked for. */
const finishedRestorePhases: Readonly<Record<string, boolean>> = { Completed: true, PartiallyFailed: false, Failed: false, FailedValidation: false };

/**
 * Brings a cluster's objects back from Velero's backups in the site's S3 store (a cluster rebuilt from the
 * environment after it was lost, or a namespace deleted by mistake): a Velero Restore of the newest backup
 * of the schedule platform-services set up, or of `backup=NAME`; every namespace, objects that exist are
 * left as they are (Velero's default). It waits for the restore to finish and fails on any phase but
 * Completed, with Velero's counts of errors and warnings (`velero restore describe` has the details).
 * `tsx deploy.ts 'velero-restore[cluster=osdc-a]'`.
 */
export const veleroRestore = tasks.task({
  name: 'velero-restore',
  description: "Restore a cluster's objects from Velero's backups (the schedule's newest, or backup=NAME) and wait for it",
  supportsDryRun: true,
  inputs: { cluster: clusterName, backup: z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'is a Velero backup name').optional() },
  // One per declared cluster; the command line may add the backup to restore.
  instances: everyCluster,
  commandLineInputs: true,
  policy: 'always',
  skipWhen: (config) => config.velero === undefined && 'the environment names no S3 store for Velero (velero: { s3Url, bucket, ... })',
  // Velero runs in the cluster, pointed at the store.
  deps: ({ cluster }) => [platformServices.with({ cluster })],
  tools: ['kubectl'],
  timeout: '4h',
  run: async (context) => {
    const { config, inputs, root } = context;
    const kubeconfig = kubeconfigPath(root, config, clusterOf(config, inputs.cluster).name);
    const name = `onboarder-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase()}`;
    const restore = {
      apiVersion: 'velero.io/v1',
      kind: 'Restore',
      metadata: { name, namespace: 'velero' },
      spec: { ...(inputs.backup ? { backupName: inputs.backup } : { scheduleName: veleroSchedule.name }), includedNamespaces: ['*'] },
    };
    await withPrivateFile('restore.json', JSON.stringify(restore), (file) => kubectlCreate(context, { kubeconfig, file }));
    if (context.dryRun) return;
    context.log.info(`velero restore ${name} from ${inputs.backup ?? `the newest backup of schedule ${veleroSchedule.name}`}`);
    for (;;) {
      const status = (await kubectlGet<{ status?: { phase?: string; errors?: number; warnings?: number } }>(context, { kubeconfig, namespace: 'velero', resource: `restore/${name}` })).status ?? {};
      const done = status.phase === undefined ? undefined : finishedRestorePhases[status.phase];
      if (done === true) return context.log.info(`restore ${name}: Completed${status.warnings ? ` with ${status.warnings} warnings` : ''}`);
      if (done === false) throw new Error(`velero restore ${name} ended ${status.phase} (${status.errors ?? 0} errors, ${status.warnings ?? 0} warnings): \`velero restore describe ${name} --details\` says what`);
      await sleep(10_000, undefined, { signal: context.signal });
    }
  },
});
