import { promises as fs, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../lib/fs/atomic-write.js';
import { digestFile } from '../../lib/stamps/digest.js';
import type { Environment } from '../../environments/schema.js';

/** One cluster's etcd snapshot kept on the controller: its file and when it was taken (from its name). */
export interface KeptSnapshot {
  readonly file: string;
  readonly takenAt: Date;
}

/** Where one cluster's snapshots are kept: <backups.directory>/<environment>/<cluster>/ (0700). */
export function snapshotDirectory(root: string, config: Environment, cluster: string): string {
  return path.resolve(root, config.backups.directory, config.name, cluster);
}

/** Where a snapshot lands while it is copied from the node: a folder the listing never reads. */
export const incomingDirectory = (directory: string): string => path.join(directory, '.incoming');

/** A snapshot's name without .db: the cluster and the UTC time it was taken, `osdc-20261205T211500Z`. */
export function snapshotName(cluster: string, at: Date): string {
  return `${cluster}-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

const namePattern = /-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.db$/;

/** The snapshots kept for a cluster, newest first: the files snapshotName names (anything else there is left alone). */
export function keptSnapshots(directory: string, cluster: string): KeptSnapshot[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .flatMap((file) => {
      const time = file.startsWith(`${cluster}-`) ? namePattern.exec(file) : null;
      if (!time || file.slice(cluster.length + 1).length !== 'YYYYMMDDTHHMMSSZ.db'.length) return [];
      const [, year, month, day, hour, minute, second] = time.map(Number) as [number, number, number, number, number, number, number];
      return [{ file: path.join(directory, file), takenAt: new Date(Date.UTC(year, month - 1, day, hour, minute, second)) }];
    })
    .sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime());
}

/**
 * Keeps a snapshot copied into the incoming folder: 0600 (etcd holds every Secret of the cluster), its sha256
 * written beside it as `sha256sum -c` reads it, then moved in with one rename, so a snapshot listed is a
 * whole one with its digest. Then only the newest `keep` stay. Returns the kept file and its digest.
 */
export async function keepSnapshot(directory: string, cluster: string, name: string, keep: number): Promise<{ file: string; sha256: string; removed: string[] }> {
  const file = path.join(directory, `${name}.db`);
  const sha256 = await moveInWithDigest(path.join(incomingDirectory(directory), `${name}.db`), file);
  const removed: string[] = [];
  for (const old of keptSnapshots(directory, cluster).slice(keep)) {
    await fs.rm(`${old.file}.sha256`, { force: true });
    await fs.rm(old.file, { force: true });
    removed.push(path.basename(old.file));
  }
  return { file, sha256, removed };
}

/** A file of the incoming folder moved in whole: 0600, on disk, its sha256 beside it (`sha256sum -c`'s form), then one rename. */
async function moveInWithDigest(incoming: string, file: string): Promise<string> {
  await fs.chmod(incoming, 0o600);
  const handle = await fs.open(incoming, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  const sha256 = await digestFile(incoming);
  await writeFileAtomic(`${file}.sha256`, `${sha256}  ${path.basename(file)}\n`);
  await fs.rename(incoming, file);
  return sha256;
}

/**
 * A kubeadm cluster's authorities (its CAs and service-account key, as the newest snapshot found them):
 * what a rebuilt control plane needs to keep the cluster's identity. One file per cluster, replaced by each
 * snapshot.
 */
export const authoritiesFile = (directory: string): string => path.join(directory, 'pki.tar.gz');
export const incomingAuthorities = (directory: string): string => path.join(incomingDirectory(directory), 'pki.tar.gz');

/** Keeps the authorities a snapshot brought (0600, with their sha256), if it brought any; their digest. */
export async function keepAuthorities(directory: string): Promise<string | undefined> {
  return existsSync(incomingAuthorities(directory)) ? moveInWithDigest(incomingAuthorities(directory), authoritiesFile(directory)) : undefined;
}

/**
 * The kept authorities of a cluster, checked whole against their sha256, or undefined where none are kept;
 * damaged or without a digest, an error that says what to do.
 */
export async function keptAuthorities(root: string, directory: string): Promise<string | undefined> {
  const file = authoritiesFile(directory);
  if (!existsSync(file)) return undefined;
  const shown = path.relative(root, file) || file;
  const expected = existsSync(`${file}.sha256`) ? /^([0-9a-f]{64})\s/.exec(await fs.readFile(`${file}.sha256`, 'utf8'))?.[1] : undefined;
  const found = await digestFile(file);
  if (expected !== found) throw new Error(`${shown} is damaged: its sha256 is ${found}, ${path.basename(file)}.sha256 says ${expected ?? '(none)'}; take a snapshot again (etcd-backup) to keep them anew, or remove it for new authorities`);
  return file;
}

/**
 * Prepares the folders for a new snapshot: 0700, and what an interrupted run left removed: a copy in the
 * incoming folder, a digest whose snapshot was never moved in.
 */
export async function prepareSnapshotDirectory(directory: string): Promise<void> {
  await fs.rm(incomingDirectory(directory), { recursive: true, force: true });
  await fs.mkdir(incomingDirectory(directory), { recursive: true, mode: 0o700 });
  await fs.chmod(directory, 0o700);
  for (const file of readdirSync(directory)) {
    if (file.endsWith('.sha256') && !existsSync(path.join(directory, file.slice(0, -'.sha256'.length)))) await fs.rm(path.join(directory, file), { force: true });
  }
}

/** How long ago, in words: `26.0 h`, `45 min`. */
export function ageInWords(milliseconds: number): string {
  const minutes = milliseconds / 60_000;
  return minutes < 120 ? `${Math.floor(minutes)} min` : `${(minutes / 60).toFixed(1)} h`;
}

/**
 * The kept snapshot a restore uses, checked whole against the sha256 kept beside it: `file` when given
 * (relative to the project), else the cluster's newest. Errors say what is wrong and what to do.
 */
export async function snapshotToRestore(root: string, directory: string, cluster: string, file: string | undefined): Promise<{ readonly file: string; readonly name: string; readonly sha256: string }> {
  const shownDirectory = path.relative(root, directory) || directory;
  const chosen = file === undefined ? keptSnapshots(directory, cluster)[0]?.file : path.resolve(root, file);
  if (chosen === undefined) throw new Error(`no snapshot of ${cluster} is kept in ${shownDirectory}: take one with etcd-backup, or name one with snapshot=FILE`);
  const shown = chosen.startsWith(`${root}${path.sep}`) ? path.relative(root, chosen) : chosen;
  if (!existsSync(chosen)) throw new Error(`snapshot ${shown} does not exist (the kept ones are in ${shownDirectory})`);
  if (!existsSync(`${chosen}.sha256`)) throw new Error(`snapshot ${shown} has no ${path.basename(chosen)}.sha256 beside it: only a snapshot etcd-backup kept (with its digest) is restored`);
  const expected = /^([0-9a-f]{64})\s/.exec(await fs.readFile(`${chosen}.sha256`, 'utf8'))?.[1];
  const found = await digestFile(chosen);
  if (expected !== found) throw new Error(`snapshot ${shown} is damaged: its sha256 is ${found}, ${path.basename(chosen)}.sha256 says ${expected ?? '(no digest)'}; restore another kept snapshot`);
  return { file: chosen, name: path.basename(chosen).replace(/\.db$/, ''), sha256: found };
}
