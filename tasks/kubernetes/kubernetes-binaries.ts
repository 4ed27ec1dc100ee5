import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { publishedDigests, type ReleaseFile } from '../shared/release-files.js';

/** The binaries kubeadm needs on a node, as dl.k8s.io publishes them (each with its `<name>.sha256`). */
const binaries = ['kubeadm', 'kubelet', 'kubectl'] as const;

/** Where one Kubernetes release's binaries are kept on the controller: images/kubernetes/<version>/. */
export function kubernetesBinariesDirectory(root: string, version: string): string {
  return path.join(root, 'images', 'kubernetes', version);
}

/**
 * An air-gapped site's kubeadm, kubelet, kubectl and crictl for `version`, with the digests their publishers
 * put beside them: dl.k8s.io's `<binary>.sha256`, cri-tools' `crictl-<v>-linux-amd64.tar.gz.sha256`. A file
 * missing, or a checksum file that lists no digest for it, is an error that says where it belongs.
 */
export function kubernetesBinaries(root: string, version: string): ReleaseFile[] {
  const directory = kubernetesBinariesDirectory(root, version);
  const shown = (file: string) => path.relative(root, path.join(directory, file));
  const crictl = existsSync(directory) ? readdirSync(directory).filter((file) => /^crictl-v[\d.]+-linux-amd64\.tar\.gz$/.test(file)) : [];
  if (crictl.length !== 1) {
    throw new Error(`Kubernetes ${version}: ${shown('crictl-<version>-linux-amd64.tar.gz')} ${crictl.length === 0 ? 'is missing' : `is there ${crictl.length} times (${crictl.join(', ')})`}: keep one cri-tools release beside kubeadm, kubelet and kubectl`);
  }
  return [...binaries, crictl[0]!].map((file) => {
    for (const needed of [file, `${file}.sha256`]) {
      if (!existsSync(path.join(directory, needed))) throw new Error(`Kubernetes ${version}: ${shown(needed)} is missing: put the release's file and its published .sha256 there (images:fetch online, bundle load air-gapped)`);
    }
    const sha256 = publishedDigests(readFileSync(path.join(directory, `${file}.sha256`), 'utf8'), file).get(file);
    if (!sha256) throw new Error(`Kubernetes ${version}: ${shown(`${file}.sha256`)} holds no sha256 for ${file}`);
    return { file, sha256, source: `its publisher's ${file}.sha256` };
  });
}
