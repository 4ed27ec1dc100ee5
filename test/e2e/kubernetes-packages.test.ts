// A connected site's kubeadm node gets kubeadm, kubelet, kubectl and cri-tools as packages from pkgs.k8s.io's
// repository, here through the site's mirror of it (upstreamMirrors, as an Artifactory or Nexus proxy serves
// it): a real apt on a whole-machine test host, a repository signed with a key the test makes and served by
// the test on the rig's bridge, the packages' binaries FAKES (test/helpers/fake-node-binaries.ts: no control
// plane or kubelet can run here), FAKE helm and kubectl on the engine's side.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { suite } from '../helpers/suite.js';
import { TestHostRig, type TestHost } from '../../lib/lab/test-hosts.js';
import { withTimeout } from '../helpers/project.js';
import { longTier, longTierRuns } from '../helpers/tiers.js';
import { freePort } from '../helpers/free-port.js';
import { loopbackCertificates } from '../helpers/certificates.js';
import { writeFlatRepository } from '../helpers/patch-repository.js';
import { fakeKubernetes, fakeNodeBinaries } from '../helpers/fake-node-binaries.js';
import { packEtcdRelease, startEtcd } from '../helpers/kubeadm-etcd.js';
import { machineSite, untouchedMcm } from '../helpers/machine-site.js';
import { addEnvironment, copyProject, lockPresentArtifacts, runDeploy } from '../helpers/project-copy.js';
import { lab } from '../../environments/lab.js';
import { chartFile, etcdVersion } from '../../images/manifest.js';

interface Context {
  directory: string;
  remove: () => void;
  rig: TestHostRig;
  /** The site's mirror: python's http.server on the rig's bridge, serving `mirror/`, over HTTP and HTTPS. */
  servers: ChildProcess[];
  mirrorUrl: string;
  /** The same files over TLS, with a certificate the test's CA signed (`mirror-tls/ca.pem`), which no system trusts. */
  tlsMirrorUrl: string;
  /** The rig's mirror of Debian (http://address:port), which the node's sources named before the test made them name Debian's archive. */
  debianMirror: string;
}

/** A key's fingerprint (its primary key's), as the environment names it. */
const fingerprint = (context: Context, keyring: string) => /^fpr:+([0-9A-F]{40}):/m.exec(gpg(context, keyring, '--with-colons', '--fingerprint'))![1]!;
const test = suite<Context>("a connected site's Kubernetes packages, through the site's mirror of pkgs.k8s.io");
/** A cluster built and rolled on a whole machine (minutes): the long tier (npm run test:long). */
const packagesTest = longTier(test);

const first = 'v1.30.4';
const patch = 'v1.30.6';
/** Where the mirror keeps pkgs.k8s.io's repository of the 1.30 packages, as the publisher lays it out. */
const repositoryPath = 'pkgs.k8s.io/core:/stable:/v1.30/deb';

/**
 * One package as pkgs.k8s.io publishes it (version `1.30.4-1.1`, the binary in /usr/bin, kubelet's systemd
 * unit and kubeadm's drop-in), holding a FAKE binary.
 */
