// Where a connected site's kubeadm nodes get their packages (tasks/kubernetes/kubernetes-packages.ts):
// pkgs.k8s.io's repository of the release's minor version, or the site's mirror of it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { kubernetesPackages } from '../../tasks/kubernetes/kubernetes-packages.js';

const root = process.cwd();
const site = (changes: Partial<Environment> = {}) => ({ ...(environmentSchema.parse(example) as Environment), ...changes });

test("pkgs.k8s.io's repository of the release's minor version, and its key", () => {
  assert.equal(kubernetesPackages(site(), root), { repository: 'https://pkgs.k8s.io/core:/stable:/v1.30/deb/', key: 'https://pkgs.k8s.io/core:/stable:/v1.30/deb/Release.key', mirror_host: '', mirror_ca: '' });
  assert.is(kubernetesPackages(site({ versions: { ...site().versions, kubernetes: '1.31.2' } }), root).repository, 'https://pkgs.k8s.io/core:/stable:/v1.31/deb/');
});

test("the site's mirror of it where upstreamMirrors names one", () => {
  const upstreamMirrors = [{ prefix: 'https://pkgs.k8s.io/', mirror: 'https://nexus.corp.example/repository/pkgs-k8s-io/', insecure: false }];
  assert.equal(kubernetesPackages(site({ upstreamMirrors }), root), { repository: 'https://nexus.corp.example/repository/pkgs-k8s-io/core:/stable:/v1.30/deb/', key: 'https://nexus.corp.example/repository/pkgs-k8s-io/core:/stable:/v1.30/deb/Release.key', mirror_host: '', mirror_ca: '' });
  // A mirror for other publishers only leaves pkgs.k8s.io as it is.
  assert.is(kubernetesPackages(site({ upstreamMirrors: [{ prefix: 'https://get.helm.sh/', mirror: 'https://nexus.corp.example/helm/', insecure: false }] }), root).repository, 'https://pkgs.k8s.io/core:/stable:/v1.30/deb/');
});

test("an insecure mirror over TLS names its host (no port: apt's per-host settings take none), for apt not to verify that one; over plain HTTP there is nothing to verify", () => {
  const insecure = (mirror: string) => kubernetesPackages(site({ upstreamMirrors: [{ prefix: 'https://', mirror, insecure: true }] }), root);
  assert.equal(insecure('https://artifactory.corp.example:8443/remote/'), { ...insecure('https://artifactory.corp.example:8443/remote/'), mirror_host: 'artifactory.corp.example', mirror_ca: '' });
  assert.is(insecure('http://artifactory.corp.example/remote/').mirror_host, '');
});

test("a mirror whose certificate the site's CA signed carries that CA (read from caFile, relative to the project) for apt to verify that host with", () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-mirror-ca-'));
  try {
    writeFileSync(path.join(directory, 'corp-ca.pem'), '-----BEGIN CERTIFICATE-----\nthe corp CA\n-----END CERTIFICATE-----\n');
    const packages = kubernetesPackages(site({ upstreamMirrors: [{ prefix: 'https://pkgs.k8s.io/', mirror: 'https://nexus.corp.example:8443/k8s/', insecure: false, caFile: 'corp-ca.pem' }] }), directory);
    assert.is(packages.mirror_host, 'nexus.corp.example');
    assert.match(packages.mirror_ca, 'the corp CA');
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test.run();
