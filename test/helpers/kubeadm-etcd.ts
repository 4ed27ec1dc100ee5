// etcd as a kubeadm control-plane node runs it, for the whole-machine suites whose steps snapshot or restore it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestHost, TestHostRig } from '../../lib/lab/test-hosts.js';
import { loopbackCertificates } from './certificates.js';

/** etcdctl against it with the healthcheck client's certificate, and a wait until it answers. */
export interface KubeadmEtcd {
  readonly etcdctl: (...args: string[]) => Promise<string>;
  readonly healthy: () => Promise<void>;
}

export const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * etcd as kubeadm runs it on a control-plane node, for the snapshot and restore steps: Debian's etcd (a real one) with
 * kubeadm's flags and certificate layout (/etc/kubernetes/pki/etcd: a CA, the server's certificate, the
 * healthcheck client's), client TLS on 127.0.0.1:2379. A FAKE kubelet (a shell loop) runs it while its static
 * pod's manifest, /etc/kubernetes/manifests/etcd.yaml, is there, and stops it when the manifest is moved out.
 */
export async function startEtcd(rig: TestHostRig, cp: TestHost, directory: string): Promise<KubeadmEtcd> {
  const scratch = path.join(directory, '.scratch-etcd');
  mkdirSync(scratch, { recursive: true });
  const { ca, cert, key } = loopbackCertificates(scratch, 'server');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(scratch, 'client.key'), '-out', path.join(scratch, 'client.csr'), '-subj', '/CN=kube-etcd-healthcheck-client');
  openssl('x509', '-req', '-in', path.join(scratch, 'client.csr'), '-CA', ca, '-CAkey', path.join(scratch, 'ca.key'), '-CAcreateserial', '-out', path.join(scratch, 'client.pem'), '-days', '2');
  const pki = rig.pathIn(cp, '/etc/kubernetes/pki/etcd');
  mkdirSync(pki, { recursive: true });
  const files = { 'ca.crt': ca, 'ca.key': path.join(scratch, 'ca.key'), 'server.crt': cert, 'server.key': key, 'healthcheck-client.crt': path.join(scratch, 'client.pem'), 'healthcheck-client.key': path.join(scratch, 'client.key') };
  for (const [name, from] of Object.entries(files)) writeFileSync(path.join(pki, name), readFileSync(from), { mode: 0o600 });
  for (const binary of ['etcd', 'etcdctl']) writeFileSync(rig.pathIn(cp, `/usr/local/sbin/test-${binary}`), readFileSync(`/usr/bin/${binary}`), { mode: 0o755 });
  writeFileSync(
    rig.pathIn(cp, '/usr/local/sbin/fake-kubelet-etcd'),
    '#!/bin/sh\n# FAKE kubelet, for tests only: runs etcd while its static pod manifest is in /etc/kubernetes/manifests.\npid=\n' +
      'while true; do\n  if [ -e /etc/kubernetes/manifests/etcd.yaml ]; then\n    if [ -z "$pid" ]; then "$@" >> /var/log/test-etcd.log 2>&1 & pid=$!; fi\n' +
      '  elif [ -n "$pid" ]; then kill "$pid"; wait "$pid"; pid=; fi\n  sleep 0.3\ndone\n',
    { mode: 0o755 },
  );
  mkdirSync(rig.pathIn(cp, '/etc/kubernetes/manifests'), { recursive: true });
  writeFileSync(rig.pathIn(cp, '/etc/kubernetes/manifests/etcd.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\n');
  const tls = ['--cacert=/etc/kubernetes/pki/etcd/ca.crt', '--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt', '--key=/etc/kubernetes/pki/etcd/healthcheck-client.key', '--endpoints=https://127.0.0.1:2379'];
  const etcdctl = (...args: string[]) => rig.exec(cp, ['env', 'ETCDCTL_API=3', '/usr/local/sbin/test-etcdctl', ...tls, ...args]);
  const peer = `https://${cp.address}:2380`;
  const server = [
    '/usr/local/sbin/test-etcd', `--name=${cp.name}`, '--data-dir=/var/lib/etcd',
    '--listen-client-urls=https://127.0.0.1:2379', '--advertise-client-urls=https://127.0.0.1:2379',
    `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=${cp.name}=${peer}`,
    '--cert-file=/etc/kubernetes/pki/etcd/server.crt', '--key-file=/etc/kubernetes/pki/etcd/server.key', '--client-cert-auth', '--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt',
    '--peer-cert-file=/etc/kubernetes/pki/etcd/server.crt', '--peer-key-file=/etc/kubernetes/pki/etcd/server.key', '--peer-client-cert-auth', '--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt',
  ];
  await rig.exec(cp, ['sh', '-c', 'setsid /usr/local/sbin/fake-kubelet-etcd "$@" > /dev/null 2>&1 < /dev/null &', 'start-etcd', ...server]);
  const healthy = async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        await etcdctl('endpoint', 'health');
        return;
      } catch (error) {
        if (attempt > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };
  await healthy();
  return { etcdctl, healthy };
}

/** etcd's release as images/etcd/<version>/ holds it: a tarball with etcdctl (Debian's, standing in for 3.5's) and its SHA256SUMS. */
export function packEtcdRelease(directory: string, version: string): void {
  const target = path.join(directory, 'images', 'etcd', version);
  const staging = path.join(directory, '.scratch-etcd-release', `etcd-${version}-linux-amd64`);
  mkdirSync(staging, { recursive: true });
  mkdirSync(target, { recursive: true });
  writeFileSync(path.join(staging, 'etcdctl'), readFileSync('/usr/bin/etcdctl'), { mode: 0o755 });
  writeFileSync(path.join(staging, 'README.md'), 'etcd\n');
  const tarball = `etcd-${version}-linux-amd64.tar.gz`;
  execFileSync('tar', ['czf', path.join(target, tarball), '-C', path.dirname(staging), path.basename(staging)]);
  writeFileSync(path.join(target, 'SHA256SUMS'), `${'0'.repeat(64)}  etcd-${version}-darwin-amd64.zip\n${sha256Of(path.join(target, tarball))}  ${tarball}\n`);
}