function kubernetesDeb(scratch: string, name: string, version: string, files: Record<string, string>, depends: string): string {
  const root = path.join(scratch, `${name}-${version}`);
  const debVersion = `${version.replace(/^v/, '')}-1.1`;
  mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), content, { mode: file.includes('/bin/') ? 0o755 : 0o644 });
  }
  writeFileSync(path.join(root, 'DEBIAN', 'control'), `Package: ${name}\nVersion: ${debVersion}\nArchitecture: amd64\nMaintainer: Onboarder tests <tests@openspace.test>\n${depends ? `Depends: ${depends}\n` : ''}Description: FAKE ${name} for tests\n`);
  const deb = path.join(scratch, `${name}_${debVersion}_amd64.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, deb], { stdio: 'ignore' });
  return deb;
}

/** The four packages of one Kubernetes release, and the kubernetes-cni package kubelet depends on. */
function releaseDebs(scratch: string, version: string): string[] {
  const binaries = fakeNodeBinaries(version);
  return [
    kubernetesDeb(scratch, 'kubeadm', version, { '/usr/bin/kubeadm': binaries.kubeadm, '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf': '[Service]\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n' }, 'cri-tools (>= 1.30.0), kubelet, kubectl'),
    kubernetesDeb(scratch, 'kubelet', version, { '/usr/bin/kubelet': binaries.kubelet, '/usr/lib/systemd/system/kubelet.service': '[Service]\nExecStart=/usr/bin/kubelet\n' }, 'kubernetes-cni (>= 1.4.0)'),
    kubernetesDeb(scratch, 'kubectl', version, { '/usr/bin/kubectl': binaries.kubectl }, ''),
  ];
}

/**
 * The mirror's copy of the repository: the packages of `versions`, cri-tools and kubernetes-cni, the index
 * signed into InRelease with `signer`'s key, and Release.key: the key the publisher's is, `published`.
 */
function publishRepository(context: Context, versions: readonly string[], signer: string, published = signer): void {
  const scratch = path.join(context.directory, '.scratch-debs');
  const repository = path.join(context.directory, 'mirror', repositoryPath);
  rmSync(repository, { recursive: true, force: true });
  const binaries = fakeNodeBinaries(first);
  const debs = [
    ...versions.flatMap((version) => releaseDebs(scratch, version)),
    kubernetesDeb(scratch, 'cri-tools', 'v1.30.1', { '/usr/bin/crictl': binaries.crictl }, ''),
    kubernetesDeb(scratch, 'kubernetes-cni', 'v1.4.0', { '/opt/cni/bin/README': 'the CNI plugins\n' }, ''),
  ];
  writeFlatRepository(repository, debs);
  gpg(context, signer, '--batch', '--yes', '--clearsign', '--output', path.join(repository, 'InRelease'), path.join(repository, 'Release'));
  writeFileSync(path.join(repository, 'Release.key'), gpg(context, published, '--armor', '--export'));
}

/** gpg with one of the test's two keyrings: `publisher` (pkgs.k8s.io's key) or `stranger` (anyone else's). */
function gpg(context: Context, keyring: string, ...args: string[]): string {
  const home = path.join(context.directory, `.gnupg-${keyring}`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  return execFileSync('gpg', ['--homedir', home, '--quiet', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** python's http.server over TLS: address, port, directory, certificate and key as its arguments. */
const tlsServer = [
  'import functools, http.server, ssl, sys',
  'address, port, directory, certificate, key = sys.argv[1:]',
  'server = http.server.ThreadingHTTPServer((address, int(port)), functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory))',
  'context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); context.load_cert_chain(certificate, key)',
  'server.socket = context.wrap_socket(server.socket, server_side=True)',
  'server.serve_forever()',
].join('\n');

function environmentFile(context: Context): string {
  const cp = context.rig.hosts[0]!;
  return `import { lab } from './lab.js';
import { defineEnvironment } from './schema.js';

/** osdc on one whole-machine test host, connected through the site's mirror of pkgs.k8s.io. */
export const k8sOnline = defineEnvironment({
  name: 'k8s-online',
  site: { name: 'Kubernetes packages test', domain: 'k8s.openspace.test', kernelWideSettings: 'skip' },
${machineSite}
  clusters: {
${untouchedMcm}
    osdc: { role: 'osdc', distribution: 'kubeadm', controlPlane: [{ name: '${cp.name}', address: '${cp.address}', vmId: 4101 }], apiAddress: '${cp.address.replace(/\.\d+$/, '.250')}', podCidr: '10.46.0.0/16', serviceCidr: '10.47.0.0/16' },
  },
  dns: { server: { name: 'kvm1', address: '10.254.254.1' }, zone: 'k8s.openspace.test', forwarders: ['10.254.254.2'] },
  upstreamMirrors: [
    // The test's publisher key stands for pkgs.k8s.io's: the mirror names it as the key it signs with.
    { prefix: 'https://pkgs.k8s.io/', signingKeys: ['${fingerprint(context, 'publisher')}'], mirror: '${context.mirrorUrl}pkgs.k8s.io/' },
    // The node's Debian sources name Debian's archive: the site's mirror of it is the rig's package mirror.
    { prefix: 'http://deb.debian.org/debian/', mirror: '${context.debianMirror}/' },
  ],
  versions: { ...lab.versions, kubernetes: '${first}' },
});
`;
}

test.before(async (context) => {
  if (!longTierRuns) return;
  Object.assign(context, copyProject());
  context.rig = await TestHostRig.start({
    count: 1,
    names: ['osdc-cp1'],
    directory: path.join(context.directory, '.cache', 'rig'),
    wholeMachines: { packages: ['python3', 'conntrack', 'socat', 'containerd'] },
  });
  const cp = context.rig.hosts[0]!;
  await context.rig.addUser(cp, 'deploy', { sudo: true });
  // The node's sources as an image's are: Debian's archive, which the site reaches through its mirror.
  context.debianMirror = (await context.rig.exec(cp, ['cat', '/etc/apt/sources.list'])).split(' ')[1]!;
  await context.rig.exec(cp, ['sh', '-c', 'echo "deb http://deb.debian.org/debian bookworm main" > /etc/apt/sources.list']);
  // The site's mirror, on the rig's bridge (the hosts reach nothing else).
  const bridge = cp.address.replace(/\.\d+$/, '.1');
  const port = await freePort(bridge);
  mkdirSync(path.join(context.directory, 'mirror'), { recursive: true });
  const mirror = path.join(context.directory, 'mirror');
  mkdirSync(path.join(context.directory, 'mirror-tls'));
  const { cert: certificate, key } = loopbackCertificates(path.join(context.directory, 'mirror-tls'), 'mirror', [bridge]);
  const tlsPort = await freePort(bridge);
  context.servers = [
    spawn('python3', ['-m', 'http.server', '--bind', bridge, '--directory', mirror, String(port)], { stdio: 'ignore' }),
    spawn('python3', ['-c', tlsServer, bridge, String(tlsPort), mirror, certificate, key], { stdio: 'ignore' }),
  ];
  context.mirrorUrl = `http://${bridge}:${port}/`;
  context.tlsMirrorUrl = `https://${bridge}:${tlsPort}/`;
  for (const keyring of ['publisher', 'stranger']) gpg(context, keyring, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-generate-key', `${keyring} <${keyring}@openspace.test>`, 'ed25519', 'sign', 'never');
  publishRepository(context, [first], 'publisher');
  // Cilium's chart (helm is a FAKE: only the path it is given matters) and etcd's release for the roll's snapshot.
  mkdirSync(path.join(context.directory, 'images', 'charts'), { recursive: true });
  writeFileSync(path.join(context.directory, chartFile('cilium', lab.versions.cilium)), 'a chart package\n');
  for (const version of [first, patch]) {
    packEtcdRelease(context.directory, etcdVersion(version)!);
    lockPresentArtifacts(context.directory, { ...lab.versions, kubernetes: version });
  }
  addEnvironment(context.directory, 'k8s-online', 'k8sOnline', environmentFile(context));
  await startEtcd(context.rig, cp, context.directory);
});

