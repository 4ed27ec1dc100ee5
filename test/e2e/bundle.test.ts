// Air-gapped delivery end to end with real parts on loopback (issue 19): an "upstream" served by this test (an
// HTTP server with files, checksum files and chart indexes; a real docker-registry holding a small image built
// from scratch with buildah), bundle:create from it, bundle:inspect and bundle:verify, bundle:load into an empty
// site registry (docker-registry with TLS from a CA the test makes), a real containerd pulling the image through
// its mirror configuration, and the bad inputs: a tampered file, another key, a truncated part, a digest that
// does not match its publisher's, a cut download resumed, a full disk, a registry that refuses the push.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { Agent, fetch } from 'undici';
import { stringify } from 'yaml';
import { artifactsFor, artifactKey, imageReferenceParts, type Artifact } from '../../images/manifest.js';
import { lab } from '../../environments/lab.js';
import { loopbackCertificates } from '../helpers/certificates.js';
import { repositoryRoot, waitFor, withTimeout } from '../helpers/project.js';
import { addEnvironment, copyProject, logsAndRecords, runDeploy } from '../helpers/project-copy.js';
import { freePort } from '../helpers/free-port.js';

interface Context {
  directory: string;
  remove: () => void;
  scratch: string;
  files: Map<string, Buffer>;
  /** Paths whose first response is cut after half the body; the Range requests the server saw. */
  cut: Set<string>;
  ranges: string[];
  server: http.Server;
  registries: ChildProcess[];
  siteRegistry: ChildProcess;
  sitePort: number;
  /** The upstream registry (images and the OCI chart), which the environment's upstream mirrors name. */
  upstreamPort: number;
}
const test = suite<Context>('air-gapped bundles: create, verify, load into a real registry, pull with containerd');
// Versions whose charts pin no image digest in images/chart-images.ts (the image built here has its own
// digest), but two whose images the table lists: the chart images travel like any other.
const versions = {
  ...lab.versions,
  cilium: '1.16.2',
  charts: { ...lab.versions.charts, 'ingress-nginx': '4.11.3', 'kube-prometheus-stack': '62.3.2', 'cert-manager': 'v1.15.4', 'proxmox-csi-plugin': '0.2.9', velero: '7.2.2' },
};
const artifacts = artifactsFor(versions);
const images = artifacts.filter((artifact): artifact is Extract<Artifact, { kind: 'image' }> => artifact.kind === 'image');
/** The site registry's credentials: the password is a secret reference (an environment variable). */
const loader = { user: 'loader', password: 'site-registry-pw-4c1d9e' };
const cli = (context: Context, args: string[], env: Record<string, string> = {}) =>
  runDeploy(context.directory, ['--env', 'bundle-lab', ...args], { SITE_REGISTRY_PASSWORD: loader.password, ...env });
const fakes = path.join(repositoryRoot, 'test', 'fixtures', 'fake-kubernetes');
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** What the upstream serves: each file and chart (a few KB each), the publishers' checksum files and chart indexes. */
function upstreamFiles(published: readonly Artifact[] = artifacts): Map<string, Buffer> {
  const served = new Map<string, Buffer>();
  const key = (url: string) => `/${url.replace(/^https:\/\//, '')}`;
  const checksums = new Map<string, string[]>();
  for (const artifact of published) {
    if (artifact.kind === 'image' || ('firstFetch' in artifact.digest && artifact.kind === 'file' && artifact.name.includes('checksum'))) continue;
    const body = Buffer.from(`${artifact.name} ${artifact.version}\n`.repeat(400));
    if (artifact.kind === 'chart') {
      const url = `${artifact.repository}/${artifact.name}-${artifact.version}.tgz`;
      served.set(key(url), body);
      const index = { apiVersion: 'v1', entries: { [artifact.name]: [{ name: artifact.name, version: artifact.version, digest: sha256(body), urls: [`${artifact.name}-${artifact.version}.tgz`] }] } };
      served.set(key(`${artifact.repository}/index.yaml`), Buffer.from(stringify(index)));
      continue;
    }
    served.set(key(artifact.url), body);
    if ('checksumFile' in artifact.digest) {
      const lines = checksums.get(artifact.digest.checksumFile) ?? [];
      lines.push(artifact.digest.entry ? sha256(body) : `${sha256(body)}  ${path.posix.basename(artifact.url)}`);
      checksums.set(artifact.digest.checksumFile, lines);
    }
  }
  for (const [url, lines] of checksums) served.set(key(url), Buffer.from(`${lines.join('\n')}\n`));
  return served;
}


