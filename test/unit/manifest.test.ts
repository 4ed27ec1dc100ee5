// images/manifest.ts: no invented digest (issue 19). Every artifact names where its digest comes from; a
// pinned one says where it was published; the lock file holds only artifacts of the bundled environments.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { artifactKey, artifactsFor, crictlVersion, etcdReleaseNames, packerProxmoxPlugin, tofuProxmoxProvider } from '../../images/manifest.js';
import { fetched } from '../../tasks/images/index.js';
import { example } from '../../environments/example.js';
import { lab } from '../../environments/lab.js';
import { environmentSchema } from '../../environments/schema.js';
import { repositoryRoot } from '../helpers/project.js';
import { canonicalImage, imagesIn } from '../../tasks/bundle/chart-images.js';

const environments = [example, lab].map((definition) => environmentSchema.parse(definition));

test('every artifact names its digest source: a pin with where it was published, a checksum file, an index, a registry, or why there is none', () => {
  for (const config of environments) {
    for (const artifact of artifactsFor(config.versions)) {
      const digest = artifact.digest as Record<string, unknown>;
      const sources = ['pinned', 'checksumFile', 'helmIndex', 'registry', 'firstFetch'].filter((key) => key in digest);
      assert.is(sources.length, 1, `${artifactKey(artifact)}: ${JSON.stringify(digest)}`);
      if ('pinned' in digest) {
        assert.match(String(digest.pinned), /^[0-9a-f]{64}$/, artifactKey(artifact));
        assert.ok(String(digest.from).length > 10, `${artifactKey(artifact)} says where its pinned digest was published`);
      }
      for (const key of ['checksumFile', 'helmIndex']) if (key in digest) assert.match(String(digest[key]), /^https:\/\//, artifactKey(artifact));
      if (artifact.kind !== 'image') assert.match(artifact.file, /^images\//);
    }
  }
});

test('the digests pinned are the published ones (issue 19): the Ubuntu image and the Cilium chart', () => {
  const artifacts = artifactsFor(environments[0]!.versions);
  const pinned = (name: string) => (artifacts.find((artifact) => artifact.name === name)!.digest as { pinned?: string }).pinned;
  assert.is(pinned('ubuntu-cloud'), '0e25ca6ee9f08ec5d4f9910054b66ae7163c6152e81a3e67689d89bd6e4dfa69');
  assert.is(pinned('cilium'), '406c5bba515262c52e53b859af31af412cd8d2c332e277e98ec3e5f14382ecbf');
  // No pin for a version nobody published a digest of here: the index is asked instead.
  const other = artifactsFor({ ...environments[0]!.versions, cilium: '1.16.2' }).find((artifact) => artifact.name === 'cilium')!;
  assert.equal(other.digest, { helmIndex: 'https://helm.cilium.io/index.yaml' });
});

test('names and keys are unique in each environment, and the RKE2 and Kubernetes files are where the playbooks read them', () => {
  for (const config of environments) {
    const artifacts = artifactsFor(config.versions);
    assert.is(new Set(artifacts.map((artifact) => artifact.name)).size, artifacts.length);
    assert.is(new Set(artifacts.map(artifactKey)).size, artifacts.length);
    const files = artifacts.flatMap((artifact) => (artifact.kind === 'image' ? [] : [artifact.file]));
    for (const file of ['install.sh', 'sha256sum-amd64.txt', 'rke2.linux-amd64.tar.gz', 'rke2-images.linux-amd64.tar.zst']) assert.ok(files.includes(`images/rke2/${config.versions.rke2}/${file}`), file);
    for (const file of ['kubeadm', 'kubeadm.sha256', 'kubelet', 'kubectl', `crictl-${crictlVersion(config.versions.kubernetes)}-linux-amd64.tar.gz.sha256`]) {
      assert.ok(files.includes(`images/kubernetes/${config.versions.kubernetes}/${file}`), file);
    }
    // etcd's client tools of the etcd kubeadm runs (3.5.12-0 for v1.30.4), checked against etcd's SHA256SUMS.
    const etcd = artifacts.find((artifact) => artifact.name === 'etcd-release')!;
    assert.equal(etcd.kind === 'file' && [etcd.file, etcd.url, etcd.digest], [
      'images/etcd/v3.5.12/etcd-v3.5.12-linux-amd64.tar.gz',
      'https://github.com/etcd-io/etcd/releases/download/v3.5.12/etcd-v3.5.12-linux-amd64.tar.gz',
      { checksumFile: 'https://github.com/etcd-io/etcd/releases/download/v3.5.12/SHA256SUMS' },
    ]);
    assert.ok(files.includes('images/etcd/v3.5.12/SHA256SUMS'));
    // Every image kubeadm runs at the version (as `kubeadm config images list` prints it) is carried.
    const images = artifacts.flatMap((artifact) => (artifact.kind === 'image' ? [artifact.reference] : []));
    const kubeadmImages = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'].map((part) => `registry.k8s.io/${part}:${config.versions.kubernetes}`);
    assert.equal(images.filter((reference) => reference.startsWith('registry.k8s.io/')), [...kubeadmImages, 'registry.k8s.io/etcd:3.5.12-0', 'registry.k8s.io/coredns/coredns:v1.11.1', 'registry.k8s.io/pause:3.9']);
  }
});

test("the Proxmox provider OpenTofu installs is the release the manifest verifies: main.tf requires exactly its version, packaged as bpg publishes it with its SHA256SUMS", () => {
  const mainTf = readFileSync(path.join(repositoryRoot, 'tasks', 'infrastructure', 'terraform', 'main.tf'), 'utf8');
  const required = /proxmox = \{\s*source\s*=\s*"([^"]+)"\s*version\s*=\s*"([^"]+)"/.exec(mainTf);
  assert.equal(required?.slice(1), [tofuProxmoxProvider.source, tofuProxmoxProvider.version], 'an exact version, not a constraint: the mirror holds that one package');
  const provider = artifactsFor(environments[0]!.versions).find((artifact) => artifact.name === 'tofu-provider-proxmox')!;
  const release = `https://github.com/bpg/terraform-provider-proxmox/releases/download/v${tofuProxmoxProvider.version}`;
  assert.equal(provider.kind === 'file' && [provider.file, provider.url, provider.digest, provider.neededFor], [
    `images/tofu-providers/terraform-provider-proxmox_${tofuProxmoxProvider.version}_linux_amd64.zip`,
    `${release}/terraform-provider-proxmox_${tofuProxmoxProvider.version}_linux_amd64.zip`,
    { checksumFile: `${release}/terraform-provider-proxmox_${tofuProxmoxProvider.version}_SHA256SUMS` },
    'proxmox',
  ]);
});

test("packer's Proxmox plugin is the release the manifest verifies: the template requires exactly its version, packaged as HashiCorp publishes it with its SHA256SUMS", () => {
  const template = readFileSync(path.join(repositoryRoot, 'tasks', 'golden-image', 'ubuntu-golden.pkr.hcl'), 'utf8');
  const required = /proxmox = \{\s*version\s*=\s*"([^"]+)"\s*source\s*=\s*"([^"]+)"/.exec(template);
  assert.equal(required?.slice(1), [packerProxmoxPlugin.version, packerProxmoxPlugin.source], 'an exact version, not a constraint: the plugin directory holds that one release');
  const plugin = artifactsFor(environments[0]!.versions).find((artifact) => artifact.name === 'packer-plugin-proxmox')!;
  const release = `https://github.com/hashicorp/packer-plugin-proxmox/releases/download/v${packerProxmoxPlugin.version}`;
  assert.equal(plugin.kind === 'file' && [plugin.file, plugin.url, plugin.digest, plugin.neededFor], [
    `images/packer-plugins/packer-plugin-proxmox_v${packerProxmoxPlugin.version}_x5.0_linux_amd64.zip`,
    `${release}/packer-plugin-proxmox_v${packerProxmoxPlugin.version}_x5.0_linux_amd64.zip`,
    { checksumFile: `${release}/packer-plugin-proxmox_v${packerProxmoxPlugin.version}_SHA256SUMS` },
    'proxmox',
  ]);
});

test("a Kubernetes version kubeadm-images.ts does not know has no etcd release in the manifest: nothing waits on fetching one (the snapshot step says what to add)", () => {
  const config = { ...environments[0]!, versions: { ...environments[0]!.versions, kubernetes: 'v1.99.0' } };
  assert.equal(artifactsFor(config.versions).filter((artifact) => artifact.name.startsWith('etcd-')), []);
  assert.equal(fetched(config, etcdReleaseNames), []);
  assert.equal(fetched(environments[0]!, etcdReleaseNames).map((instance) => instance.id), ['images:fetch[artifact=etcd-release]', 'images:fetch[artifact=etcd-checksums]']);
});

test('the lock file, where there is one, holds only artifacts of the bundled environments, each as the schema says', () => {
  const lockFile = path.join(repositoryRoot, 'images', 'manifest.lock.json');
  if (!existsSync(lockFile)) return;
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { version: number; artifacts: Record<string, { sha256: string; source: string }> };
  assert.is(lock.version, 1);
  const known = new Set(environments.flatMap((config) => artifactsFor(config.versions).map(artifactKey)));
  for (const [key, entry] of Object.entries(lock.artifacts)) {
    assert.ok(known.has(key), `${key} is an artifact of example or lab`);
    assert.match(entry.sha256, /^[0-9a-f]{64}$/);
    assert.ok(entry.source.length > 0);
  }
});

test("the images a chart renders, as a registry reference with its tag (Docker Hub's short names spelt out, a digest after the tag left to the copy)", () => {
  assert.is(canonicalImage('nginx'), 'docker.io/library/nginx:latest');
  assert.is(canonicalImage('velero/velero:v1.14.1'), 'docker.io/velero/velero:v1.14.1');
  assert.is(canonicalImage('localhost:5000/tools/x:1'), 'localhost:5000/tools/x:1');
  assert.is(canonicalImage(`registry.k8s.io/pause:3.9@sha256:${'b'.repeat(64)}`), 'registry.k8s.io/pause:3.9');
  const rendered = 'kind: Pod\nspec:\n  containers:\n    - image: nginx:1.27\n  initContainers:\n    - image: busybox\n---\nkind: Custom\nspec:\n  image: quay.io/x/y:2\n---\n# an empty document\n';
  assert.equal(imagesIn(rendered), ['docker.io/library/busybox:latest', 'docker.io/library/nginx:1.27', 'quay.io/x/y:2']);
});

test.run();
