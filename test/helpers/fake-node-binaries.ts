// The Kubernetes binaries a kubeadm node runs, as FAKES (no control plane or kubelet can run here), for the
// whole-machine suites: whether they reach the node as an air-gapped release's files or as packages.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repositoryRoot } from './project.js';

/** test/fixtures/fake-kubernetes: the FAKE kubeadm, and the FAKE kubectl a node runs. */
export const fakeKubernetes = path.join(repositoryRoot, 'test', 'fixtures', 'fake-kubernetes');

/**
 * kubeadm (the FAKE of test/fixtures/fake-kubernetes), kubectl (its node-kubectl, answering as the API server
 * would), and kubelet and crictl: FAKES that record their argv in /root/fake-kubeadm/<name>.log, kubelet
 * saying its version and crictl naming the API server's pod.
 */
export function fakeNodeBinaries(version: string): Record<'kubeadm' | 'kubelet' | 'kubectl' | 'crictl', string> {
  const recorder = (name: string) =>
    `#!/bin/sh\n# FAKE ${name} ${version}, for tests only: records its argv.\nmkdir -p /root/fake-kubeadm && echo "${name} $*" >> /root/fake-kubeadm/${name}.log\n` +
    `case "$*" in --version) echo "Kubernetes ${version}" ;; "pods --name kube-apiserver --quiet") echo fake-apiserver-pod ;; esac\n`;
  return {
    kubeadm: readFileSync(path.join(fakeKubernetes, 'kubeadm'), 'utf8'),
    kubelet: recorder('kubelet'),
    kubectl: readFileSync(path.join(fakeKubernetes, 'node-kubectl'), 'utf8').replaceAll('@VERSION@', version),
    crictl: recorder('crictl'),
  };
}
