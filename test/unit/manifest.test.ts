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
import { canonicalImage, chartImageLines, imagesIn } from '../../tasks/bundle/chart-images.js';
import { imageDigestToLock } from '../../tasks/bundle/stage-artifacts.js';
import { chartImages } from '../../images/chart-images.js';
import { everyRelease } from '../../tasks/shared/chart-releases.js';

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
    assert.equal(images.filter((reference) => /^registry\.k8s\.io\/(kube-|etcd|coredns|pause)/.test(reference) && !reference.includes('kube-state-metrics')), [...kubeadmImages, 'registry.k8s.io/etcd:3.5.12-0', 'registry.k8s.io/coredns/coredns:v1.11.1', 'registry.k8s.io/pause:3.9']);
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

test("every chart the bundled environments install has its images listed, and the digests the charts pin travel as pins, each image once", () => {
  for (const config of environments) {
    const charts = [`cilium@${config.versions.cilium}`, ...everyRelease.map((release) => `${release.release}@${config.versions.charts[release.release]}`)];
    for (const chart of charts) assert.ok((chartImages[chart] ?? []).length > 0, `images/chart-images.ts lists what ${chart} runs (bundle:find-images prints it)`);
    const images = artifactsFor(config.versions).filter((artifact) => artifact.kind === 'image');
    assert.is(new Set(images.map((image) => image.reference)).size, images.length, 'an image two lists name is carried once');
    const named = (reference: string) => images.find((image) => image.reference === reference);
    // The agent the manifest names itself takes the digest Cilium's chart pins (cilium/charts cilium-1.16.1.tgz values.yaml).
    assert.equal([named('quay.io/cilium/cilium:v1.16.1')?.name, named('quay.io/cilium/cilium:v1.16.1')?.digest], ['cilium-agent', { pinned: '0b4a3ab41a4760d86b7fc945b8783747ba27f29dac30dd434d94f2c9e3679f39', from: "the cilium@1.16.1 chart's values.yaml (images/chart-images.ts)" }]);
    assert.equal(named('registry.k8s.io/ingress-nginx/controller:v1.11.2')?.digest, { pinned: 'd5f8217feeac4887cb1ed21f27c2674e58be06bd8f5184cacea2a69abaf78dce', from: "the ingress-nginx@4.11.2 chart's values.yaml (images/chart-images.ts)" });
    assert.equal(named('quay.io/cilium/cilium-envoy:v1.29.7-39a2a56bbd5b3a591f69dbca51d3e30ef97e0e51')?.version, 'v1.29.7-39a2a56bbd5b3a591f69dbca51d3e30ef97e0e51');
    // An image no chart pins takes its registry's digest at the first fetch; the AWS plugin is the environment's version.
    assert.equal(named('quay.io/prometheus/prometheus:v2.54.1')?.digest, { registry: true });
    assert.ok(named(`docker.io/velero/velero-plugin-for-aws:${config.versions.veleroAwsPlugin}`));
  }
  // Every line is a full reference with a tag, and a pin is a sha256.
  for (const line of Object.values(chartImages).flat()) assert.match(line, /^[a-z0-9.-]+\.[a-z]+\/[a-z0-9._/-]+:[\w.-]+(@sha256:[0-9a-f]{64})?$/, line);
});

test("an image whose registry gives another digest than its chart pins is refused before anything is copied; one without a pin takes the registry's", () => {
  const images = artifactsFor(environments[0]!.versions).filter((artifact) => artifact.kind === 'image');
  const agent = images.find((image) => image.name === 'cilium-agent')!;
  const pin = '0b4a3ab41a4760d86b7fc945b8783747ba27f29dac30dd434d94f2c9e3679f39';
  assert.equal(imageDigestToLock(agent, 'quay.io/cilium/cilium:v1.16.1', pin), { sha256: pin, source: "pinned from the cilium@1.16.1 chart's values.yaml (images/chart-images.ts)" });
  assert.throws(
    () => imageDigestToLock(agent, 'mirror.site:5000/quay.io/cilium/cilium:v1.16.1', 'f'.repeat(64)),
    (error: Error) => error.message === `image:cilium-agent@v1.16.1: mirror.site:5000/quay.io/cilium/cilium:v1.16.1 has sha256 ${'f'.repeat(64)}, but the cilium@1.16.1 chart's values.yaml (images/chart-images.ts) pins ${pin}: the registry (or the upstream mirror) serves another image under that tag; nothing was copied`,
  );
  const prometheus = images.find((image) => image.reference === 'quay.io/prometheus/prometheus:v2.54.1')!;
  assert.equal(imageDigestToLock(prometheus, 'quay.io/prometheus/prometheus:v2.54.1', 'e'.repeat(64)), { sha256: 'e'.repeat(64), source: "the registry's digest of quay.io/prometheus/prometheus:v2.54.1" });
});

test("bundle:find-images prints a chart's whole entry: what the table lists (pins and operators' images kept), then what is missing", () => {
  const lines = chartImageLines([{ chart: 'metrics-server', version: '3.12.2', images: ['registry.k8s.io/metrics-server/metrics-server:v0.7.2', 'registry.k8s.io/autoscaling/addon-resizer:1.8.21'], missing: ['registry.k8s.io/autoscaling/addon-resizer:1.8.21'] }, { chart: 'velero', version: '7.2.1', images: [], missing: [] }]);
  assert.equal(lines, ["  'metrics-server@3.12.2': ['registry.k8s.io/metrics-server/metrics-server:v0.7.2', 'registry.k8s.io/autoscaling/addon-resizer:1.8.21'],"]);
});

test.run();
