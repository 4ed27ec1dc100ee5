// Where a connected site's kubeadm nodes get their packages (tasks/kubernetes/kubernetes-packages.ts):
// pkgs.k8s.io's repository of the release's minor version, or the site's mirror of it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { kubernetesPackages } from '../../tasks/kubernetes/kubernetes-packages.js';

const site = (changes: Partial<Environment> = {}) => ({ ...(environmentSchema.parse(example) as Environment), ...changes });

test("pkgs.k8s.io's repository of the release's minor version, and its key", () => {
  assert.equal(kubernetesPackages(site()), { repository: 'https://pkgs.k8s.io/core:/stable:/v1.30/deb/', key: 'https://pkgs.k8s.io/core:/stable:/v1.30/deb/Release.key', unverified_host: '' });
  assert.is(kubernetesPackages(site({ versions: { ...site().versions, kubernetes: '1.31.2' } })).repository, 'https://pkgs.k8s.io/core:/stable:/v1.31/deb/');
});

test("the site's mirror of it where upstreamMirrors names one", () => {
  const upstreamMirrors = [{ prefix: 'https://pkgs.k8s.io/', mirror: 'https://nexus.corp.example/repository/pkgs-k8s-io/', insecure: false }];
  assert.equal(kubernetesPackages(site({ upstreamMirrors })), { repository: 'https://nexus.corp.example/repository/pkgs-k8s-io/core:/stable:/v1.30/deb/', key: 'https://nexus.corp.example/repository/pkgs-k8s-io/core:/stable:/v1.30/deb/Release.key', unverified_host: '' });
  // A mirror for other publishers only leaves pkgs.k8s.io as it is.
  assert.is(kubernetesPackages(site({ upstreamMirrors: [{ prefix: 'https://get.helm.sh/', mirror: 'https://nexus.corp.example/helm/', insecure: false }] })).repository, 'https://pkgs.k8s.io/core:/stable:/v1.30/deb/');
});

test("an insecure mirror over TLS names its host (no port: apt's per-host settings take none), for apt not to verify that one; over plain HTTP there is nothing to verify", () => {
  const insecure = (mirror: string) => kubernetesPackages(site({ upstreamMirrors: [{ prefix: 'https://', mirror, insecure: true }] })).unverified_host;
  assert.is(insecure('https://artifactory.corp.example:8443/remote/'), 'artifactory.corp.example');
  assert.is(insecure('http://artifactory.corp.example/remote/'), '');
});

test.run();