test.after(async (context) => {
  if (!longTierRuns) return;
  for (const server of context.servers ?? []) server.kill();
  await context.rig?.stop();
  context.remove();
});

const cli = (context: Context, only: string, args: readonly string[] = []) =>
  runDeploy(context.directory, ['--env', 'k8s-online', '--only', only, ...args], { PATH: `${fakeKubernetes}:${process.env.PATH}`, FAKE_KUBERNETES_LOG: path.join(context.directory, 'fake-kubernetes.log') });
const onNode = (context: Context, argv: readonly string[]) => context.rig.exec(context.rig.hosts[0] as TestHost, argv);
const installed = async (context: Context) => (await onNode(context, ['dpkg-query', '--show', '--showformat=${Package}=${Version} ', 'kubeadm', 'kubelet', 'kubectl', 'cri-tools'])).trim();
const kubeadmUpgrades = async (context: Context) => (await onNode(context, ['cat', '/root/fake-kubeadm/calls.log'])).trim().split('\n').map((line) => (JSON.parse(line) as string[]).join(' ')).filter((argv) => argv.startsWith('kubeadm upgrade'));

packagesTest("installed from the site's mirror with the publisher's key, pinned and held, in place of an air-gapped install's files; a patch release rolls through them; an insecure mirror's certificate is not verified, one the site's CA signed is verified with that CA (for its host alone); a repository signed by another key is refused, and so is another key served as the publisher's", withTimeout(500_000, async (context: Context) => {
  // What an air-gapped install left on the node (a site connected since): binaries in /usr/local/bin, and
  // kubelet's unit and kubeadm's drop-in in /etc starting that kubelet.
  const airGapped = ['/usr/local/bin/kubeadm', '/usr/local/bin/kubelet', '/usr/local/bin/kubectl', '/usr/local/bin/crictl', '/etc/systemd/system/kubelet.service', '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf'];
  await onNode(context, ['sh', '-c', 'mkdir -p /etc/systemd/system/kubelet.service.d && for file in "$@"; do printf \'#!/bin/sh\\necho "Kubernetes v1.29.0 (air-gapped)"\\n\' > "$file"; chmod 755 "$file"; done', 'sh', ...airGapped]);
  const build = await cli(context, 'cluster-vms[cluster=osdc],node-prep[node=osdc-cp1],kubernetes[cluster=osdc]');
  assert.is(build.code, 0, build.stdout + build.stderr);
  // The node's own source through the site's mirror, which the node keeps a note of.
  assert.is(await onNode(context, ['cat', '/etc/apt/sources.list']), `deb ${context.debianMirror} bookworm main\n`);
  assert.match(await onNode(context, ['cat', '/etc/onboarder/apt-mirrors.json']), `{"prefix": "http://deb.debian.org/debian/", "mirror": "${context.debianMirror}/"}`);
  assert.is(await onNode(context, ['sh', '-c', 'ls "$@" 2>/dev/null; for binary in kubelet kubeadm kubectl crictl; do command -v $binary; done', 'sh', ...airGapped]), '/usr/bin/kubelet\n/usr/bin/kubeadm\n/usr/bin/kubectl\n/usr/bin/crictl\n', 'the air-gapped files are gone: the packages are what runs');
  // One repository line, the mirror's, checked with the key fetched from it.
  assert.is(await onNode(context, ['cat', '/etc/apt/sources.list.d/kubernetes.list']), `deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.asc] ${context.mirrorUrl}${repositoryPath}/ /\n`);
  assert.is(await onNode(context, ['cat', '/etc/apt/keyrings/kubernetes-apt-keyring.asc']), gpg(context, 'publisher', '--armor', '--export'));
  assert.is(await installed(context), 'cri-tools=1.30.1-1.1 kubeadm=1.30.4-1.1 kubectl=1.30.4-1.1 kubelet=1.30.4-1.1');
  assert.is((await onNode(context, ['apt-mark', 'showhold'])).trim().split('\n').sort().join(' '), 'cri-tools kubeadm kubectl kubelet');
  assert.match(await onNode(context, ['kubelet', '--version']), `Kubernetes ${first}`);
  assert.match(await onNode(context, ['cat', '/root/fake-kubeadm/calls.log']), '"init"');

  // The patch release is published: the roll installs it over the hold, one node at a time, and holds it again.
  publishRepository(context, [first, patch], 'publisher');
  const file = path.join(context.directory, 'environments', 'k8s-online.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace(`kubernetes: '${first}'`, `kubernetes: '${patch}'`));
  const roll = await cli(context, 'upgrade[cluster=osdc]');
  assert.is(roll.code, 0, roll.stdout + roll.stderr);
  assert.equal(await kubeadmUpgrades(context), [`kubeadm upgrade apply --yes ${patch}`]);
  assert.is(await installed(context), 'cri-tools=1.30.1-1.1 kubeadm=1.30.6-1.1 kubectl=1.30.6-1.1 kubelet=1.30.6-1.1');
  assert.is((await onNode(context, ['apt-mark', 'showhold'])).trim().split('\n').sort().join(' '), 'cri-tools kubeadm kubectl kubelet');
  assert.match(await onNode(context, ['kubelet', '--version']), `Kubernetes ${patch}`);

  // The mirror over TLS with a certificate no one trusts, which the environment says not to verify: apt
  // skips that check for that host alone, and still checks the signatures.
  writeFileSync(file, readFileSync(file, 'utf8').replace(`mirror: '${context.mirrorUrl}pkgs.k8s.io/' }`, `mirror: '${context.tlsMirrorUrl}pkgs.k8s.io/', insecure: true }`));
  const overTls = await cli(context, 'node-prep[node=osdc-cp1],kubernetes[cluster=osdc]', ['--force', 'kubernetes[cluster=osdc]']);
  assert.is(overTls.code, 0, overTls.stdout + overTls.stderr);
  assert.is(await onNode(context, ['cat', '/etc/apt/sources.list.d/kubernetes.list']), `deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.asc] ${context.tlsMirrorUrl}${repositoryPath}/ /\n`);
  const bridge = new URL(context.tlsMirrorUrl).hostname;
  assert.is(await onNode(context, ['cat', '/etc/apt/apt.conf.d/90onboarder-mirrors']), `// Managed by Onboarder: the site's upstreamMirrors.\nAcquire::https::${bridge}::Verify-Peer "false";\nAcquire::https::${bridge}::Verify-Host "false";\n`);
  const verifying = ['-o', `Acquire::https::${bridge}::Verify-Peer=true`, '-o', `Acquire::https::${bridge}::Verify-Host=true`];
  const refreshed = await onNode(context, ['sh', '-c', 'apt-get "$@" 2>&1 || true', 'apt-get', 'update', '-o', 'Dir::Etc::sourcelist=/etc/apt/sources.list.d/kubernetes.list', '-o', 'Dir::Etc::sourceparts=-', '-o', 'APT::Get::List-Cleanup=0', ...verifying]);
  assert.match(refreshed, 'Certificate verification failed', `without the setting, apt refuses the certificate: ${refreshed}`);

  // The environment names the CA that signed the mirror's certificate (caFile, relative to the project):
  // apt verifies that host with it, and the signing key is fetched over verified TLS.
  writeFileSync(file, readFileSync(file, 'utf8').replace('insecure: true }', "caFile: 'mirror-tls/ca.pem' }"));
  const verified = await cli(context, 'node-prep[node=osdc-cp1],kubernetes[cluster=osdc]', ['--force', 'kubernetes[cluster=osdc]']);
  assert.is(verified.code, 0, verified.stdout + verified.stderr);
  assert.is(await onNode(context, ['cat', `/etc/onboarder/mirror-ca/${bridge}.crt`]), readFileSync(path.join(context.directory, 'mirror-tls', 'ca.pem'), 'utf8'));
  assert.is(await onNode(context, ['cat', '/etc/apt/apt.conf.d/90onboarder-mirrors']), `// Managed by Onboarder: the site's upstreamMirrors.\nAcquire::https::${bridge}::CAInfo "/etc/onboarder/mirror-ca/${bridge}.crt";\n`);
  const withCa = await onNode(context, ['sh', '-c', 'apt-get "$@" 2>&1; echo "exit $?"', 'apt-get', 'update', '-o', 'APT::Update::Error-Mode=any', '-o', 'Dir::Etc::sourcelist=/etc/apt/sources.list.d/kubernetes.list', '-o', 'Dir::Etc::sourceparts=-', '-o', 'APT::Get::List-Cleanup=0']);
  assert.match(withCa, /exit 0\n$/, `apt verifies the mirror with the CA: ${withCa}`);
  assert.is(await installed(context), 'cri-tools=1.30.1-1.1 kubeadm=1.30.6-1.1 kubectl=1.30.6-1.1 kubelet=1.30.6-1.1');

  // The mirror's index signed by a key other than the publisher's (a repository someone changed): apt
  // refuses it, and nothing is installed from it.
  publishRepository(context, [first, patch], 'stranger', 'publisher');
  const refused = await cli(context, 'kubernetes[cluster=osdc]', ['--force', 'kubernetes[cluster=osdc]']);
  assert.is(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stdout, `Failed to fetch ${context.tlsMirrorUrl}${repositoryPath}/InRelease  The following signatures couldn't be verified because the public key is not available: NO_PUBKEY`, refused.stdout);
  assert.is(await installed(context), 'cri-tools=1.30.1-1.1 kubeadm=1.30.6-1.1 kubectl=1.30.6-1.1 kubelet=1.30.6-1.1');

  // Whoever changed the repository serves their own key as the publisher's too: apt would take any key
  // signed-by names, so the key is refused before apt is given it, and the node keeps the publisher's.
  publishRepository(context, [first, patch], 'stranger');
  const swapped = await cli(context, 'kubernetes[cluster=osdc]', ['--force', 'kubernetes[cluster=osdc]']);
  assert.is(swapped.code, 1, swapped.stdout + swapped.stderr);
  assert.match(swapped.stdout, `${context.tlsMirrorUrl}${repositoryPath}/Release.key holds the key ${fingerprint(context, 'stranger')}, where the Kubernetes packages are signed by ${fingerprint(context, 'publisher')} only`, swapped.stdout);
  assert.is(await onNode(context, ['cat', '/etc/apt/keyrings/kubernetes-apt-keyring.asc']), gpg(context, 'publisher', '--armor', '--export'));
  assert.is(await installed(context), 'cri-tools=1.30.1-1.1 kubeadm=1.30.6-1.1 kubectl=1.30.6-1.1 kubelet=1.30.6-1.1');
}));

test.run();
