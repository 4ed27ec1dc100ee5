import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { etcdReleaseDirectory, etcdVersion } from '../../images/manifest.js';
import { publishedDigests, type ReleaseFile } from '../shared/release-files.js';

/**
 * etcd's release tarball for the etcd a kubeadm cluster of `kubernetes` runs, with the digest etcd's own
 * SHA256SUMS publishes for it: what the snapshot playbook installs etcdctl and etcdutl from. A version
 * kubeadm-images.ts does not know, a file missing, or a SHA256SUMS that does not list the tarball is an
 * error that says what to do.
 */
export function etcdRelease(root: string, kubernetes: string): { readonly version: string; readonly directory: string; readonly release: ReleaseFile } {
  const version = etcdVersion(kubernetes);
  if (version === undefined) throw new Error(`Kubernetes ${kubernetes}: images/kubeadm-images.ts has no line for it, so the etcd it runs is unknown: add the line \`kubeadm config images list --kubernetes-version ${kubernetes}\` prints`);
  const directory = path.join(root, etcdReleaseDirectory(version));
  const file = `etcd-${version}-linux-amd64.tar.gz`;
  const shown = (name: string) => path.relative(root, path.join(directory, name));
  for (const needed of [file, 'SHA256SUMS']) {
    if (!existsSync(path.join(directory, needed))) throw new Error(`etcd ${version}: ${shown(needed)} is missing: put the release's ${file} and its SHA256SUMS there (images:fetch online, bundle load air-gapped)`);
  }
  const sha256 = publishedDigests(readFileSync(path.join(directory, 'SHA256SUMS'), 'utf8')).get(file);
  if (!sha256) throw new Error(`etcd ${version}: ${shown('SHA256SUMS')} lists no sha256 for ${file}: it is not the release's checksum file`);
  return { version, directory, release: { file, sha256, source: "etcd's SHA256SUMS" } };
}