function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Debian's docker-registry (distribution 2.8) on loopback, storing under `directory`; TLS when `tls` names a cert and key, with htpasswd credentials when it names them. */
async function startRegistry(directory: string, port: number, tls?: { cert: string; key: string; htpasswd?: string }): Promise<ChildProcess> {
  mkdirSync(path.join(directory, 'storage'), { recursive: true });
  const config = {
    version: 0.1,
    log: { level: 'warn' },
    storage: { filesystem: { rootdirectory: path.join(directory, 'storage') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, ...(tls ? { tls: { certificate: tls.cert, key: tls.key } } : {}) },
    ...(tls?.htpasswd ? { auth: { htpasswd: { realm: 'onboarder-test', path: tls.htpasswd } } } : {}),
  };
  writeFileSync(path.join(directory, 'config.yml'), stringify(config));
  const registry = spawn('docker-registry', ['serve', path.join(directory, 'config.yml')], { stdio: 'ignore' });
  const started = Date.now();
  while (!(await listening(port))) {
    if (Date.now() - started > 15_000) throw new Error(`docker-registry did not listen on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return registry;
}

const helmConfigType = 'application/vnd.cncf.helm.config.v1+json';

/**
 * Pushes a Helm chart to a registry on loopback as `helm push` lays it out (OCI manifest, Helm config and
 * chart-content layer), through the registry's HTTP API (over TLS, verified with `ca`): helm itself is not installed here.
 */
async function pushHelmChart(port: number, ca: string, reference: string): Promise<void> {
  const [repository, tag] = [reference.slice(0, reference.lastIndexOf(':')), reference.slice(reference.lastIndexOf(':') + 1)];
  const base = `https://127.0.0.1:${port}/v2/${repository}`;
  const dispatcher = new Agent({ connect: { ca: readFileSync(ca) } });
  const upload = async (content: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const started = await fetch(`${base}/blobs/uploads/`, { method: 'POST', dispatcher });
    const location = new URL(started.headers.get('location')!, base);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', body: content, headers: { 'content-type': 'application/octet-stream' }, dispatcher });
    if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status}`);
    return { digest, size: content.length };
  };
  const name = repository.slice(repository.lastIndexOf('/') + 1);
  const config = await upload(Buffer.from(JSON.stringify({ apiVersion: 'v2', name, version: tag })));
  const chart = await upload(Buffer.from(`the ${name} chart, ${tag}\n`));
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: helmConfigType, ...config }, layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', ...chart }] };
  const put = await fetch(`${base}/manifests/${tag}`, { method: 'PUT', body: JSON.stringify(manifest), headers: { 'content-type': manifest.mediaType }, dispatcher });
  if (put.status !== 201) throw new Error(`manifest upload: HTTP ${put.status}`);
}

function environmentFile(context: Context, filePort: number, registryPort: number): string {
  const upstream = `127.0.0.1:${registryPort}`;
  return `import { lab } from './lab.js';
import { defineEnvironment } from './schema.js';

/** The lab's shape with an upstream on loopback (files and a registry) and a site registry with TLS. */
export const bundleLab = defineEnvironment({
  ...lab,
  name: 'bundle-lab',
  versions: ${JSON.stringify(versions)},
  upstreamMirrors: [
    { prefix: 'https://', mirror: 'https://127.0.0.1:${filePort}/', caFile: '${path.join(context.scratch, 'ca.pem')}' },
    ${['quay.io/', 'ghcr.io/', 'registry.k8s.io/'].map((prefix) => `{ prefix: '${prefix}', mirror: '${upstream}/${prefix}', caFile: '${path.join(context.scratch, 'ca.pem')}' }`).join(',\n    ')},
    { prefix: 'docker.io/', mirror: '${upstream}/docker.io/', insecure: true },
  ],
  siteRegistry: { address: '127.0.0.1:${context.sitePort}', caFile: '${path.join(context.scratch, 'ca.pem')}', username: '${loader.user}', password: { env: 'SITE_REGISTRY_PASSWORD' } },
  // Velero backs up to the site's S3 store (never reached here): the bundle carries what its chart runs.
  velero: { s3Url: 'https://minio.bundle.test:9000', bucket: 'openspace-backups', accessKeyId: { env: 'SITE_REGISTRY_PASSWORD' }, secretAccessKey: { env: 'SITE_REGISTRY_PASSWORD' } },
});
`;
}

test.before(async (context) => {
  Object.assign(context, copyProject());
  context.scratch = path.join(context.directory, '.scratch');
  mkdirSync(context.scratch, { recursive: true });
  loopbackCertificates(context.scratch, 'registry');
  context.files = upstreamFiles();
  context.cut = new Set();
  context.ranges = [];
  // The upstream's files and registry over TLS from the test's CA, which the upstream mirrors name (caFile), as a company's Nexus.
  context.server = https.createServer({ cert: readFileSync(path.join(context.scratch, 'registry.pem')), key: readFileSync(path.join(context.scratch, 'registry.key')) }, (request, response) => {
    const body = context.files.get(request.url ?? '');
    if (!body) return void response.writeHead(404).end();
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    if (range) {
      context.ranges.push(`${request.url} ${request.headers.range}`);
      const start = Number(range[1]);
      if (start >= body.length) return void response.writeHead(416).end();
      response.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
      return void response.end(body.subarray(start));
    }
    response.writeHead(200, { 'content-length': body.length });
    if (context.cut.delete(request.url ?? '')) {
      response.write(body.subarray(0, body.length >> 1));
      return void setTimeout(() => response.destroy(), 50);
    }
    response.end(body);
  });
  await new Promise<void>((resolve) => context.server.listen(0, '127.0.0.1', resolve));
  const filePort = (context.server.address() as AddressInfo).port;
  const upstreamPort = await freePort();
  context.upstreamPort = upstreamPort;
  context.sitePort = await freePort();
  context.registries = [await startRegistry(path.join(context.scratch, 'upstream-registry'), upstreamPort, { cert: path.join(context.scratch, 'registry.pem'), key: path.join(context.scratch, 'registry.key') })];
  // The site registry: TLS from the test's CA, and htpasswd credentials (bcrypt, as the registry requires).
  const bcrypt = execFileSync('python3', ['-W', 'ignore', '-c', 'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', loader.password], { encoding: 'utf8' }).trim();
  writeFileSync(path.join(context.scratch, 'htpasswd'), `${loader.user}:${bcrypt}\n`);
  context.siteRegistry = await startRegistry(path.join(context.scratch, 'site-registry'), context.sitePort, { cert: path.join(context.scratch, 'registry.pem'), key: path.join(context.scratch, 'registry.key'), htpasswd: path.join(context.scratch, 'htpasswd') });
  // A small image built from scratch (no pull), pushed upstream under every reference the manifest names.
  const storage = ['--root', path.join(context.scratch, 'buildah'), '--runroot', path.join(context.scratch, 'buildah-run'), '--storage-driver', 'vfs'];
  writeFileSync(path.join(context.scratch, 'hello.txt'), 'hello from the upstream registry\n');
  const container = execFileSync('buildah', [...storage, 'from', 'scratch'], { encoding: 'utf8' }).trim();
  execFileSync('buildah', [...storage, 'copy', container, path.join(context.scratch, 'hello.txt'), '/hello.txt'], { stdio: 'ignore' });
  execFileSync('buildah', [...storage, 'config', '--cmd', '/hello', container], { stdio: 'ignore' });
  execFileSync('buildah', [...storage, 'commit', '--format', 'oci', container, 'localhost/hello:1'], { stdio: 'ignore' });
  // The OCI chart is a Helm chart as helm pushes one (its own config and layer media types), not an image.
  for (const image of images) {
    if (image.reference.includes('/charts/')) await pushHelmChart(upstreamPort, path.join(context.scratch, 'ca.pem'), image.reference);
    else execFileSync('buildah', [...storage, 'push', '--tls-verify=false', 'localhost/hello:1', `docker://127.0.0.1:${upstreamPort}/${image.reference}`], { stdio: 'ignore' });
  }
  addEnvironment(context.directory, 'bundle-lab', 'bundleLab', environmentFile(context, filePort, upstreamPort));
  rmSync(path.join(context.directory, 'images', 'manifest.lock.json'), { force: true });
});

test.after((context) => {
  context.server?.close();
  for (const registry of [...(context.registries ?? []), context.siteRegistry]) registry?.kill();
  context.remove();
});

const bundleFile = (context: Context, name = 'site.tar') => path.join(context.scratch, name);

test('keygen, then create: every file, chart and image verified against its publisher, the lock written, one signed archive', withTimeout(240_000, async (context: Context) => {
  const keygen = await cli(context, ['bundle:keygen[key=.cache/bundle/signing.key]']);
  assert.is(keygen.code, 0, keygen.stdout + keygen.stderr);
  assert.is(statSync(path.join(context.directory, '.cache', 'bundle', 'signing.key')).mode & 0o777, 0o600);
  assert.ok(existsSync(path.join(context.directory, 'bundle-signing.pub')));
  // The first download of the RKE2 images tarball is cut halfway: the retry resumes it with a Range request.
  const rke2Images = artifacts.find((artifact) => artifact.name === 'rke2-images') as Extract<Artifact, { kind: 'file' }>;
  context.cut.add(`/${rke2Images.url.replace(/^https:\/\//, '')}`);
  // The runner image, as --container-save writes it (a small stand-in: no image can be built here).
  writeFileSync(path.join(context.scratch, 'onboarder-0123456789ab.tar'), 'a saved runner image\n');
  const created = await cli(context, [`bundle:create[out=${bundleFile(context)},runner-image=${path.join(context.scratch, 'onboarder-0123456789ab.tar')}]`]);
  assert.is(created.code, 0, created.stdout + created.stderr);
  assert.ok(context.ranges.some((range) => range.includes('rke2-images') && /bytes=\d+-/.test(range)), `a Range request resumed the cut download: ${context.ranges.join(', ')}`);
  // Progress as plain lines (CI): the resume, and the download's bytes of its total at the end.
  assert.match(created.stdout, /\] rke2-images: resuming at [\d.]+ KB of [\d.]+ KB/);
  assert.match(created.stdout, /\] rke2-images: [\d.]+ KB of [\d.]+ KB \(100%\)/);
  const fileCount = artifacts.filter((artifact) => artifact.kind !== 'image' && artifact.neededFor !== 'proxmox').length;
  assert.match(created.stdout, `${fileCount + 1} files and charts, ${images.length} images`);
  const lock = JSON.parse(readFileSync(path.join(context.directory, 'images', 'manifest.lock.json'), 'utf8')) as { artifacts: Record<string, { sha256: string; source: string }> };
  for (const artifact of artifacts.filter((each) => each.neededFor !== 'proxmox')) assert.ok(lock.artifacts[artifactKey(artifact)], `${artifactKey(artifact)} is locked`);
  const kubeadm = artifacts.find((artifact) => artifact.name === 'kubeadm')!;
  assert.match(lock.artifacts[artifactKey(kubeadm)]!.source, 'kubeadm.sha256');
  assert.is(lock.artifacts[artifactKey(kubeadm)]!.sha256, sha256(context.files.get(`/dl.k8s.io/release/${versions.kubernetes}/bin/linux/amd64/kubeadm`)!));
  // Every image reference is the one small image built here: its blobs are stored once in the bundle's OCI layout.
  const listing = execFileSync('tar', ['-tf', bundleFile(context)], { encoding: 'utf8' }).split('\n');
  // The image's blobs once for all its references, and the chart's three.
  assert.is(listing.filter((entry) => /^oci\/blobs\/sha256\/[0-9a-f]{64}$/.test(entry.replace(/^\.\//, ''))).length <= 7, true, listing.filter((entry) => entry.includes('blobs')).join('\n'));

  const inspected = await cli(context, [`bundle:inspect[file=${bundleFile(context)}]`]);
  assert.is(inspected.code, 0, inspected.stdout + inspected.stderr);
  assert.match(inspected.stdout, /index signature valid \(key [0-9a-f]{16}\)/);
  assert.match(inspected.stdout, `image cilium-agent v${versions.cilium}  quay.io/cilium/cilium:v${versions.cilium}`);
  // The images the charts run (images/chart-images.ts) and Velero's plugin at the environment's version travel too.
  assert.match(inspected.stdout, 'image metrics-server/metrics-server v0.7.2  registry.k8s.io/metrics-server/metrics-server:v0.7.2');
  assert.match(inspected.stdout, `image velero-plugin-for-aws ${versions.veleroAwsPlugin}  docker.io/velero/velero-plugin-for-aws:${versions.veleroAwsPlugin}`);
  const verified = await cli(context, [`bundle:verify[file=${bundleFile(context)}]`]);
  assert.is(verified.code, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, `${fileCount + 1 + images.length} artifacts verified`);
  assert.match(inspected.stdout, /file  onboarder-runner 0123456789ab  \d+ B  images\/onboarder-0123456789ab\.tar/);
}));

test('load into the empty site registry over TLS; loading again changes nothing; containerd pulls through its mirror', withTimeout(240_000, async (context: Context) => {
  rmSync(path.join(context.directory, 'images', 'rke2'), { recursive: true, force: true });
  const loaded = await cli(context, [`bundle:load[file=${bundleFile(context)}]`]);
  assert.is(loaded.code, 0, loaded.stdout + loaded.stderr);
  assert.match(loaded.stdout, new RegExp(`5 files placed, \\d+ unchanged; ${images.length} images pushed to 127\\.0\\.0\\.1:${context.sitePort}, 0 already there`));
  assert.ok(existsSync(path.join(context.directory, 'images', 'rke2', versions.rke2, 'install.sh')));
  assert.ok(existsSync(path.join(context.directory, 'images', 'onboarder-0123456789ab.tar')), 'the runner image is where --container loads it from');
  const again = await cli(context, [`bundle:load[file=${bundleFile(context)}]`]);
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, `0 files placed`);
  assert.match(again.stdout, `0 images pushed to 127.0.0.1:${context.sitePort}, ${images.length} already there`);
  // The site's registry step finds every image by its locked digest.
  const registry = await cli(context, ['registry']);
  assert.is(registry.code, 0, registry.stdout + registry.stderr);
  assert.match(registry.stdout, `site registry 127.0.0.1:${context.sitePort} holds all ${images.length} images by their locked digests`);
  // The OCI chart arrived as a Helm chart (skopeo copies the artifact as it is), where platform-services pulls
  // it from (the site registry, the upstream's registry host left out, as for the nodes' mirrors).
  const chart = images.find((image) => image.reference.includes('/charts/'))!;
  const caOnly = path.join(context.scratch, 'ca-only');
  mkdirSync(caOnly, { recursive: true });
  writeFileSync(path.join(caOnly, 'ca.crt'), readFileSync(path.join(context.scratch, 'ca.pem')));
  const raw = execFileSync('skopeo', ['inspect', '--raw', '--cert-dir', caOnly, '--creds', `${loader.user}:${loader.password}`, `docker://127.0.0.1:${context.sitePort}/${imageReferenceParts(chart.reference).path}:${chart.version}`], { encoding: 'utf8' });
  assert.is((JSON.parse(raw) as { config: { mediaType: string } }).config.mediaType, helmConfigType);

  // A node's containerd, with the site registry as quay.io's mirror (hosts.toml, as node preparation writes it).
  const root = path.join(context.scratch, 'containerd');
  const hosts = path.join(root, 'certs.d', 'quay.io');
  mkdirSync(hosts, { recursive: true });
  writeFileSync(path.join(hosts, 'hosts.toml'), `server = "https://quay.io"\n\n[host."https://127.0.0.1:${context.sitePort}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${path.join(context.scratch, 'ca.pem')}"\n`);
  const socket = path.join(root, 'containerd.sock');
  writeFileSync(path.join(root, 'config.toml'), `version = 2\nroot = "${root}/root"\nstate = "${root}/state"\n[grpc]\n  address = "${socket}"\n[plugins."io.containerd.grpc.v1.cri"]\n  disable_apparmor = true\n`);
  const containerd = spawn('containerd', ['--config', path.join(root, 'config.toml')], { stdio: 'ignore' });
  try {
    await waitFor(() => existsSync(socket), 15_000);
    const pulled = execFileSync('ctr', ['--address', socket, '--namespace', 'onboarder-test', 'images', 'pull', '--user', `${loader.user}:${loader.password}`, '--snapshotter', 'native', '--hosts-dir', path.join(root, 'certs.d'), `quay.io/cilium/cilium:v${versions.cilium}`], { encoding: 'utf8' });
    assert.match(pulled, /done|elapsed/);
    const listed = execFileSync('ctr', ['--address', socket, '--namespace', 'onboarder-test', 'images', 'ls', '-q'], { encoding: 'utf8' });
    assert.match(listed, `quay.io/cilium/cilium:v${versions.cilium}`);
  } finally {
    containerd.kill();
  }
}));

test("a differential bundle (base=, as Zarf's --differential) carries only what changed since the base, a new RKE2 release's files, and lists the rest as the base's; a site that lacks the base is refused, naming what, and nothing loaded; after the base, it loads", withTimeout(240_000, async (context: Context) => {
  const environment = path.join(context.directory, 'environments', 'bundle-lab.ts');
  const before = readFileSync(environment, 'utf8');
  const newer = { ...versions, rke2: 'v1.30.5+rke2r1' };
  const published = artifactsFor(newer);
  for (const [url, body] of upstreamFiles(published)) context.files.set(url, body);
  const changed = published.filter((artifact) => !artifacts.some((each) => artifactKey(each) === artifactKey(artifact)));
  assert.equal(changed.map((artifact) => artifact.name).sort(), ['rke2-binary', 'rke2-checksums', 'rke2-images', 'rke2-install']);
  const carriedBefore = artifacts.filter((artifact) => artifact.neededFor !== 'proxmox').length + 1;
  writeFileSync(environment, before.replace(`versions: ${JSON.stringify(versions)},`, `versions: ${JSON.stringify(newer)},`));
  const update = bundleFile(context, 'update.tar');
  try {
    const noBase = await cli(context, [`bundle:create[out=${update},base=${bundleFile(context, 'never-made.tar')}]`]);
    assert.is(noBase.code, 1, noBase.stdout + noBase.stderr);
    assert.match(noBase.stdout, `base=${bundleFile(context, 'never-made.tar')}: no such bundle: name the bundle the site has loaded, which this one builds on`);
    const created = await cli(context, [`bundle:create[out=${update},base=${bundleFile(context)},runner-image=${path.join(context.scratch, 'onboarder-0123456789ab.tar')}]`]);
    assert.is(created.code, 0, created.stdout + created.stderr);
    assert.match(created.stdout, `: 4 files and charts, 0 images, and ${carriedBefore - 4} more left to the bundle it builds on (`);
    const listing = execFileSync('tar', ['-tf', update], { encoding: 'utf8' }).split('\n').filter((entry) => entry && !entry.endsWith('/')).map((entry) => entry.replace(/^\.\//, '')).sort();
    assert.equal(listing.filter((entry) => !entry.startsWith('index.json')), changed.map((artifact) => `files/${(artifact as { file: string }).file.replace(/^images\//, '')}`).sort(), 'only the new release is in the archive');
    const inspected = await cli(context, [`bundle:inspect[file=${update}]`]);
    assert.is(inspected.code, 0, inspected.stdout + inspected.stderr);
    const base = /bundle ([0-9a-f]{12}) for environment/.exec((await cli(context, [`bundle:inspect[file=${bundleFile(context)}]`])).stdout)![1]!;
    assert.match(inspected.stdout, `differential: builds on bundle ${base} (made `);
    assert.match(inspected.stdout, /file  rke2-install v1\.30\.5\+rke2r1  [^\n]*images\/rke2\/v1\.30\.5\+rke2r1\/install\.sh  sha256:[0-9a-f]{64}  \([^\n]*\)\n/);
    assert.match(inspected.stdout, `image cilium-agent v${versions.cilium}  quay.io/cilium/cilium:v${versions.cilium}  sha256:`);
    assert.match(inspected.stdout, /quay\.io\/cilium\/cilium:v[^\n]*  in base/);
    const verified = await cli(context, [`bundle:verify[file=${update}]`]);
    assert.is(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, `4 artifacts verified (differential: ${carriedBefore - 4} more are the site's from bundle ${base}`);

    // A site that lacks one of the base's files (never loaded it, or lost it): refused before anything is placed.
    const cilium = artifacts.find((artifact) => artifact.name === 'cilium' && artifact.kind === 'chart') as Extract<Artifact, { kind: 'chart' }>;
    rmSync(path.join(context.directory, cilium.file));
    // (This project made the update too: the site has none of the new release.)
    rmSync(path.join(context.directory, 'images', 'rke2', newer.rke2), { recursive: true });
    const refused = await cli(context, [`bundle:load[file=${update}]`]);
    assert.is(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stdout, `this differential bundle builds on bundle ${base} (made `);
    assert.match(refused.stdout, `the site lacks 1 of what that one carried: ${cilium.file} (${artifactKey(cilium)}); load that bundle first`);
    assert.not.ok(existsSync(path.join(context.directory, 'images', 'rke2', newer.rke2)), 'nothing of the update was placed');
    // The base loaded again, then the update: only the new release is placed; the images are the base's.
    const baseAgain = await cli(context, [`bundle:load[file=${bundleFile(context)}]`]);
    assert.is(baseAgain.code, 0, baseAgain.stdout + baseAgain.stderr);
    const loaded = await cli(context, [`bundle:load[file=${update}]`]);
    assert.is(loaded.code, 0, loaded.stdout + loaded.stderr);
    assert.match(loaded.stdout, `4 files placed, 0 unchanged; 0 images pushed`);
    assert.ok(existsSync(path.join(context.directory, 'images', 'rke2', newer.rke2, 'install.sh')));
  } finally {
    writeFileSync(environment, before);
  }
}));

test("a chart that runs an image the bundle would not carry: bundle:create refuses before copying any image, and bundle:find-images prints the lines to add (FAKE helm's template)", withTimeout(120_000, async (context: Context) => {
  // What `helm template` would render: Cilium's agent (carried; the digest after its tag is the tag's own)
  // and an Envoy DaemonSet (not carried), Velero's server by a Docker Hub short name (not carried).
  const templates = path.join(context.scratch, 'templates');
  mkdirSync(templates, { recursive: true });
  const pod = (containers: string[]) => `spec:\n  template:\n    spec:\n      containers:\n${containers.map((image, index) => `        - name: c${index}\n          image: ${image}\n`).join('')}`;
  writeFileSync(path.join(templates, 'cilium.yaml'), [`kind: DaemonSet\n${pod([`quay.io/cilium/cilium:v${versions.cilium}@sha256:${'a'.repeat(64)}`])}`, `kind: DaemonSet\n${pod(['quay.io/cilium/cilium-envoy:v1.29.9'])}`].join('---\n'));
  writeFileSync(path.join(templates, 'velero.yaml'), `kind: Deployment\n${pod(['velero/velero:v1.14.1'])}`);
  const env = { PATH: `${fakes}:${process.env.PATH}`, FAKE_KUBERNETES_LOG: path.join(context.scratch, 'fake-helm.log'), FAKE_HELM_TEMPLATES: templates };
  const refused = await cli(context, [`bundle:create[out=${bundleFile(context, 'refused.tar')}]`], env);
  assert.is(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stdout, `the charts run images the bundle would not carry: cilium@${versions.cilium} runs quay.io/cilium/cilium-envoy:v1.29.9; velero@${versions.charts.velero} runs docker.io/velero/velero:v1.14.1: add them to images/chart-images.ts (bundle:find-images prints the lines)`);
  assert.not.match(refused.stdout, '$ skopeo copy', 'no image was copied');
  assert.not.ok(existsSync(bundleFile(context, 'refused.tar')));
  // Rendered with the catalog's values at the environment's Kubernetes version.
  assert.match(readFileSync(env.FAKE_KUBERNETES_LOG, 'utf8'), new RegExp(`^helm template cilium \\S+cilium-${versions.cilium.replace(/\./g, '\\.')}\\.tgz --namespace=kube-system --values \\S+ --version ${versions.cilium.replace(/\./g, '\\.')} --kube-version ${versions.kubernetes} --skip-tests$`, 'm'));
  // The OCI chart through the environment's upstream mirror for ghcr.io, verified with the CA it names (caFile).
  assert.match(readFileSync(env.FAKE_KUBERNETES_LOG, 'utf8'), new RegExp(`^helm template proxmox-csi-plugin oci://127\\.0\\.0\\.1:${context.upstreamPort}/ghcr\\.io/sergelogvinov/charts/proxmox-csi-plugin --namespace=csi-proxmox --values \\S+ --ca-file \\S+/ca\\.pem --version `, 'm'));
  const found = await cli(context, ['bundle:find-images'], env);
  assert.is(found.code, 0, found.stdout + found.stderr);
  assert.match(found.stdout, `cilium@${versions.cilium}: 2 images, 1 not in the manifest: quay.io/cilium/cilium-envoy:v1.29.9`);
  assert.match(found.stdout, `  'cilium@${versions.cilium}': ['quay.io/cilium/cilium-envoy:v1.29.9'],\n`);
  assert.match(found.stdout, `  'velero@${versions.charts.velero}': ['docker.io/velero/velero:v1.14.1'],`);
}));

test('a tampered file, another key and a truncated part are each named; nothing is loaded', withTimeout(240_000, async (context: Context) => {
  // A byte of install.sh changed inside the archive.
  const tampered = bundleFile(context, 'tampered.tar');
  const bytes = readFileSync(bundleFile(context));
  const install = Buffer.from(`rke2-install ${versions.rke2}\n`);
  const at = bytes.indexOf(install);
  assert.ok(at > 0);
  bytes[at] = 'R'.charCodeAt(0);
  writeFileSync(tampered, bytes);
  // What a killed bundle command left (its process is gone) is removed; a live process's is not.
  const leftovers = path.join(context.directory, '.cache', 'bundle');
  mkdirSync(path.join(leftovers, 'open-4194303', 'files'), { recursive: true });
  mkdirSync(path.join(leftovers, `staging-${process.pid}`), { recursive: true });
  const bad = await cli(context, [`bundle:verify[file=${tampered}]`]);
  assert.not.ok(existsSync(path.join(leftovers, 'open-4194303')), "a dead run's unpacked bundle is removed");
  assert.ok(existsSync(path.join(leftovers, `staging-${process.pid}`)), "a live process's is kept");
  rmSync(path.join(leftovers, `staging-${process.pid}`), { recursive: true });
  assert.is(bad.code, 1);
  assert.match(bad.stdout, new RegExp(`file:rke2-install@${versions.rke2.replace(/\+/g, '\\+')}: files/rke2/[^:]+/install\\.sh: expected sha256 [0-9a-f]{64}, found [0-9a-f]{64}`));

  // Signed by another key than the one the site trusts.
  const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
  writeFileSync(path.join(context.scratch, 'other.pub'), other);
  const foreign = await cli(context, [`bundle:verify[file=${bundleFile(context)},public-key=${path.join(context.scratch, 'other.pub')}]`]);
  assert.is(foreign.code, 1);
  assert.match(foreign.stdout, /index\.json: the signature does not match other\.pub .*tampered with, or signed by another key/);
  // An index that is not JSON at all (a damaged archive): one line, for inspect too, which reads it unpacked.
  const garbled = path.join(context.scratch, 'garbled');
  mkdirSync(garbled, { recursive: true });
  writeFileSync(path.join(garbled, 'index.json'), '{"version": 1, "artifacts": [');
  writeFileSync(path.join(garbled, 'index.json.sig'), 'not json either');
  execFileSync('tar', ['-cf', bundleFile(context, 'garbled.tar'), '-C', garbled, 'index.json', 'index.json.sig']);
  const inspectedGarbled = await cli(context, [`bundle:inspect[file=${bundleFile(context, 'garbled.tar')}]`]);
  assert.is(inspectedGarbled.code, 1, inspectedGarbled.stdout + inspectedGarbled.stderr);
  assert.match(inspectedGarbled.stdout, `bundle ${bundleFile(context, 'garbled.tar')}: index.json.sig is not JSON: damaged or tampered with (bundle:verify checks the whole bundle)`);
  assert.not.match(inspectedGarbled.stdout + inspectedGarbled.stderr, /SyntaxError|    at /);

  // Split for small media; a part cut short is named before anything is unpacked.
  const split = bundleFile(context, 'split.tar');
  const created = await cli(context, [`bundle:create[out=${split},max-size=20K]`]);
  assert.is(created.code, 0, created.stdout + created.stderr);
  const parts = readdirSync(context.scratch).filter((name) => /^split\.tar\.\d{3}$/.test(name)).sort();
  assert.ok(parts.length >= 3, parts.join(', '));
  assert.is((await cli(context, [`bundle:verify[file=${split}]`])).code, 0);
  // A split bundle is a base like any other (its index read across its parts): with nothing changed since,
  // the update carries nothing and leaves everything to it.
  const onSplit = bundleFile(context, 'on-split.tar');
  const differential = await cli(context, [`bundle:create[out=${onSplit},base=${split}]`]);
  assert.is(differential.code, 0, differential.stdout + differential.stderr);
  assert.match(differential.stdout, /: 0 files and charts, 0 images, and [1-9]\d* more left to the bundle it builds on \(/);
  assert.is((await cli(context, [`bundle:verify[file=${onSplit}]`])).code, 0);
  truncateSync(path.join(context.scratch, parts[1]!), 100);
  const truncated = await cli(context, [`bundle:verify[file=${split}]`]);
  assert.is(truncated.code, 1);
  assert.match(truncated.stdout, `part 2 of ${parts.length} (${parts[1]}) is truncated: 100 bytes, expected`);
  const notLoaded = await cli(context, [`bundle:load[file=${split}]`]);
  assert.is(notLoaded.code, 1);
  assert.not.ok(existsSync(path.join(context.directory, '.cache', 'bundle')) && readdirSync(path.join(context.directory, '.cache', 'bundle')).some((name) => name.startsWith('open-')), 'no unpacked copy is left');
}));

test("a download that does not match its publisher's digest, a full disk and a registry that refuses the push: one line each", withTimeout(240_000, async (context: Context) => {
  // The upstream now serves another kubectl than its checksum file lists (the lock is set aside so the publisher decides).
  const lockFile = path.join(context.directory, 'images', 'manifest.lock.json');
  const lock = readFileSync(lockFile, 'utf8');
  rmSync(lockFile);
  rmSync(path.join(context.directory, 'images', 'kubernetes'), { recursive: true, force: true });
  const kubectl = `/dl.k8s.io/release/${versions.kubernetes}/bin/linux/amd64/kubectl`;
  const original = context.files.get(kubectl)!;
  context.files.set(kubectl, Buffer.from('not the published kubectl\n'));
  try {
    const wrong = await cli(context, [`bundle:create[out=${bundleFile(context, 'wrong.tar')}]`]);
    assert.is(wrong.code, 1);
    assert.match(wrong.stdout, new RegExp(`downloaded kubectl from https://127\\.0\\.0\\.1:\\d+${kubectl.replace(/[.+]/g, '\\$&')} is corrupt: expected sha256 ${sha256(original)} \\(https://dl\\.k8s\\.io/[^)]+kubectl\\.sha256\\), found ${sha256('not the published kubectl\n')}`));
    assert.not.ok(existsSync(bundleFile(context, 'wrong.tar')));
  } finally {
    context.files.set(kubectl, original);
    writeFileSync(lockFile, lock);
  }

  // A full disk while the archive is written: nothing is left under the final name, nor a partial file.
  const small = path.join(context.scratch, 'small-media');
  mkdirSync(small);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]);
  try {
    const full = await cli(context, [`bundle:create[out=${path.join(small, 'site.tar')}]`]);
    assert.is(full.code, 1);
    assert.match(full.stdout, /writing the bundle \S+site\.tar failed \(ENOSPC\).*nothing was kept/, full.stdout);
    assert.equal(readdirSync(small), []);
  } finally {
    execFileSync('umount', [small]);
  }

  // The site registry refuses the push (a wrong password): one line, the password never shown, no image left.
  rmSync(path.join(context.scratch, 'site-registry', 'storage', 'docker'), { recursive: true, force: true });
  const wrong = 'not-the-registry-pw-77a0';
  const refused = await cli(context, [`bundle:load[file=${bundleFile(context)}]`], { SITE_REGISTRY_PASSWORD: wrong });
  assert.is(refused.code, 1);
  assert.match(refused.stdout, new RegExp(`FAILED bundle:load\\[.*skopeo copy .*docker://127\\.0\\.0\\.1:${context.sitePort}/`));
  assert.match(refused.stdout, /unauthorized|authentication required/i);
  // The site registry step names what it lacks; and the real password never reached an output, log or record.
  const emptied = await cli(context, ['registry']);
  assert.is(emptied.code, 1);
  assert.match(emptied.stdout, new RegExp(`site registry 127\\.0\\.0\\.1:${context.sitePort} lacks ${images.length} of ${images.length} images`));
  const everything = logsAndRecords(context.directory, 'bundle-lab') + refused.stdout + refused.stderr + emptied.stdout;
  for (const secret of [loader.password, wrong, Buffer.from(`${loader.user}:${loader.password}`).toString('base64')]) assert.not.match(everything, secret);
  assert.not.ok(existsSync(path.join(context.directory, '.cache', 'registry')) && readdirSync(path.join(context.directory, '.cache', 'registry')).length > 0, 'no auth file is left');
}));

test.run();
