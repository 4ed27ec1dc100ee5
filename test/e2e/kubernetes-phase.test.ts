// The seed's phase 4 (kubeadm init and join, then Cilium) for one cluster, run for real with Ansible over
// SSH to two test hosts in network namespaces, whose kubeadm is a FAKE (test/fixtures/fake-kubernetes: no
// control plane can run here), with FAKE helm and kubectl on the engine's side (no API server either).
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
import YAML from 'yaml';
import * as assert from 'uvu/assert';
import { TestHostRig, type TestHost } from '../../lib/lab/test-hosts.js';
import { repositoryRoot, withTimeout } from '../helpers/project.js';
import { longTier } from '../helpers/tiers.js';
import { apiServerArguments, etcdArguments, metricsArguments } from '../helpers/control-plane-arguments.js';
import { packEtcdRelease, sha256Of, startEtcd, type KubeadmEtcd } from '../helpers/kubeadm-etcd.js';
import { fakeNodeBinaries } from '../helpers/fake-node-binaries.js';
import { machineSite, untouchedMcm } from '../helpers/machine-site.js';
import { installPackage, probePackage, probeVersion, publishPatches, withdrawPatches } from '../helpers/patch-repository.js';
import { addEnvironment, copyProject, lockPresentArtifacts, logsAndRecords, runDeploy } from '../helpers/project-copy.js';
import { lab } from '../../environments/lab.js';
import { chartFile, crictlVersion, etcdVersion } from '../../images/manifest.js';

interface Context {
  directory: string;
  remove: () => void;
  rig: TestHostRig;
  /** etcd on osdc-cp1, as kubeadm's static pod would run it. */
  etcd: KubeadmEtcd;
}
const test = suite<Context>('kubeadm init and join over Ansible against a FAKE kubeadm');
/** The cluster's lifecycle after its first build: the long tier (npm run test:long). */
const lifecycle = longTier(test);

const fakes = path.join(repositoryRoot, 'test', 'fixtures', 'fake-kubernetes');

function host(context: Context, name: string): TestHost {
  return context.rig.hosts.find((candidate) => candidate.name === name)!;
}

async function kubeadmCalls(context: Context, name: string): Promise<string[][]> {
  const text = await context.rig.exec(host(context, name), ['cat', '/root/fake-kubeadm/calls.log']);
  return text.trim().split('\n').map((line) => JSON.parse(line) as string[]);
}

/**
 * images/kubernetes/v1.30.4/ as an air-gapped site holds it: kubeadm and kubectl (the FAKES of
 * test/fixtures/fake-kubernetes), kubelet and crictl (FAKES that record their argv), a crictl tarball, each with its publisher's style of .sha256 (a lone digest for
 * dl.k8s.io's binaries, `digest  name` for the cri-tools tarball). Node preparation installs them.
 */
function packKubernetesRelease(directory: string, version = 'v1.30.4'): void {
  const target = path.join(directory, 'images', 'kubernetes', version);
  mkdirSync(target, { recursive: true });
  const binaries = fakeNodeBinaries(version);
  for (const name of ['kubeadm', 'kubelet', 'kubectl'] as const) writeFileSync(path.join(target, name), binaries[name]);
  mkdirSync(path.join(directory, '.scratch-crictl'), { recursive: true });
  writeFileSync(path.join(directory, '.scratch-crictl', 'crictl'), binaries.crictl, { mode: 0o755 });
  const crictl = `crictl-${crictlVersion(version)}-linux-amd64.tar.gz`;
  execFileSync('tar', ['czf', path.join(target, crictl), '-C', path.join(directory, '.scratch-crictl'), 'crictl']);
  for (const file of ['kubeadm', 'kubelet', 'kubectl']) writeFileSync(path.join(target, `${file}.sha256`), sha256Of(path.join(target, file)));
  writeFileSync(path.join(target, `${crictl}.sha256`), `${sha256Of(path.join(target, crictl))}  ${crictl}\n`);
  // Cilium's chart as bundle:load places it (helm is a FAKE here: only the path it is given matters).
  mkdirSync(path.join(directory, 'images', 'charts'), { recursive: true });
  writeFileSync(path.join(directory, chartFile('cilium', lab.versions.cilium)), 'a chart package\n');
  packEtcdRelease(directory, etcdVersion(version)!);
  lockPresentArtifacts(directory, { ...lab.versions, kubernetes: version });
}
const vipOf = (rig: TestHostRig) => rig.hosts[0]!.address.replace(/\.\d+$/, '.250');

function environmentFile(rig: TestHostRig): string {
  const [cp, worker] = rig.hosts as [TestHost, TestHost, TestHost];
  return `import { lab } from './lab.js';
import { defineEnvironment } from './schema.js';

/** osdc on two test hosts whose kubeadm is a FAKE; the other clusters' nodes are never contacted. */
export const k8sLab = defineEnvironment({
  name: 'k8s-lab',
  site: { name: 'Kubernetes phase test', domain: 'k8s.openspace.test', kernelWideSettings: 'skip', airGapped: true, ntpServers: ['10.254.254.1', 'ntp.k8s.openspace.test'] },
${machineSite}
  clusters: {
${untouchedMcm}
    osms: { role: 'osms', distribution: 'kubeadm', controlPlane: [{ name: 'osms-cp1', address: '10.254.254.31', vmId: 3101 }], apiAddress: '10.254.254.31', podCidr: '10.44.0.0/16', serviceCidr: '10.45.0.0/16' },
    osdc: {
      role: 'osdc',
      distribution: 'kubeadm',
      controlPlane: [{ name: '${cp.name}', address: '${cp.address}', vmId: 4101 }],
      workers: [{ name: '${worker.name}', address: '${worker.address}', vmId: 4111 }],
      apiAddress: '${vipOf(rig)}',
      podCidr: '10.46.0.0/16',
      serviceCidr: '10.47.0.0/16',
    },
  },
  dns: { server: { name: 'kvm1', address: '10.254.254.1' }, zone: 'k8s.openspace.test' },
  registryMirrors: [{ registry: 'registry.k8s.io', mirror: 'https://registry.k8s.openspace.test:5000' }],
  // The site registry (never reached here: the steps run with --only): its CA goes to every node, and it
  // mirrors each registry the manifest's images come from.
  siteRegistry: { address: 'registry.k8s.openspace.test:5000', caFile: 'site-registry-ca.pem', username: 'onboarder', password: { file: 'site-registry-password' } },
  // The bundled lab's component versions, every chart pinned.
  versions: lab.versions,
});
`;
}

/** The site registry's password: on the nodes in containerd's configuration, and nowhere in what Onboarder shows. */
const siteRegistryPassword = 'site-registry-pw-7Hq2x';

test.before(async (context) => {
  Object.assign(context, copyProject());
  // osdc-w2 is a spare: the scale-out test adds it to the cluster.
  // Whole machines: node preparation installs the node packages (containerd among them) from the rig's mirror.
  context.rig = await TestHostRig.start({
    count: 3,
    names: ['osdc-cp1', 'osdc-w1', 'osdc-w2'],
    directory: path.join(context.directory, '.cache', 'rig'),
    wholeMachines: { packages: ['python3', 'conntrack', 'socat', 'containerd'] },
  });
  for (const each of context.rig.hosts) await context.rig.addUser(each, 'deploy', { sudo: true });
  packKubernetesRelease(context.directory);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(context.directory, 'site-registry-ca.key'), '-out', path.join(context.directory, 'site-registry-ca.pem'), '-days', '2', '-subj', '/CN=site registry CA'], { stdio: 'ignore' });
  writeFileSync(path.join(context.directory, 'site-registry-password'), `${siteRegistryPassword}\n`, { mode: 0o600 });
  addEnvironment(context.directory, 'k8s-lab', 'k8sLab', environmentFile(context.rig));
  // etcd runs from the start: the upgrade step snapshots it before it rolls a node.
  context.etcd = await startEtcd(context.rig, host(context, 'osdc-cp1'), context.directory);
});

test.after(async (context) => {
  await context.rig?.stop();
  context.remove();
});

const localLog = (context: Context) => path.join(context.directory, 'fake-kubernetes.log');
/** The osdc cluster's own steps, from node preparation to the joins (the rest of the site is not here). */
const clusterSteps = (workers: readonly string[]) =>
  ['cluster-vms[cluster=osdc]', ...['osdc-cp1', ...workers].map((node) => `node-prep[node=${node}]`), 'kubernetes[cluster=osdc]', ...workers.map((node) => `node-join[node=${node}]`)].join(',');
const cli = (context: Context, args: readonly string[], only = clusterSteps(['osdc-w1'])) =>
  runDeploy(context.directory, ['--env', 'k8s-lab', '--only', only, ...args], { PATH: `${fakes}:${process.env.PATH}`, FAKE_KUBERNETES_LOG: localLog(context) });

test('init on the first control-plane node (one that failed part way taken up again), the worker joins, Cilium is installed; the join secrets are never shown', withTimeout(400_000, async (context: Context) => {
  // The first init fails in its wait for the control plane (an image pull slower than it), after writing
  // admin.conf and the control plane's manifests: the next run takes it up again instead of taking the
  // cluster for made.
  const cp = host(context, 'osdc-cp1');
  await context.rig.exec(cp, ['sh', '-c', 'mkdir -p /root/fake-kubeadm && touch /root/fake-kubeadm/fail-init']);
  // A mirror and its CA for a registry the site mirrored once and no longer does: containerd would go on using it.
  await context.rig.exec(cp, ['sh', '-c', 'mkdir -p /etc/containerd/certs.d/old-registry.example /etc/onboarder/registry-ca && echo "server = \"https://old-registry.example\"" > /etc/containerd/certs.d/old-registry.example/hosts.toml && touch /etc/onboarder/registry-ca/old-mirror.example.crt']);
  // The worker's VM lost power part way through a package install (dpkg's journal holds it): apt refuses
  // every install until `dpkg --configure -a`, which node preparation runs first.
  const worker = host(context, 'osdc-w1');
  await context.rig.exec(worker, ['touch', '/var/lib/dpkg/updates/0000']);
  assert.match(await context.rig.exec(worker, ['sh', '-c', 'apt-get install --yes --reinstall dash 2>&1 || true']), "dpkg was interrupted, you must manually run 'dpkg --configure -a'");
  const failed = await cli(context, []);
  assert.is(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stdout, 'error execution phase wait-control-plane');
  assert.match(failed.stdout, '[node-prep[node=osdc-w1]] done');
  assert.is(await context.rig.exec(worker, ['ls', '-A', '/var/lib/dpkg/updates']), '', "the interrupted install was finished");
  assert.match(await context.rig.exec(worker, ['dpkg-query', '--show', '--showformat=${Status}', 'conntrack']), 'install ok installed');
  await context.rig.exec(cp, ['rm', '/root/fake-kubeadm/fail-init']);
  const run = await cli(context, []);
  assert.is(run.code, 0, run.stdout + run.stderr);
  const onControlPlane = await kubeadmCalls(context, 'osdc-cp1');
  // The control plane: init (again), then the join command and certificates for other control-plane nodes;
  // then the worker's own join (node-join) asks for its token.
  assert.equal(onControlPlane.map((argv) => argv.slice(0, 3).join(' ')), ['kubeadm init --config', 'kubeadm init --config', 'kubeadm token create', 'kubeadm init phase', 'kubeadm token create']);
  // The first init is checked in full; the second tolerates what the first left, and nothing else.
  assert.not.ok(onControlPlane[0]!.some((argument) => argument.startsWith('--ignore-preflight-errors')), onControlPlane[0]!.join(' '));
  assert.is(onControlPlane[1]!.at(-1), '--ignore-preflight-errors=FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml,FileAvailable--etc-kubernetes-manifests-kube-controller-manager.yaml,FileAvailable--etc-kubernetes-manifests-kube-scheduler.yaml,FileAvailable--etc-kubernetes-manifests-etcd.yaml,Port-6443,Port-10257,Port-10259,Port-10250,Port-2379,Port-2380,DirAvailable--var-lib-etcd');
  await context.rig.exec(cp, ['sh', '-c', '! test -e /etc/kubernetes/onboarder-init-unfinished']);
  const token = onControlPlane[4]![3]!;
  const certificateKey = onControlPlane[3]![onControlPlane[3]!.indexOf('--certificate-key') + 1]!;
  assert.match(token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  assert.match(certificateKey, /^[0-9a-f]{64}$/);
  const onWorker = await kubeadmCalls(context, 'osdc-w1');
  assert.equal(onWorker.map((argv) => argv.slice(0, 2).join(' ')), ['kubeadm join']);
  assert.ok(onWorker[0]!.includes(token), 'the worker joins with the token the engine made');
  // The admin kubeconfig came back to the engine (0600 is Ansible's fetch; the directory is private).
  const kubeconfig = readFileSync(path.join(context.directory, '.cache', 'state', 'k8s-lab', 'kubeconfig', 'osdc.yaml'), 'utf8');
  assert.match(kubeconfig, `server: https://${vipOf(context.rig)}:6443\n`);
  // The binaries node preparation installed from images/ (checked on the node), and what init was given.
  assert.match(await context.rig.exec(cp, ['ls', '/usr/local/bin']), /crictl\nkubeadm\nkubectl\nkubelet/);
  const kubeadmConfig = await context.rig.exec(cp, ['cat', '/etc/kubernetes/onboarder-kubeadm.yaml']);
  assert.match(kubeadmConfig, `controlPlaneEndpoint: ${vipOf(context.rig)}:6443`);
  assert.match(kubeadmConfig, 'imageRepository: registry.k8s.openspace.test:5000');
  assert.match(kubeadmConfig, 'cgroupDriver: systemd');
  assert.match(kubeadmConfig, `advertiseAddress: ${cp.address}`);
  // The clock follows the site's time servers (air-gapped: the distribution's are out of reach), no fallback.
  assert.is(await context.rig.exec(cp, ['cat', '/etc/systemd/timesyncd.conf.d/onboarder.conf']), "# Managed by Onboarder: the site's time servers (site.ntpServers), and no fallback outside the site.\n[Time]\nNTP=10.254.254.1 ntp.k8s.openspace.test\nFallbackNTP=\n");
  // Each kubelet registers the node's address in the environment (a VM may have several networks).
  // and reads the cluster's kubelet settings (kubespray's reservations, graceful shutdown and kernel protection) from its drop-in directory.
  for (const node of [cp, host(context, 'osdc-w1')]) {
    assert.match(await context.rig.exec(node, ['cat', '/etc/default/kubelet']), `KUBELET_EXTRA_ARGS=--node-ip=${node.address} --config-dir=/etc/kubernetes/kubelet.conf.d\n`);
    const settings = YAML.parse(await context.rig.exec(node, ['cat', '/etc/kubernetes/kubelet.conf.d/50-onboarder.conf']));
    assert.equal(settings, { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', kubeReserved: { cpu: '100m', memory: '256Mi', 'ephemeral-storage': '500Mi', pid: '1000' }, systemReserved: { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '500Mi', pid: '1000' }, shutdownGracePeriod: '60s', shutdownGracePeriodCriticalPods: '20s', protectKernelDefaults: true });
  }
  // Each kubelet asks the cluster's CA for its serving certificate: the cluster's kubelet configuration says
  // so from init, and the worker (whose FAKE join wrote one without it) has it written in.
  assert.match(kubeadmConfig, 'kind: KubeletConfiguration\ncgroupDriver: systemd\nserverTLSBootstrap: true\n');
  for (const node of [cp, host(context, 'osdc-w1')]) assert.match(await context.rig.exec(node, ['cat', '/var/lib/kubelet/config.yaml']), /^serverTLSBootstrap: true$/m);
  // containerd pulls through the site registry, verified with its CA: the mirror the environment names for
  // registry.k8s.io, and the site registry for every other registry the manifest's images come from.
  assert.is(await context.rig.exec(cp, ['ls', '/etc/containerd/certs.d', '/etc/onboarder/registry-ca']), '/etc/containerd/certs.d:\ndocker.io\nghcr.io\nquay.io\nregistry.k8s.io\n\n/etc/onboarder/registry-ca:\nregistry.k8s.openspace.test_5000.crt\n', 'the registry the site no longer mirrors, and its CA, are gone');
  const siteCa = '/etc/onboarder/registry-ca/registry.k8s.openspace.test_5000.crt';
  assert.is(await context.rig.exec(cp, ['cat', siteCa]), readFileSync(path.join(context.directory, 'site-registry-ca.pem'), 'utf8'));
  for (const registry of ['registry.k8s.io', 'quay.io', 'ghcr.io', 'docker.io']) {
    const hosts = await context.rig.exec(cp, ['cat', `/etc/containerd/certs.d/${registry}/hosts.toml`]);
    assert.match(hosts, `[host."https://registry.k8s.openspace.test:5000"]`);
    assert.match(hosts, `ca = "${siteCa}"`);
  }
  // containerd logs in to the site registry (kubespray's containerd_registry_auth): config.toml is root's alone.
  const containerdConfig = await context.rig.exec(cp, ['cat', '/etc/containerd/config.toml']);
  assert.match(containerdConfig, '[plugins."io.containerd.grpc.v1.cri".registry.configs."registry.k8s.openspace.test:5000".auth]');
  assert.match(containerdConfig, `password = "${siteRegistryPassword}"`);
  assert.is((await context.rig.exec(cp, ['stat', '-c', '%a', '/etc/containerd/config.toml'])).trim(), '600');
  // The sandbox image is kubeadm's pause image of the cluster's version, from the site's mirror.
  assert.match(containerdConfig, 'sandbox_image = "registry.k8s.openspace.test:5000/pause:3.9"');
  const kubeVip = await context.rig.exec(cp, ['cat', '/etc/kubernetes/manifests/kube-vip.yaml']);
  assert.match(kubeVip, `{name: address, value: "${vipOf(context.rig)}"}`);
  assert.match(kubeVip, 'path: "/etc/kubernetes/admin.conf"');
  const local = readFileSync(localLog(context), 'utf8');
  assert.match(local, /^helm upgrade --install cilium .*images\/charts\/cilium-1\.16\.1\.tgz .*--version 1\.16\.1 --wait/m);
  assert.match(local, /^kubectl .*rollout status daemonset\/cilium/m);
  // The API server's own arguments from the start: Secrets encrypted at rest and an audit log, the files
  // they name mounted into its pod.
  const clusterConfiguration = YAML.parseAllDocuments(kubeadmConfig).map((document) => document.toJS()).find((document) => document.kind === 'ClusterConfiguration');
  assert.equal(clusterConfiguration.apiServer.extraArgs, apiServerArguments);
  assert.equal(clusterConfiguration.apiServer.extraVolumes.map((volume: { hostPath: string }) => volume.hostPath), ['/etc/kubernetes/audit', '/var/log/kubernetes/audit']);
  assert.equal([clusterConfiguration.controllerManager.extraArgs, clusterConfiguration.scheduler.extraArgs], [metricsArguments, metricsArguments]);
  assert.equal(clusterConfiguration.etcd.local.extraArgs, etcdArguments);
  await assertApiServerArguments(context, 'osdc-cp1');
  assert.is(await context.rig.exec(cp, ['cat', '/etc/kubernetes/audit/policy.yaml']), readFileSync(path.join(repositoryRoot, 'tasks/kubernetes/playbooks/files/audit-policy.yaml'), 'utf8'));
  assert.is((await context.rig.exec(cp, ['stat', '-c', '%a', '/var/log/kubernetes/audit'])).trim(), '700');
  // The secrets-encryption configuration names the cluster's key (secretbox first, so that the API server
  // writes encrypted), root's alone, and nothing shows the key.
  const encryption = await encryptionConfiguration(context);
  assert.equal(Object.keys(encryption.providers[0]!), ['secretbox']);
  assert.equal(encryption.providers[1], { identity: {} });
  assert.is(Buffer.from(encryption.key, 'base64').length, 32);
  assert.is((await context.rig.exec(cp, ['stat', '-c', '%a', '/etc/kubernetes/pki/secrets-encryption.yaml'])).trim(), '600');
  assert.match(run.stdout, 'every Secret in etcd is encrypted');
  for (const secret of [token, certificateKey, siteRegistryPassword, encryption.key]) assert.not.match(run.stdout + run.stderr + logsAndRecords(context.directory, 'k8s-lab'), secret);
}));

/** A control-plane node's API server, controller manager and scheduler run with them (their static pods' manifests say so). */
async function assertApiServerArguments(context: Context, node: string): Promise<void> {
  for (const [component, expected] of [['kube-apiserver', apiServerArguments], ['kube-controller-manager', metricsArguments], ['kube-scheduler', metricsArguments]] as const) {
    const manifest = await context.rig.exec(host(context, node), ['cat', `/etc/kubernetes/manifests/${component}.yaml`]);
    for (const [name, value] of Object.entries(expected)) assert.match(manifest, `- --${name}=${value}\n`);
  }
}

/** osdc-cp1's secrets-encryption configuration: its providers in order, its secretbox keys, and the first one's secret. */
async function encryptionConfiguration(context: Context): Promise<{ providers: Record<string, unknown>[]; keys: { name: string; secret: string }[]; key: string }> {
  const text = await context.rig.exec(host(context, 'osdc-cp1'), ['cat', '/etc/kubernetes/pki/secrets-encryption.yaml']);
  const providers = (YAML.parse(text) as { resources: { providers: Record<string, unknown>[] }[] }).resources[0]!.providers;
  const secretbox = providers.find((provider) => 'secretbox' in provider) as { secretbox: { keys: { name: string; secret: string }[] } };
  return { providers, keys: secretbox.secretbox.keys, key: secretbox.secretbox.keys[0]!.secret };
}

lifecycle("a cluster made without the API server's arguments (Secrets encrypted, the audit log): its configuration takes them, its API server reads then writes with the key, the Secrets in plain text are written again; then nothing to do", withTimeout(300_000, async (context: Context) => {
  const cp = host(context, 'osdc-cp1');
  const { key } = await encryptionConfiguration(context);
  // The cluster as an earlier Onboarder left it: no argument of its own in its configuration (the
  // kubeadm-config ConfigMap) or its control plane's manifests, no key in its pki, and two Secrets in plain text
  // in etcd (as an API server that stores JSON writes them).
  const kept = context.rig.pathIn(cp, '/root/fake-kubeadm/cluster-configuration.yaml');
  const configured = readFileSync(kept, 'utf8');
  assert.match(configured, /  extraArgs:\n(    .*\n)+  extraVolumes: .*\n/);
  writeFileSync(kept, configured.replace(/ +extraArgs:\n( {4,}.*\n)+/g, '').replace(/  extraVolumes: .*\n/, ''));
  for (const component of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
    const file = context.rig.pathIn(cp, `/etc/kubernetes/manifests/${component}.yaml`);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/ *- --\S+\n/g, ''));
  }
  rmSync(context.rig.pathIn(cp, '/etc/kubernetes/pki/secrets-encryption.yaml'));
  rmSync(context.rig.pathIn(cp, '/etc/kubernetes/onboarder-apiserver-files.sha256'));
  rmSync(context.rig.pathIn(cp, '/etc/kubernetes/onboarder-apiserver-keys'));
  // ...and kubelets that sign their own serving certificates (nothing in the cluster's kubelet-config, nor in
  // the node's).
  const keptKubelet = context.rig.pathIn(cp, '/root/fake-kubeadm/kubelet-configuration.yaml');
  const nodeKubelet = context.rig.pathIn(cp, '/var/lib/kubelet/config.yaml');
  for (const file of [keptKubelet, nodeKubelet]) writeFileSync(file, readFileSync(file, 'utf8').replace('serverTLSBootstrap: true\n', ''));
  await context.etcd.etcdctl('put', '/registry/secrets/default/db-password', '{"kind":"Secret","apiVersion":"v1","data":{"password":"cGxhaW4="}}');
  await context.etcd.etcdctl('put', '/registry/secrets/kube-system/bootstrap-token-abcdef', '{"kind":"Secret","apiVersion":"v1","data":{"password":"cGxhaW4="}}');
  const calls = (await kubeadmCalls(context, 'osdc-cp1')).length;
  const run = await cli(context, ['--force', 'kubernetes[cluster=osdc]'], 'kubernetes[cluster=osdc]');
  assert.is(run.code, 0, run.stdout + run.stderr);
  // The ClusterConfiguration carries the arguments and volumes (for joins and upgrades), kubeadm wrote the
  // API server's manifest again.
  const reconfigured = YAML.parse(readFileSync(kept, 'utf8')) as { apiServer: { extraArgs: Record<string, string>; extraVolumes: { name: string }[]; certSANs: string[] }; controllerManager: { extraArgs: Record<string, string> }; scheduler: { extraArgs: Record<string, string> }; etcd: { local: { extraArgs: Record<string, string> } } };
  assert.equal(reconfigured.apiServer.extraArgs, apiServerArguments);
  assert.equal([reconfigured.controllerManager.extraArgs, reconfigured.scheduler.extraArgs], [metricsArguments, metricsArguments]);
  assert.equal(reconfigured.etcd.local.extraArgs, etcdArguments, 'for the next upgrade, which writes etcd again');
  assert.equal(reconfigured.apiServer.extraVolumes.map((volume) => volume.name), ['onboarder-audit-policy', 'onboarder-audit-log']);
  assert.ok(reconfigured.apiServer.certSANs.length > 0, 'the rest of the configuration is kept');
  // The cluster's kubelet-config asks for serving certificates from its CA (for nodes that join or upgrade),
  // and so does the node's kubelet, the rest kept.
  assert.equal(YAML.parse(readFileSync(keptKubelet, 'utf8')), { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'systemd', serverTLSBootstrap: true });
  assert.match(readFileSync(nodeKubelet, 'utf8'), /^cgroupDriver: systemd\nserverTLSBootstrap: true\n$/m);
  const rolled = (await kubeadmCalls(context, 'osdc-cp1')).slice(calls);
  assert.equal(rolled.map((argv) => argv.slice(1, 3).join(' ')), ['token create', 'init phase', 'upgrade node']);
  assert.equal(rolled[2], ['kubeadm', 'upgrade', 'node', 'phase', 'control-plane', '--certificate-renewal=false', '--etcd-upgrade=false']);
  await assertApiServerArguments(context, 'osdc-cp1');
  // A new key, written first once the API server read it, then restarted on it.
  const encryption = await encryptionConfiguration(context);
  assert.is.not(encryption.key, key);
  assert.equal(Object.keys(encryption.providers[0]!), ['secretbox']);
  const crictl = await context.rig.exec(cp, ['cat', '/root/fake-kubeadm/crictl.log']);
  assert.match(crictl, 'crictl stopp fake-apiserver-pod\ncrictl rmp fake-apiserver-pod');
  // The two Secrets were written again through the API, and etcd holds them encrypted.
  assert.match(run.stdout, '2 Secrets were in plain text or under an older key in etcd: written again, encrypted with key1 now');
  for (const name of ['default/db-password', 'kube-system/bootstrap-token-abcdef']) {
    assert.match(await context.etcd.etcdctl('get', `/registry/secrets/${name}`, '--print-value-only'), /^k8s:enc:secretbox:v1:key1:/);
  }
  assert.not.match(run.stdout + run.stderr + logsAndRecords(context.directory, 'k8s-lab'), encryption.key);
  // Again: nothing to roll, nothing to write.
  const before = (await kubeadmCalls(context, 'osdc-cp1')).length;
  const again = await cli(context, ['--force', 'kubernetes[cluster=osdc]'], 'kubernetes[cluster=osdc]');
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.not.ok((await kubeadmCalls(context, 'osdc-cp1')).slice(before).some((argv) => argv[1] === 'upgrade'));
  assert.is(await context.rig.exec(cp, ['cat', '/root/fake-kubeadm/crictl.log']), crictl);
  assert.match(again.stdout, 'every Secret in etcd is encrypted');
  assert.is((await encryptionConfiguration(context)).key, encryption.key);
  // A configuration damaged on the node: refused, naming the file and the node, its content never shown.
  const configuration = context.rig.pathIn(cp, '/etc/kubernetes/pki/secrets-encryption.yaml');
  const whole = readFileSync(configuration, 'utf8');
  writeFileSync(configuration, `kind: EncryptionConfiguration\nresources: damaged-${encryption.key}\n`);
  const damaged = await cli(context, ['--force', 'kubernetes[cluster=osdc]'], 'kubernetes[cluster=osdc]');
  writeFileSync(configuration, whole);
  assert.is(damaged.code, 1, damaged.stdout + damaged.stderr);
  assert.match(damaged.stdout, '/etc/kubernetes/pki/secrets-encryption.yaml on osdc-cp1 is not a secretbox EncryptionConfiguration: restore it from another control-plane node or from the pki.tar.gz');
  assert.not.match(damaged.stdout + damaged.stderr + logsAndRecords(context.directory, 'k8s-lab'), encryption.key);
  // Whole again: the step runs again (its failed run dropped its stamp).
  const mended = await cli(context, [], 'kubernetes[cluster=osdc]');
  assert.is(mended.code, 0, mended.stdout + mended.stderr);
}));

lifecycle("secrets-key-rotation: a new key is read by every API server, then written with, then every Secret is written again under it; older keys stay readers; a rotation stopped part way goes on with its key", withTimeout(300_000, async (context: Context) => {
  const cp = host(context, 'osdc-cp1');
  const before = await encryptionConfiguration(context);
  assert.equal(before.keys.map((key) => key.name), ['key1']);
  const restarts = async () => (await context.rig.exec(cp, ['cat', '/root/fake-kubeadm/crictl.log'])).split('\n').filter((line) => line.startsWith('crictl stopp')).length;
  const restartsBefore = await restarts();
  const only = 'secrets-key-rotation[cluster=osdc]';
  const run = await cli(context, [], only);
  assert.is(run.code, 0, run.stdout + run.stderr);
  // key2 first, key1 kept as a reader (an older snapshot's Secrets are under it), both 32 bytes.
  const rotated = await encryptionConfiguration(context);
  assert.equal(rotated.keys.map((key) => key.name), ['key2', 'key1']);
  assert.is(rotated.keys[1]!.secret, before.key);
  assert.is(Buffer.from(rotated.key, 'base64').length, 32);
  assert.is.not(rotated.key, before.key);
  // The API server restarted twice: to read key2, then to write with it.
  assert.is(await restarts(), restartsBefore + 2);
  for (const name of ['default/db-password', 'kube-system/bootstrap-token-abcdef']) {
    assert.match(await context.etcd.etcdctl('get', `/registry/secrets/${name}`, '--print-value-only'), /^k8s:enc:secretbox:v1:key2:/);
  }
  assert.match(run.stdout, '2 Secrets were in plain text or under an older key in etcd: written again, encrypted with key2 now');
  assert.not.match(run.stdout + run.stderr + logsAndRecords(context.directory, 'k8s-lab'), rotated.key);
  // The cluster's own steps keep both keys, restart nothing and find every Secret under key2.
  const kept = await cli(context, ['--force', 'kubernetes[cluster=osdc]'], 'kubernetes[cluster=osdc]');
  assert.is(kept.code, 0, kept.stdout + kept.stderr);
  assert.equal((await encryptionConfiguration(context)).keys, rotated.keys);
  assert.is(await restarts(), restartsBefore + 2);
  assert.match(kept.stdout, 'every Secret in etcd is encrypted with key2');
  // A rotation stopped after it added key3 (a reader its API server has not restarted on): the next one goes
  // on with key3 instead of adding a fourth.
  const key3 = randomBytes(32).toString('base64');
  const file = context.rig.pathIn(cp, '/etc/kubernetes/pki/secrets-encryption.yaml');
  const configuration = YAML.parse(readFileSync(file, 'utf8')) as { resources: { providers: { secretbox?: { keys: { name: string; secret: string }[] } }[] }[] };
  configuration.resources[0]!.providers[0]!.secretbox!.keys.push({ name: 'key3', secret: key3 });
  writeFileSync(file, YAML.stringify(configuration));
  const resumed = await cli(context, [], only);
  assert.is(resumed.code, 0, resumed.stdout + resumed.stderr);
  const finished = await encryptionConfiguration(context);
  assert.equal(finished.keys.map((key) => key.name), ['key3', 'key2', 'key1']);
  assert.is(finished.key, key3);
  assert.match(await context.etcd.etcdctl('get', '/registry/secrets/default/db-password', '--print-value-only'), /^k8s:enc:secretbox:v1:key3:/);
  // Two secrets under one key's name (nodes that disagree, or a file edited by hand): refused, naming the
  // key and the nodes, no secret shown; the file as it was, the next run goes on.
  const whole = readFileSync(file, 'utf8');
  const other = randomBytes(32).toString('base64');
  const clashing = YAML.parse(whole) as typeof configuration;
  clashing.resources[0]!.providers[0]!.secretbox!.keys.push({ name: 'key2', secret: other });
  writeFileSync(file, YAML.stringify(clashing));
  const refused = await cli(context, ['--force', 'kubernetes[cluster=osdc]'], 'kubernetes[cluster=osdc]');
  writeFileSync(file, whole);
  assert.is(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stdout, 'the control-plane nodes of cluster osdc hold different secrets-encryption keys under the name key2 (osdc-cp1)');
  for (const secret of [other, key3]) assert.not.match(refused.stdout + refused.stderr + logsAndRecords(context.directory, 'k8s-lab'), secret);
  const mended = await cli(context, [], 'kubernetes[cluster=osdc]');
  assert.is(mended.code, 0, mended.stdout + mended.stderr);
}));

lifecycle('scale out: a worker added is prepared and joins alone; the other nodes are not touched, the charts not re-installed', withTimeout(300_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const spare = host(context, 'osdc-w2');
  const charts = await cli(context, [], 'kubelet-csr-approver[cluster=osdc],platform-services[cluster=osdc]');
  assert.is(charts.code, 0, charts.stdout + charts.stderr);
  // The cluster's roll has run (nothing to roll).
  const rolled = await cli(context, [], 'upgrade[cluster=osdc]');
  assert.is(rolled.code, 0, rolled.stdout + rolled.stderr);
  const before = { cp: (await kubeadmCalls(context, 'osdc-cp1')).length, w1: (await kubeadmCalls(context, 'osdc-w1')).length };
  writeFileSync(file, readFileSync(file, 'utf8').replace("vmId: 4111 }],", `vmId: 4111 }, { name: 'osdc-w2', address: '${spare.address}', vmId: 4112 }],`));
  const steps = `${clusterSteps(['osdc-w1', 'osdc-w2'])},upgrade[cluster=osdc]`;
  const plan = await cli(context, ['--dry-run'], steps);
  assert.is(plan.code, 0, plan.stdout + plan.stderr);
  // The plan says so: the new node's two steps run, every other node's are up to date, and the roll (which
  // the new worker's join follows) does not run again: a worker added changes no node's version.
  assert.match(plan.stdout, /plan for k8s-lab: 3 of \d+ tasks would run/, plan.stdout);
  assert.match(plan.stdout, /cluster-vms\[cluster=osdc\]\s+run\s+config clusters\.osdc\.workers changed: 1 -> 2 entries \(adds osdc-w2\)/);
  assert.match(plan.stdout, /node-prep\[node=osdc-w2\]\s+run\s+no stamp\n[\s\S]*node-join\[node=osdc-w1\]\s+skip\s+up to date\n[\s\S]*node-join\[node=osdc-w2\]\s+run\s+no stamp/);
  assert.match(plan.stdout, /kubernetes\[cluster=osdc\]\s+skip\s+up to date/);
  assert.match(plan.stdout, /upgrade\[cluster=osdc\]\s+skip\s+up to date/);
  const run = await cli(context, [], steps);
  assert.is(run.code, 0, run.stdout + run.stderr);
  const ran = [...run.stdout.matchAll(/^\[(.+?)\] run: /gm)].map((match) => match[1]).sort();
  assert.equal(ran, ['cluster-vms[cluster=osdc]', 'node-join[node=osdc-w2]', 'node-prep[node=osdc-w2]'], run.stdout);
  // The new worker ran preparation (its sysctl file) and kubeadm join; the old worker nothing; the first
  // control-plane node only made the new worker's token.
  assert.match(await context.rig.exec(spare, ['cat', '/etc/sysctl.d/90-openspace-k8s.conf']), 'net.ipv4.ip_forward=1');
  assert.equal((await kubeadmCalls(context, 'osdc-w2')).map((argv) => argv.slice(0, 2).join(' ')), ['kubeadm join']);
  assert.is((await kubeadmCalls(context, 'osdc-w1')).length, before.w1);
  assert.equal((await kubeadmCalls(context, 'osdc-cp1')).slice(before.cp).map((argv) => argv.slice(0, 3).join(' ')), ['kubeadm token create']);
  // Platform services run after every worker joined, but a worker added does not make them stale; the
  // serving-certificate approver, whose values name each node's address, runs again for it.
  const after = await cli(context, ['--dry-run'], 'kubelet-csr-approver[cluster=osdc],platform-services[cluster=osdc]');
  assert.match(after.stdout, /plan for k8s-lab: 1 of \d+ tasks would run/, after.stdout);
  assert.match(after.stdout, /kubelet-csr-approver\[cluster=osdc\]\s+run\s+config clusters\.osdc\.workers/);
  assert.match(after.stdout, /platform-services\[cluster=osdc\]\s+skip\s+up to date/);
}));

lifecycle('scale in: a worker taken out is drained and deleted from its cluster after confirmation; its steps are forgotten', withTimeout(300_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const spare = host(context, 'osdc-w2');
  writeFileSync(file, readFileSync(file, 'utf8').replace(`, { name: 'osdc-w2', address: '${spare.address}', vmId: 4112 }`, ''));
  // What the cluster's API lists: the worker is still in it.
  writeFileSync(`${localLog(context)}.nodes`, nodeList([listedNode('osdc-cp1', host(context, 'osdc-cp1').address, { controlPlane: true }), listedNode('osdc-w1', host(context, 'osdc-w1').address), listedNode('osdc-w2', spare.address)]));
  writeFileSync(localLog(context), '');
  const plan = await cli(context, ['--dry-run']);
  assert.is(plan.code, 0, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /cluster-vms\[cluster=osdc\]\s+run\s+config clusters\.osdc\.workers changed: 2 -> 1 entries \(removes osdc-w2\)/, plan.stdout);
  assert.match(plan.stdout, 'this run would destroy: cluster-vms[cluster=osdc] removes osdc-w2 (a run asks first, unless --yes)');
  // No terminal, no --yes: refused before anything runs, state untouched.
  const stateText = () => ['state.json', 'state.journal'].map((name) => path.join(context.directory, '.cache', 'state', 'k8s-lab', name)).map((file) => (existsSync(file) ? readFileSync(file, 'utf8') : '')).join('\n');
  const before = stateText();
  const refused = await cli(context, []);
  assert.equal({ code: refused.code, stderr: refused.stderr.trim() }, { code: 2, stderr: 'error: this run destroys or replaces what is deployed (cluster-vms[cluster=osdc] removes osdc-w2): it needs confirmation: answer y, or pass --yes' });
  assert.is(stateText(), before);
  assert.is(readFileSync(localLog(context), 'utf8'), '', 'nothing ran');

  // Its last join was cut short before its kubelet's TLS bootstrap finished (the kubelet on its bootstrap
  // kubeconfig, the join's mark): not a member, but reset all the same, and no mark outlives the reset.
  await context.rig.exec(spare, ['sh', '-c', 'mv /etc/kubernetes/kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf && touch /etc/kubernetes/onboarder-join-unfinished']);
  const removed = await cli(context, ['--yes']);
  assert.is(removed.code, 0, removed.stdout + removed.stderr);
  const calls = readFileSync(localLog(context), 'utf8').split('\n').filter((line) => line.startsWith('kubectl ') && !line.includes(' version'));
  const kubeconfig = `--kubeconfig=${path.join(context.directory, '.cache', 'state', 'k8s-lab', 'kubeconfig', 'osdc.yaml')}`;
  assert.equal(calls, [
    `kubectl ${kubeconfig} get nodes -o json`,
    `kubectl ${kubeconfig} drain osdc-w2 --ignore-daemonsets --delete-emptydir-data --force --grace-period=300 --timeout=360s`,
    `kubectl ${kubeconfig} delete node osdc-w2 --ignore-not-found`,
    // After the reset, once more: its kubelet may have registered it again in between.
    `kubectl ${kubeconfig} delete node osdc-w2 --ignore-not-found`,
  ]);
  // The machine was reset, so that its kubelet does not register it again (kubespray's reset).
  assert.equal((await kubeadmCalls(context, 'osdc-w2')).at(-1), ['kubeadm', 'reset', '--force']);
  for (const file of ['kubelet.conf', 'bootstrap-kubelet.conf', 'onboarder-join-unfinished']) assert.not.ok(existsSync(context.rig.pathIn(spare, `/etc/kubernetes/${file}`)), `the reset removed ${file}`);
  // The removed node's steps are retired with it: nothing orphaned, nothing left to re-run.
  const status = await runDeploy(context.directory, ['--env', 'k8s-lab', '--status']);
  assert.not.match(status.stdout, 'osdc-w2', status.stdout);
}));

lifecycle('a control-plane node replaced: the new one, listed first, joins through the node in the cluster; the one taken out leaves etcd and is reset; one that does not answer is deleted and named', withTimeout(300_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const original = readFileSync(file, 'utf8');
  const [cp, spare] = [host(context, 'osdc-cp1'), host(context, 'osdc-w2')];
  const cpEntry = `{ name: 'osdc-cp1', address: '${cp.address}', vmId: 4101 }`;
  assert.match(original, cpEntry);
  // The new control-plane node is put at the head of the list, where the node it replaces was.
  writeFileSync(file, original.replace(`controlPlane: [${cpEntry}]`, `controlPlane: [{ name: 'osdc-w2', address: '${spare.address}', vmId: 4102 }, ${cpEntry}]`));
  // The cluster's kubeadm-config ConfigMap, which a node that joins reads (the FAKE kubeadm keeps it per node).
  mkdirSync(context.rig.pathIn(spare, '/root/fake-kubeadm'), { recursive: true });
  writeFileSync(context.rig.pathIn(spare, '/root/fake-kubeadm/cluster-configuration.yaml'), readFileSync(context.rig.pathIn(cp, '/root/fake-kubeadm/cluster-configuration.yaml')));
  // Its first join is cut short part way (its etcd member slow to start), after kubeadm wrote its kubelet and
  // admin kubeconfigs and its control plane: it is not in the cluster for that, and the next run joins it
  // again through osdc-cp1, tolerating what the first attempt left.
  writeFileSync(context.rig.pathIn(spare, '/root/fake-kubeadm/fail-join-late'), '');
  const steps = 'cluster-vms[cluster=osdc],node-prep[node=osdc-w2],kubernetes[cluster=osdc]';
  const cut = await cli(context, [], steps);
  assert.is(cut.code, 1, cut.stdout + cut.stderr);
  assert.match(cut.stdout, 'error execution phase control-plane-join/etcd');
  rmSync(context.rig.pathIn(spare, '/root/fake-kubeadm/fail-join-late'));
  const before = (await kubeadmCalls(context, 'osdc-cp1')).length;
  const added = await cli(context, [], steps);
  assert.is(added.code, 0, added.stdout + added.stderr);
  assert.match(added.stdout, 'osdc-w2 is not in cluster osdc yet: osdc-cp1, which is, acts for its control plane and the others join through it');
  // No second cluster: the new node joins as a control-plane node with the token and certificate key made
  // on the node in the cluster, which inits nothing.
  const joined = (await kubeadmCalls(context, 'osdc-w2')).at(-1)!;
  assert.equal(joined.slice(0, 2), ['kubeadm', 'join']);
  assert.ok(joined.includes('--control-plane'), joined.join(' '));
  assert.match(joined.at(-1)!, /^--ignore-preflight-errors=FileAvailable--etc-kubernetes-kubelet\.conf,FileAvailable--etc-kubernetes-bootstrap-kubelet\.conf,FileAvailable--etc-kubernetes-manifests-kube-apiserver\.yaml,/);
  assert.not.ok(existsSync(context.rig.pathIn(spare, '/etc/kubernetes/onboarder-join-unfinished')), 'the join finished');
  assert.equal((await kubeadmCalls(context, 'osdc-cp1')).slice(before).map((argv) => argv.slice(0, 3).join(' ')), ['kubeadm token create', 'kubeadm init phase']);
  assert.ok(existsSync(context.rig.pathIn(spare, '/etc/kubernetes/admin.conf')));
  // It joined with the cluster's secrets-encryption key (before its API server started) and its arguments.
  assert.is(readFileSync(context.rig.pathIn(spare, '/etc/kubernetes/pki/secrets-encryption.yaml'), 'utf8'), readFileSync(context.rig.pathIn(cp, '/etc/kubernetes/pki/secrets-encryption.yaml'), 'utf8'));
  await assertApiServerArguments(context, 'osdc-w2');

  // Its etcd member, as the join adds one (a learner here: the real etcd of osdc-cp1 keeps its quorum).
  await context.etcd.etcdctl('member', 'add', 'osdc-w2', '--learner', `--peer-urls=https://${spare.address}:2380`);
  assert.match(await context.etcd.etcdctl('member', 'list'), `https://${spare.address}:2380`);
  // Taken out again, with a node that no longer answers (NotReady, nothing at its address).
  writeFileSync(file, original);
  const gone = spare.address.replace(/\.\d+$/, '.249');
  writeFileSync(`${localLog(context)}.nodes`, nodeList([listedNode('osdc-cp1', cp.address, { controlPlane: true }), listedNode('osdc-w1', host(context, 'osdc-w1').address), listedNode('osdc-w2', spare.address, { controlPlane: true }), listedNode('osdc-gone', gone, { ready: false })]));
  writeFileSync(localLog(context), '');
  const removed = await cli(context, ['--yes'], 'cluster-vms[cluster=osdc]');
  assert.is(removed.code, 0, removed.stdout + removed.stderr);
  // The control-plane node: drained, out of etcd (on the node in the cluster, with the release's etcdctl), deleted, reset.
  assert.not.match(await context.etcd.etcdctl('member', 'list'), `https://${spare.address}:2380`);
  assert.match(removed.stdout, 'removed the etcd member of osdc-w2');
  assert.equal((await kubeadmCalls(context, 'osdc-w2')).at(-1), ['kubeadm', 'reset', '--force']);
  assert.not.ok(existsSync(context.rig.pathIn(spare, '/etc/kubernetes/admin.conf')));
  const kubeconfig = `--kubeconfig=${path.join(context.directory, '.cache', 'state', 'k8s-lab', 'kubeconfig', 'osdc.yaml')}`;
  const calls = readFileSync(localLog(context), 'utf8').split('\n').filter((line) => line.startsWith('kubectl ') && !line.includes(' version'));
  assert.equal(calls, [
    `kubectl ${kubeconfig} get nodes -o json`,
    `kubectl ${kubeconfig} drain osdc-w2 --ignore-daemonsets --delete-emptydir-data --force --grace-period=300 --timeout=360s`,
    `kubectl ${kubeconfig} delete node osdc-w2 --ignore-not-found`,
    `kubectl ${kubeconfig} delete node osdc-w2 --ignore-not-found`,
    // The node that does not answer: not drained (no kubelet to evict its pods), deleted, and named.
    `kubectl ${kubeconfig} delete node osdc-gone --ignore-not-found`,
  ]);
  assert.match(removed.stdout, 'osdc-gone is not Ready: not drained');
  assert.match(removed.stdout, new RegExp(`osdc-gone was not reset \\(no answer over SSH at ${gone.replace(/\./g, '\\.')}: [^)]*\\): should the machine come back, run kubeadm reset --force on it before it does`));
  // The etcd of the cluster is whole: one member, healthy.
  await context.etcd.healthy();
  rmSync(`${localLog(context)}.nodes`);
}));

lifecycle('node labels and taints: set through the API as declared, the taints also where the kubelet registers the node; one taken out is removed (and no other); a label changed re-runs this step alone', withTimeout(300_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const original = readFileSync(file, 'utf8');
  const [cp, worker] = [host(context, 'osdc-cp1'), host(context, 'osdc-w1')];
  const declare = (pool: string, taints: string) => writeFileSync(file, original.replace('vmId: 4111 }', `vmId: 4111, labels: { 'node-role.kubernetes.io/ingress': '', 'openspace.io/pool': '${pool}' }, taints: [${taints}] }`));
  const only = 'node-labels[cluster=osdc]';
  // The cluster's steps up to date first (the tests before changed its control plane).
  writeFileSync(`${localLog(context)}.nodes`, nodeList([listedNode('osdc-cp1', cp.address, { controlPlane: true }), listedNode('osdc-w1', worker.address)]));
  const settled = await cli(context, [], `${clusterSteps(['osdc-w1'])},${only}`);
  assert.is(settled.code, 0, settled.stdout + settled.stderr);
  declare('data', "{ key: 'openspace.io/dedicated', value: 'data', effect: 'NoSchedule' }");
  // What the API lists: the worker cordoned by someone (a taint Onboarder did not set).
  const unschedulable = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };
  const listed = (taints: object[], annotations: Record<string, string> = {}) =>
    nodeList([listedNode('osdc-cp1', cp.address, { controlPlane: true }), { ...(listedNode('osdc-w1', worker.address) as { metadata: object }), metadata: { name: 'osdc-w1', annotations }, spec: { taints } }]);
  writeFileSync(`${localLog(context)}.nodes`, listed([unschedulable]));
  writeFileSync(localLog(context), '');
  rmSync(`${localLog(context)}.applied`, { force: true });
  const run = await cli(context, [], `node-join[node=osdc-w1],${only}`);
  assert.is(run.code, 0, run.stdout + run.stderr);
  // The kubelet registers the node with its taints (should it register again), the API gets them now.
  assert.is(await context.rig.exec(worker, ['cat', '/etc/default/kubelet']), `# Managed by Onboarder: the kubelet's address, the taints it registers this node with, and its settings' directory.\nKUBELET_EXTRA_ARGS=--node-ip=${worker.address} --register-with-taints=openspace.io/dedicated=data:NoSchedule --config-dir=/etc/kubernetes/kubelet.conf.d\n`);
  const kubectlCalls = () => readFileSync(localLog(context), 'utf8').split('\n').filter((line) => line.startsWith('kubectl ') && !line.includes(' version')).map((line) => line.replace(/^kubectl --kubeconfig=\S+ /, '').replace(/ -f \S+$/, ' -f FILE'));
  assert.equal(kubectlCalls(), [
    'get nodes -o json',
    'taint node osdc-w1 openspace.io/dedicated=data:NoSchedule --overwrite',
    'apply --server-side --field-manager=onboarder-node-labels --force-conflicts -f FILE',
  ]);
  const applied = JSON.parse(readFileSync(`${localLog(context)}.applied`, 'utf8')) as { items: { kind: string; metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> } }[] };
  assert.equal(applied.items.map((item) => [item.kind, item.metadata.name, item.metadata.labels]), [
    ['Node', 'osdc-cp1', {}],
    ['Node', 'osdc-w1', { 'node-role.kubernetes.io/ingress': '', 'openspace.io/pool': 'data' }],
  ]);
  const managed = applied.items[1]!.metadata.annotations['openspace.io/onboarder-taints']!;
  assert.equal(JSON.parse(managed), [{ key: 'openspace.io/dedicated', value: 'data', effect: 'NoSchedule' }]);

  // The pool changed: only this step would run, none of the node's other steps.
  const steps = `cluster-vms[cluster=osdc],node-prep[node=osdc-w1],kubernetes[cluster=osdc],node-join[node=osdc-w1],${only}`;
  declare('gpu', "{ key: 'openspace.io/dedicated', value: 'data', effect: 'NoSchedule' }");
  const plan = await cli(context, ['--dry-run'], steps);
  assert.is(plan.code, 0, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /plan for k8s-lab: 1 of \d+ tasks would run/, plan.stdout);
  assert.match(plan.stdout, /node-labels\[cluster=osdc\]\s+run\s+config clusters\.osdc\.workers\[0\]\.labels\.openspace\.io\/pool changed: "data" -> "gpu"/);
  // The taint taken out too: the node's join as well (the taints it registers with), nothing else.
  declare('gpu', '');
  const untainted = await cli(context, ['--dry-run'], steps);
  assert.match(untainted.stdout, /plan for k8s-lab: 2 of \d+ tasks would run/, untainted.stdout);
  assert.match(untainted.stdout, /node-join\[node=osdc-w1\]\s+run\s+config clusters\.osdc\.workers\[0\]\.taints changed/);
  // The API shows the taint Onboarder set (its annotation says so) beside the cordon's: only Onboarder's goes.
  writeFileSync(`${localLog(context)}.nodes`, listed([unschedulable, { key: 'openspace.io/dedicated', value: 'data', effect: 'NoSchedule' }], { 'openspace.io/onboarder-taints': managed }));
  writeFileSync(localLog(context), '');
  rmSync(`${localLog(context)}.applied`, { force: true });
  const changed = await cli(context, [], `node-join[node=osdc-w1],${only}`);
  assert.is(changed.code, 0, changed.stdout + changed.stderr);
  assert.not.match(changed.stdout, 'restart of the kubelet', 'a taint changed waits for the next registration: the kubelet is not restarted');
  assert.is(await context.rig.exec(worker, ['cat', '/etc/default/kubelet']), `# Managed by Onboarder: the kubelet's address, the taints it registers this node with, and its settings' directory.\nKUBELET_EXTRA_ARGS=--node-ip=${worker.address} --config-dir=/etc/kubernetes/kubelet.conf.d\n`);
  assert.equal(kubectlCalls(), ['get nodes -o json', 'taint node osdc-w1 openspace.io/dedicated:NoSchedule-', 'apply --server-side --field-manager=onboarder-node-labels --force-conflicts -f FILE']);
  const again = JSON.parse(readFileSync(`${localLog(context)}.applied`, 'utf8')) as typeof applied;
  assert.equal(again.items[1]!.metadata.labels, { 'node-role.kubernetes.io/ingress': '', 'openspace.io/pool': 'gpu' });
  assert.equal(JSON.parse(again.items[1]!.metadata.annotations['openspace.io/onboarder-taints']!), []);
  // A node the API does not list has not joined: one line says so.
  writeFileSync(`${localLog(context)}.nodes`, nodeList([listedNode('osdc-cp1', cp.address, { controlPlane: true })]));
  const missing = await cli(context, ['--force', only], only);
  assert.is(missing.code, 1, missing.stdout + missing.stderr);
  assert.match(missing.stdout, "node osdc-w1 is not in the API of cluster osdc: it has not joined (run 'node-join[node=osdc-w1]')");
  // A cluster without workers: kubeadm's taint comes off its control plane, or no platform service would
  // find a node to run on.
  const workerless = original.replace(/\n +workers: \[.*\],\n/, '\n');
  assert.not.match(workerless, 'osdc-w1');
  writeFileSync(file, workerless);
  writeFileSync(localLog(context), '');
  const alone = await cli(context, ['--force', only], only);
  assert.is(alone.code, 0, alone.stdout + alone.stderr);
  assert.equal(kubectlCalls(), ['get nodes -o json', 'taint node osdc-cp1 node-role.kubernetes.io/control-plane:NoSchedule-', 'apply --server-side --field-manager=onboarder-node-labels --force-conflicts -f FILE']);
  writeFileSync(file, original);
  rmSync(`${localLog(context)}.nodes`);
}));

lifecycle("the cluster's kubelet settings changed: its control plane's step and its workers' joins run again, rewrite the kubelet's drop-in on every node and restart the kubelets (here: no systemd, said so); nothing else runs", withTimeout(400_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const original = readFileSync(file, 'utf8');
  const steps = clusterSteps(['osdc-w1']);
  const settled = await cli(context, [], steps);
  assert.is(settled.code, 0, settled.stdout + settled.stderr);
  writeFileSync(file, original.replace("      serviceCidr: '10.47.0.0/16',\n    },", "      serviceCidr: '10.47.0.0/16',\n      kubelet: { shutdownGracePeriod: '2m', systemReserved: { memory: '1Gi' } },\n    },"));
  const plan = await cli(context, ['--dry-run'], steps);
  assert.match(plan.stdout, /plan for k8s-lab: 2 of \d+ tasks would run/, plan.stdout);
  assert.match(plan.stdout, /kubernetes\[cluster=osdc\]\s+run\s+config clusters\.osdc\.kubelet/, plan.stdout);
  assert.match(plan.stdout, /node-join\[node=osdc-w1\]\s+run\s+[^\n]*config clusters\.osdc\.kubelet/, plan.stdout);
  // A default the cluster no longer has (it names its own systemReserved) is said so.
  assert.match(plan.stdout, 'config clusters.osdc.kubelet.systemReserved.cpu changed: "500m" -> not set', plan.stdout);
  const run = await cli(context, [], steps);
  assert.is(run.code, 0, run.stdout + run.stderr);
  for (const node of ['osdc-cp1', 'osdc-w1']) {
    const settings = YAML.parse(await context.rig.exec(host(context, node), ['cat', '/etc/kubernetes/kubelet.conf.d/50-onboarder.conf']));
    assert.equal([settings.shutdownGracePeriod, settings.shutdownGracePeriodCriticalPods, settings.systemReserved, settings.kubeReserved.memory], ['2m', '20s', { memory: '1Gi' }, '256Mi']);
  }
  assert.is(run.stdout.split('skipped: restart of the kubelet on its new settings (no systemd)').length - 1, 2, run.stdout);
  // Run again: nothing to do.
  const again = await cli(context, ['--dry-run', '--detailed-exitcode'], steps);
  assert.is(again.code, 0, again.stdout + again.stderr);
  writeFileSync(file, original);
  const restored = await cli(context, [], steps);
  assert.is(restored.code, 0, restored.stdout + restored.stderr);
}));

lifecycle("a failed join is reported with Ansible's message, and the command line it quotes has the token redacted; one cut short part way is taken up again by the next run, what it left tolerated", withTimeout(400_000, async (context: Context) => {
  const worker = host(context, 'osdc-w1');
  await context.rig.exec(worker, ['sh', '-c', 'rm /etc/kubernetes/kubelet.conf && touch /root/fake-kubeadm/fail-join']);
  const run = await cli(context, ['--force', 'node-join[node=osdc-w1]']);
  assert.is(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, "couldn't validate the identity of the API Server");
  // Ansible's failure quotes the module's command line ("cmd"): the token is there, redacted.
  assert.match(run.stdout, /fatal: \[osdc-w1\]: FAILED! => [^\n]*"cmd": \["kubeadm", "join", [^\n]*"--token", "\*\*\*"/, 'the quoted command line shows where the token was');
  const calls = await kubeadmCalls(context, 'osdc-cp1');
  const token = calls.filter((argv) => argv[1] === 'token').at(-1)![3]!;
  const certificateKey = calls.filter((argv) => argv[2] === 'phase').at(-1)!.at(-1)!;
  for (const secret of [token, certificateKey]) assert.not.match(run.stdout + run.stderr + logsAndRecords(context.directory, 'k8s-lab'), secret);

  // Cut short after its kubelet started on the bootstrap kubeconfig (a TLS bootstrap that timed out): kubeadm's
  // preflight would refuse what it left, and the next run joins again, tolerating those leftovers only.
  await context.rig.exec(worker, ['sh', '-c', 'rm /root/fake-kubeadm/fail-join && touch /root/fake-kubeadm/fail-join-late']);
  const cut = await cli(context, ['--force', 'node-join[node=osdc-w1]']);
  assert.is(cut.code, 1, cut.stdout + cut.stderr);
  assert.match(cut.stdout, 'error execution phase kubelet-start');
  await context.rig.exec(worker, ['sh', '-c', 'rm /root/fake-kubeadm/fail-join-late && test -e /etc/kubernetes/bootstrap-kubelet.conf']);
  const resumed = await cli(context, ['--force', 'node-join[node=osdc-w1]']);
  assert.is(resumed.code, 0, resumed.stdout + resumed.stderr);
  const joins = (await kubeadmCalls(context, 'osdc-w1')).filter((argv) => argv[1] === 'join');
  assert.match(joins.at(-1)!.join(' '), / --ignore-preflight-errors=FileAvailable--etc-kubernetes-kubelet\.conf,FileAvailable--etc-kubernetes-bootstrap-kubelet\.conf,FileAvailable--etc-kubernetes-pki-ca\.crt,Port-10250$/);
  await context.rig.exec(worker, ['sh', '-c', 'test -e /etc/kubernetes/kubelet.conf && ! test -e /etc/kubernetes/onboarder-join-unfinished']);
  // A node that joined is not joined again.
  const again = await cli(context, ['--force', 'node-join[node=osdc-w1]']);
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.is((await kubeadmCalls(context, 'osdc-w1')).filter((argv) => argv[1] === 'join').length, joins.length);
}));

lifecycle("registration: the downstream cluster's kubeconfig is applied to MCM as a Secret, server-side, and never shown", withTimeout(120_000, async (context: Context) => {
  writeFileSync(localLog(context), '');
  rmSync(`${localLog(context)}.applied`, { force: true });
  const kubeconfigs = path.join(context.directory, '.cache', 'state', 'k8s-lab', 'kubeconfig');
  const run = await cli(context, [], 'registration[cluster=osdc]');
  assert.is(run.code, 0, run.stdout + run.stderr);
  const applies = readFileSync(localLog(context), 'utf8').split('\n').filter((line) => line.startsWith('kubectl ') && line.includes(' apply '));
  assert.is(applies.length, 1, applies.join('\n'));
  assert.match(applies[0]!, `--kubeconfig=${path.join(kubeconfigs, 'mcm.yaml')}`);
  assert.match(applies[0]!, 'apply --server-side --field-manager=onboarder -f ');
  const applied = JSON.parse(readFileSync(`${localLog(context)}.applied`, 'utf8')) as { items: { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; stringData?: { kubeconfig: string } }[] };
  assert.equal(applied.items.map((item) => `${item.kind}/${item.metadata.name}`), ['Namespace/openspace-clusters', 'Secret/osdc-kubeconfig']);
  const secret = applied.items[1]!;
  assert.is(secret.metadata.labels?.['openspace.io/role'], 'data-plane');
  const kubeconfig = readFileSync(path.join(kubeconfigs, 'osdc.yaml'), 'utf8');
  assert.is(secret.stringData?.kubeconfig, kubeconfig);
  assert.not.match(run.stdout + run.stderr, kubeconfig.trim().split('\n').find((line) => line.length >= 8)!, 'the kubeconfig is a secret: never shown');
}));

lifecycle("dns-autoscaler: CoreDNS scaled with the cluster as kubespray does it, its parameters in the ConfigMap the autoscaler reads; dnsAutoscaler false removes it; then nothing to do", withTimeout(180_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const original = readFileSync(file, 'utf8');
  const only = 'dns-autoscaler[cluster=osdc]';
  const kubectlCalls = () => readFileSync(localLog(context), 'utf8').split('\n').filter((line) => line.startsWith('kubectl ') && !line.includes(' version')).map((line) => line.replace(/^kubectl --kubeconfig=\S+ /, '').replace(/ -f \S+$/, ' -f FILE'));
  writeFileSync(localLog(context), '');
  rmSync(`${localLog(context)}.applied`, { force: true });
  const run = await cli(context, [], only);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.equal(kubectlCalls(), ['apply --server-side --field-manager=onboarder-dns-autoscaler --force-conflicts -f FILE', '--namespace=kube-system rollout status deployment/dns-autoscaler --timeout=5m']);
  const applied = JSON.parse(readFileSync(`${localLog(context)}.applied`, 'utf8')) as { items: { kind: string; metadata: { name: string }; data?: { linear: string } }[] };
  assert.equal(applied.items.map((item) => `${item.kind}/${item.metadata.name}`), ['ServiceAccount/dns-autoscaler', 'ClusterRole/system:dns-autoscaler', 'ClusterRoleBinding/system:dns-autoscaler', 'ConfigMap/dns-autoscaler', 'Deployment/dns-autoscaler']);
  // Two nodes: at least two replicas, never both on one node.
  assert.equal(JSON.parse(applied.items[3]!.data!.linear), { coresPerReplica: 256, nodesPerReplica: 16, min: 2, preventSinglePointFailure: true });

  // Turned off: the plan says why, the run deletes its objects (the Deployment first), and then nothing runs.
  writeFileSync(file, original.replace("      serviceCidr: '10.47.0.0/16',\n", "      serviceCidr: '10.47.0.0/16',\n      dnsAutoscaler: false,\n"));
  try {
    // Only the step that reads the setting runs: the cluster's other steps read other settings of it.
    const plan = await cli(context, ['--dry-run'], `${clusterSteps(['osdc-w1'])},${only}`);
    assert.match(plan.stdout, /plan for k8s-lab: 1 of \d+ tasks would run/, plan.stdout);
    assert.match(plan.stdout, /dns-autoscaler\[cluster=osdc\]\s+run\s+config clusters\.osdc\.dnsAutoscaler changed: not set -> false/, plan.stdout);
    writeFileSync(localLog(context), '');
    const off = await cli(context, [], only);
    assert.is(off.code, 0, off.stdout + off.stderr);
    assert.equal(kubectlCalls(), [
      '--namespace=kube-system delete deployment dns-autoscaler --ignore-not-found',
      '--namespace=kube-system delete configmap dns-autoscaler --ignore-not-found',
      'delete clusterrolebinding system:dns-autoscaler --ignore-not-found',
      'delete clusterrole system:dns-autoscaler --ignore-not-found',
      '--namespace=kube-system delete serviceaccount dns-autoscaler --ignore-not-found',
    ]);
    assert.match(off.stdout, 'dns-autoscaler: removed (clusters.osdc.dnsAutoscaler is false): CoreDNS keeps the replicas it has');
    writeFileSync(localLog(context), '');
    const again = await cli(context, [], only);
    assert.is(again.code, 0, again.stdout + again.stderr);
    assert.equal(kubectlCalls(), []);
  } finally {
    writeFileSync(file, original);
  }
}));

lifecycle('platform services: one Helm release each, every chart at the version the environment pins; Velero once the environment names its S3 store, its credentials never shown; the site CA\'s issuer once it names one', withTimeout(120_000, async (context: Context) => {
  // The nodes as Proxmox VMs (three Proxmox nodes; VM 4101 on pve1, 4111 on pve2), with the storage
  // driver's token as proxmox-csi-token keeps it (that step is the foundation suite's, on a FAKE Proxmox).
  const environmentFile = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const environment = readFileSync(environmentFile, 'utf8');
  const proxmox = "proxmox: { apiUrl: 'https://pve.k8s.openspace.test:8006/api2/json', tokenId: 'packer@pve!onboarder', token: { file: 'site-registry-password' }, nodes: [{ name: 'pve1', address: '10.254.253.1' }, { name: 'pve2', address: '10.254.253.2' }, { name: 'pve3', address: '10.254.253.3' }], storage: { pool: 'rbd-vms', type: 'rbd', isoStorage: 'rbd-iso' }, templates: {} },";
  // The network the VMs would be on (one wide enough for the rig's addresses and the fixed ones).
  const network = "networks: [{ name: 'clusters', vlan: 20, cidr: '10.0.0.0/8', gateway: '10.254.254.1' }],";
  const onProxmox = environment.replace("infrastructure: 'existing',", `infrastructure: 'proxmox',\n  ${network}\n  ${proxmox}`);
  assert.match(onProxmox, "infrastructure: 'proxmox'");
  writeFileSync(environmentFile, onProxmox);
  const csiToken = 'csi-token-7c1e0b52';
  writeFileSync(path.join(context.directory, '.cache', 'state', 'k8s-lab', 'proxmox-csi-token.json'), JSON.stringify({ tokenId: 'kubernetes-csi@pve!csi', token: csiToken }), { mode: 0o600 });
  writeFileSync(localLog(context), '');
  const upgradesIn = () => readFileSync(localLog(context), 'utf8').split('\n').filter((line) => line.startsWith('helm upgrade --install'));
  const pinnedIn = (upgrades: string[]) => upgrades.map((line) => /^helm upgrade --install (\S+) .*--version (\S+)/.exec(line)?.slice(1).join('@'));
  const only = 'platform-services[cluster=osdc]';
  // Without an S3 store, Velero would have nowhere to write: it is not installed, and the log says why.
  const without = await cli(context, ['--force', only], only);
  assert.is(without.code, 0, without.stdout + without.stderr);
  assert.equal(pinnedIn(upgradesIn()), ['metrics-server@3.12.2', 'ingress-nginx@4.11.2', 'kube-prometheus-stack@62.3.1', 'cert-manager@v1.15.3', 'proxmox-csi-plugin@0.2.8']);
  assert.match(without.stdout, 'velero: not installed: the environment names no S3 store for its backups');
  // metrics-server verifies the kubelets (no insecure flag): their serving certificates are approved by
  // kubelet-csr-approver, its own step, for each node's own name and address.
  assert.not.match(readFileSync(`${localLog(context)}.values.metrics-server`, 'utf8'), 'insecure');
  const approving = await cli(context, ['--force', 'kubelet-csr-approver[cluster=osdc]'], 'kubelet-csr-approver[cluster=osdc]');
  assert.is(approving.code, 0, approving.stdout + approving.stderr);
  assert.match(readFileSync(localLog(context), 'utf8'), /^helm upgrade --install kubelet-csr-approver \S+kubelet-csr-approver-1\.1\.0\.tgz .*--namespace=kube-system .*--version 1\.1\.0 --wait --atomic/m);
  const approver = YAML.parse(readFileSync(`${localLog(context)}.values.kubelet-csr-approver`, 'utf8')) as Record<string, any>;
  assert.equal(approver.providerIpPrefixes, context.rig.hosts.slice(0, 2).map((each) => `${each.address}/32`));
  assert.equal([approver.allowedDnsNames, approver.bypassDnsResolution], [1, true]);
  // Proxmox CSI: each node labelled with the region and the Proxmox node its VM runs on, then the driver
  // with the site's API, its own token and the default StorageClass on the site's pool.
  const labels = readFileSync(localLog(context), 'utf8').split('\n').filter((line) => / label node /.test(line)).map((line) => line.replace(/^kubectl --kubeconfig=\S+ /, ''));
  assert.equal(labels, ['label node osdc-cp1 topology.kubernetes.io/region=k8s-lab topology.kubernetes.io/zone=pve1 --overwrite', 'label node osdc-w1 topology.kubernetes.io/region=k8s-lab topology.kubernetes.io/zone=pve2 --overwrite']);
  const csi = YAML.parse(readFileSync(`${localLog(context)}.values.proxmox-csi-plugin`, 'utf8')) as Record<string, any>;
  assert.equal(csi.config.clusters, [{ url: 'https://pve.k8s.openspace.test:8006/api2/json', insecure: false, token_id: 'kubernetes-csi@pve!csi', token_secret: csiToken, region: 'k8s-lab' }]);
  assert.equal(csi.storageClass, [{ name: 'proxmox-data', storage: 'rbd-vms', reclaimPolicy: 'Delete', fstype: 'ext4', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }]);
  assert.not.match(without.stdout + without.stderr + logsAndRecords(context.directory, 'k8s-lab'), csiToken);
  // ingress-nginx on the nodes' ports 80 and 443 (no load balancer here would give a LoadBalancer Service an
  // address, and helm --wait would wait for one until it failed).
  const ingress = YAML.parse(readFileSync(`${localLog(context)}.values.ingress-nginx`, 'utf8')) as Record<string, any>;
  assert.equal([ingress.controller.kind, ingress.controller.hostPort, ingress.controller.service.type], ['DaemonSet', { enabled: true, ports: { http: 80, https: 443 } }, 'ClusterIP']);
  // kube-prometheus-stack scrapes the control plane where it answers (no false alarm that it is down).
  const monitoring = YAML.parse(readFileSync(`${localLog(context)}.values.kube-prometheus-stack`, 'utf8')) as Record<string, any>;
  assert.equal([monitoring.kubeControllerManager.service.port, monitoring.kubeScheduler.service.port, monitoring.kubeEtcd.service.port, monitoring.kubeProxy.enabled], [10257, 10259, 2381, false]);

  // The site's MinIO named (its CA the site's): the step runs again for that change, and installs Velero too.
  const veleroSecret = 'velero-secret-key-Pq7Zx2';
  writeFileSync(path.join(context.directory, 'velero-access-key'), 'velero-key-id-3Jd8\n', { mode: 0o600 });
  writeFileSync(path.join(context.directory, 'velero-secret-key'), `${veleroSecret}\n`, { mode: 0o600 });
  const store = "velero: { s3Url: 'https://minio.k8s.openspace.test:9000', bucket: 'openspace-backups', accessKeyId: { file: 'velero-access-key' }, secretAccessKey: { file: 'velero-secret-key' }, caFile: 'site-registry-ca.pem' },";
  writeFileSync(environmentFile, onProxmox.replace('\n  dns: {', `\n  ${store}\n  dns: {`));
  writeFileSync(localLog(context), '');
  rmSync(`${localLog(context)}.applied`, { force: true });
  // Velero's chart has CRDs in its crds/ directory (what `helm show crds` prints): applied before each upgrade.
  const veleroCrd = 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: backups.velero.io\n';
  writeFileSync(`${localLog(context)}.crds.velero-7.2.1.tgz`, `---\n${veleroCrd}`);
  const run = await cli(context, [], only);
  writeFileSync(environmentFile, environment);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, `[${only}] run: config velero changed`);
  const upgrades = upgradesIn();
  assert.equal(pinnedIn(upgrades), ['metrics-server@3.12.2', 'ingress-nginx@4.11.2', 'kube-prometheus-stack@62.3.1', 'cert-manager@v1.15.3', 'proxmox-csi-plugin@0.2.8', 'velero@7.2.1']);
  const velero = YAML.parse(readFileSync(`${localLog(context)}.values.velero`, 'utf8')) as Record<string, any>;
  assert.equal(velero.configuration.backupStorageLocation, [
    {
      name: 'default',
      provider: 'aws',
      bucket: 'openspace-backups',
      prefix: 'osdc',
      default: true,
      caCert: readFileSync(path.join(context.directory, 'site-registry-ca.pem')).toString('base64'),
      config: { region: 'minio', s3ForcePathStyle: 'true', s3Url: 'https://minio.k8s.openspace.test:9000' },
    },
  ]);
  assert.is(velero.credentials.secretContents.cloud, `[default]\naws_access_key_id=velero-key-id-3Jd8\naws_secret_access_key=${veleroSecret}\n`);
  assert.equal(velero.schedules.onboarder, { disabled: false, schedule: '0 3 * * *', useOwnerReferencesInBackup: false, template: { ttl: '720h', includedNamespaces: ['*'], defaultVolumesToFsBackup: true } });
  // No volume snapshots here: the volumes' data goes by file-system backup, read by a node agent on every node.
  assert.equal([velero.snapshotsEnabled, velero.deployNodeAgent, velero.nodeAgent, velero.configuration.defaultVolumesToFsBackup, velero.configuration.uploaderType], [false, true, { tolerations: [{ operator: 'Exists' }] }, true, 'kopia']);
  assert.is(velero.initContainers[0].image, 'velero/velero-plugin-for-aws:v1.10.1');
  // The chart's CRDs are applied server-side before its upgrade (helm would leave the first install's), so
  // its own upgrade job, with an image Bitnami no longer publishes, is off; a chart without CRDs applies none.
  assert.is(velero.upgradeCRDs, false);
  const veleroCalls = readFileSync(localLog(context), 'utf8').split('\n');
  const crdsApplied = veleroCalls.findIndex((line) => /^kubectl --kubeconfig=\S+ apply --server-side --field-manager=onboarder --force-conflicts -f \S+crds\.yaml$/.test(line));
  assert.ok(crdsApplied > veleroCalls.findIndex((line) => /^helm show crds \S+velero-7\.2\.1\.tgz --version 7\.2\.1$/.test(line)), veleroCalls.join('\n'));
  assert.ok(crdsApplied < veleroCalls.findIndex((line) => line.startsWith('helm upgrade --install velero ')), 'before the upgrade');
  assert.is(veleroCalls.filter((line) => / apply --server-side .*crds\.yaml$/.test(line)).length, 1);
  assert.is(readFileSync(`${localLog(context)}.applied`, 'utf8'), `---\n${veleroCrd}`);
  assert.is(veleroCalls.filter((line) => line.startsWith('helm show crds ')).length, 6, 'each release is asked for its CRDs');
  assert.not.match(run.stdout + run.stderr + logsAndRecords(context.directory, 'k8s-lab'), veleroSecret);
  for (const line of upgrades) assert.match(line, `--kubeconfig=${path.join(context.directory, '.cache', 'state', 'k8s-lab', 'kubeconfig', 'osdc.yaml')}`);
  // The OCI chart comes from the site registry: helm logs in with the password on stdin, into a registry
  // configuration of the step's own, and verifies the registry with its CA.
  const calls = readFileSync(localLog(context), 'utf8');
  assert.match(calls, /^helm registry login registry\.k8s\.openspace\.test:5000 --username onboarder --password-stdin --registry-config \S+ --ca-file \S+site-registry-ca\.pem$/m);
  assert.match(calls, `helm registry login: ${siteRegistryPassword.length} bytes on stdin`);
  assert.match(upgrades[4]!, /^helm upgrade --install proxmox-csi-plugin oci:\/\/registry\.k8s\.openspace\.test:5000\/\S+ .*--registry-config \S+ --ca-file \S+site-registry-ca\.pem/);
  assert.not.match(calls + run.stdout + run.stderr + logsAndRecords(context.directory, 'k8s-lab'), siteRegistryPassword);

  rmSync(`${localLog(context)}.crds.velero-7.2.1.tgz`);

  // Without a site CA there is no issuer for it (one made before is deleted); with one, cert-manager gets its
  // CA issuer once it is in: the CA's certificate and key as a TLS Secret, and the ClusterIssuer.
  assert.match(calls, /^kubectl --kubeconfig=\S+ delete clusterissuer openspace-site-ca --ignore-not-found$/m);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'site-ca.key', '-out', 'site-ca.pem', '-days', '30', '-subj', '/CN=OpenSpace test site CA', '-addext', 'basicConstraints=critical,CA:TRUE'], { cwd: context.directory, stdio: 'ignore' });
  const siteCa = "siteCa: { certificate: 'site-ca.pem', key: { file: 'site-ca.key' } },";
  writeFileSync(environmentFile, onProxmox.replace('\n  dns: {', `\n  ${store}\n  ${siteCa}\n  dns: {`));
  writeFileSync(localLog(context), '');
  rmSync(`${localLog(context)}.applied`, { force: true });
  const withCa = await cli(context, [], only);
  writeFileSync(environmentFile, environment);
  assert.is(withCa.code, 0, withCa.stdout + withCa.stderr);
  assert.match(withCa.stdout, new RegExp(`\\[${only.replace(/[[\]]/g, '\\$&')}\\] run: config siteCa`));
  const issuerCalls = readFileSync(localLog(context), 'utf8').split('\n');
  const certManagerAt = issuerCalls.findIndex((line) => line.startsWith('helm upgrade --install cert-manager '));
  const applyAt = issuerCalls.findIndex((line) => /^kubectl .*apply --server-side --field-manager=onboarder -f \S+site-issuer\.json$/.test(line));
  assert.ok(certManagerAt >= 0 && applyAt > certManagerAt, 'applied once cert-manager (and its CRDs) is in');
  const manifest = JSON.parse(readFileSync(`${localLog(context)}.applied`, 'utf8')) as { items: { kind: string; metadata: { name: string; namespace?: string }; type?: string; data?: Record<string, string>; spec?: unknown }[] };
  const [secret, issuer] = manifest.items;
  assert.equal([secret!.kind, secret!.type, secret!.metadata.namespace, secret!.metadata.name], ['Secret', 'kubernetes.io/tls', 'cert-manager', 'openspace-site-ca']);
  assert.is(Buffer.from(secret!.data!['tls.crt']!, 'base64').toString(), readFileSync(path.join(context.directory, 'site-ca.pem'), 'utf8'));
  assert.equal([issuer!.kind, issuer!.metadata.name, issuer!.spec], ['ClusterIssuer', 'openspace-site-ca', { ca: { secretName: 'openspace-site-ca' } }]);
  const keyLine = readFileSync(path.join(context.directory, 'site-ca.key'), 'utf8').split('\n')[1]!;
  assert.not.match(withCa.stdout + withCa.stderr + logsAndRecords(context.directory, 'k8s-lab'), keyLine, "the CA's key is in no output, log or record");
}));

lifecycle("velero restore: a Restore of the schedule's newest backup (or the one named), waited for; a restore that ends PartiallyFailed fails with Velero's counts; none without an S3 store", withTimeout(120_000, async (context: Context) => {
  const environmentFile = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const environment = readFileSync(environmentFile, 'utf8');
  const store = "velero: { s3Url: 'https://minio.k8s.openspace.test:9000', bucket: 'openspace-backups', accessKeyId: { file: 'velero-access-key' }, secretAccessKey: { file: 'velero-secret-key' } },";
  const log = localLog(context);
  rmSync(`${log}.created`, { force: true });
  rmSync(`${log}.restore`, { force: true });
  const unconfigured = await cli(context, [], 'velero-restore[cluster=osdc]');
  assert.is(unconfigured.code, 0, unconfigured.stdout + unconfigured.stderr);
  assert.match(unconfigured.stdout, 'the environment names no S3 store for Velero');
  assert.not.ok(existsSync(`${log}.created`), 'nothing was created');

  writeFileSync(environmentFile, environment.replace('\n  dns: {', `\n  ${store}\n  dns: {`));
  try {
    const newest = await cli(context, [], 'velero-restore[cluster=osdc]');
    assert.is(newest.code, 0, newest.stdout + newest.stderr);
    const created = JSON.parse(readFileSync(`${log}.created`, 'utf8')) as { kind: string; metadata: { name: string; namespace: string }; spec: unknown };
    assert.is(created.kind, 'Restore');
    assert.is(created.metadata.namespace, 'velero');
    assert.match(created.metadata.name, /^onboarder-\d{8}t\d{6}z$/);
    assert.equal(created.spec, { scheduleName: 'velero-onboarder', includedNamespaces: ['*'] });
    assert.match(newest.stdout, `restore ${created.metadata.name}: Completed`);
    assert.match(readFileSync(log, 'utf8'), new RegExp(`--namespace=velero get restore/${created.metadata.name} -o json`));

    rmSync(`${log}.created`);
    writeFileSync(`${log}.restore`, JSON.stringify({ status: { phase: 'PartiallyFailed', errors: 3, warnings: 7 } }));
    const named = await cli(context, [], 'velero-restore[cluster=osdc,backup=velero-onboarder-20261204030000]');
    assert.is(named.code, 1, named.stdout + named.stderr);
    assert.equal((JSON.parse(readFileSync(`${log}.created`, 'utf8')) as { spec: unknown }).spec, { backupName: 'velero-onboarder-20261204030000', includedNamespaces: ['*'] });
    assert.match(named.stdout, /velero restore onboarder-\S+ ended PartiallyFailed \(3 errors, 7 warnings\): `velero restore describe onboarder-\S+ --details` says what/);
  } finally {
    writeFileSync(environmentFile, environment);
    rmSync(`${log}.restore`, { force: true });
  }
}));

lifecycle('a rotated site-registry password: the steps that put it on the nodes run again (the plan says why, never showing it)', withTimeout(300_000, async (context: Context) => {
  const rotated = 'site-registry-pw-rotated-9Kd3';
  writeFileSync(path.join(context.directory, 'site-registry-password'), `${rotated}\n`, { mode: 0o600 });
  const plan = await cli(context, ['--dry-run']);
  assert.is(plan.code, 0, plan.stdout + plan.stderr);
  assert.match(plan.stdout, /node-prep\[node=osdc-cp1\]\s+run\s+config secretDigests\.siteRegistry\.password changed/);
  assert.match(plan.stdout, /node-prep\[node=osdc-w1\]\s+run\s+config secretDigests\.siteRegistry\.password changed/);
  assert.match(plan.stdout, /kubernetes\[cluster=osdc\]\s+run\s/);
  const run = await cli(context, [], 'node-prep[node=osdc-cp1]');
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.match(await context.rig.exec(host(context, 'osdc-cp1'), ['cat', '/etc/containerd/config.toml']), `password = "${rotated}"`);
  for (const secret of [rotated, siteRegistryPassword]) assert.not.match(plan.stdout + plan.stderr + run.stdout + run.stderr + logsAndRecords(context.directory, 'k8s-lab'), secret);
  const again = await cli(context, ['--dry-run'], 'node-prep[node=osdc-cp1]');
  assert.match(again.stdout, /node-prep\[node=osdc-cp1\]\s+skip\s+up to date/, again.stdout);
}));

const recorded = async (context: Context, name: string, tool: string) => (await context.rig.exec(host(context, name), ['sh', '-c', `cat /root/fake-kubeadm/${tool}.log 2>/dev/null || true`])).trim().split('\n').filter(Boolean);

lifecycle("a made cluster's apiAddress changed: its endpoint moves there (configuration, cluster-info, the API server's certificate, every kubeconfig, Cilium, the engine's kubeconfig) and back, the old names kept; then nothing moves", withTimeout(500_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const original = readFileSync(file, 'utf8');
  const [cp, worker] = [host(context, 'osdc-cp1'), host(context, 'osdc-w1')];
  const [vip, moved] = [vipOf(context.rig), vipOf(context.rig).replace(/\.250$/, '.248')];
  // kube-vip holds the new address on the control plane, as its static pod would (the FAKE API server listens on every address).
  const vipInterface = /name: vip_interface, value: "(\S+)"/.exec(readFileSync(context.rig.pathIn(cp, '/etc/kubernetes/manifests/kube-vip.yaml'), 'utf8'))![1]!;
  await context.rig.exec(cp, ['ip', 'address', 'add', `${moved}/32`, 'dev', vipInterface]);
  // The kubernetes step alone: the worker's kubelet follows in it, not only at its node-join.
  const moveTo = async (address: string, args: readonly string[] = []) => {
    writeFileSync(file, original.replace(`apiAddress: '${vip}'`, `apiAddress: '${address}'`));
    const run = await cli(context, args, 'kubernetes[cluster=osdc]');
    assert.is(run.code, 0, run.stdout + run.stderr);
    return run;
  };
  // What makes the API server's certificate again and restarts the API server on it (every run makes join tokens).
  const certificateCalls = async () => (await kubeadmCalls(context, 'osdc-cp1')).filter((argv) => argv.slice(1, 4).join(' ') === 'init phase certs').map((argv) => argv.join(' '));
  const podRestarts = async () => (await recorded(context, 'osdc-cp1', 'crictl')).filter((line) => / (stopp|rmp) /.test(line));
  const since = async () => ({ certificates: (await certificateCalls()).length, restarts: (await podRestarts()).length });
  const apiServerNames = () => new X509Certificate(readFileSync(context.rig.pathIn(cp, '/etc/kubernetes/pki/apiserver.crt'))).subjectAltName ?? '';
  const endpointEverywhere = (address: string) => {
    const server = `server: https://${address}:6443\n`;
    for (const [node, kubeconfig] of [[cp, '/etc/kubernetes/admin.conf'], [cp, '/etc/kubernetes/kubelet.conf'], [worker, '/etc/kubernetes/kubelet.conf'], [cp, '/root/fake-kubeadm/cluster-info.yaml']] as const) {
      assert.match(readFileSync(context.rig.pathIn(node, kubeconfig), 'utf8'), server, `${node.name}:${kubeconfig}`);
    }
    assert.match(readFileSync(path.join(context.directory, '.cache', 'state', 'k8s-lab', 'kubeconfig', 'osdc.yaml'), 'utf8'), server, "the engine's kubeconfig");
    assert.match(readFileSync(context.rig.pathIn(cp, '/root/fake-kubeadm/cluster-configuration.yaml'), 'utf8'), `controlPlaneEndpoint: ${address}:6443\n`);
    assert.match(readFileSync(`${localLog(context)}.values.cilium`, 'utf8'), `k8sServiceHost: ${address}\n`);
  };
  assert.match(apiServerNames(), `IP Address:${vip}`);
  assert.not.match(apiServerNames(), `IP Address:${moved}`);

  const before = await since();
  const run = await moveTo(moved);
  assert.match(run.stdout, `cluster osdc: its API endpoint moves from ${vip}:6443 to ${moved}:6443`);
  endpointEverywhere(moved);
  // The API server's certificate was made again with the new address, the old one's names kept, and the API
  // server restarted on it; the old pair is kept aside.
  assert.match(apiServerNames(), `IP Address:${moved}`);
  assert.match(apiServerNames(), `IP Address:${vip}`);
  assert.ok(existsSync(context.rig.pathIn(cp, '/etc/kubernetes/pki/apiserver.crt.before-endpoint-move')));
  const after = await since();
  assert.equal((await certificateCalls()).slice(before.certificates), ['kubeadm init phase certs apiserver --config /etc/kubernetes/onboarder-apiserver-certificate.yaml']);
  assert.equal((await podRestarts()).slice(before.restarts), ['crictl stopp fake-apiserver-pod', 'crictl rmp fake-apiserver-pod']);

  // Again: nothing moves.
  const again = await moveTo(moved, ['--force', 'kubernetes[cluster=osdc]']);
  assert.not.match(again.stdout, 'its API endpoint moves');
  assert.equal(await since(), after);

  // Back to the first address: the certificate names it still, so only the configuration and the kubeconfigs move.
  const back = await moveTo(vip);
  assert.match(back.stdout, `cluster osdc: its API endpoint moves from ${moved}:6443 to ${vip}:6443`);
  endpointEverywhere(vip);
  assert.equal(await since(), after);
  writeFileSync(file, original);
  await context.rig.exec(cp, ['ip', 'address', 'del', `${moved}/32`, 'dev', vipInterface]);
}));

lifecycle('upgrade: one node at a time, the control plane with kubeadm upgrade apply, the worker with upgrade node; a worker added in the same run joins after the roll, at the new version; a skipped minor is refused', withTimeout(400_000, async (context: Context) => {
  packKubernetesRelease(context.directory, 'v1.31.0');
  const file = path.join(context.directory, 'environments', 'k8s-lab.ts');
  // osdc-w2 is added in the same run: scale-in reset it, so it holds the v1.30.4 kubelet but is in no cluster.
  const spare = host(context, 'osdc-w2');
  const withoutSpare = readFileSync(file, 'utf8').replace('versions: lab.versions,', "versions: { ...lab.versions, kubernetes: 'v1.31.0' },");
  writeFileSync(file, withoutSpare.replace("vmId: 4111 }],", `vmId: 4111 }, { name: 'osdc-w2', address: '${spare.address}', vmId: 4112 }],`));
  assert.match(await context.rig.exec(spare, ['kubelet', '--version']), 'Kubernetes v1.30.4');
  const before = { cp: (await kubeadmCalls(context, 'osdc-cp1')).length, w1: (await kubeadmCalls(context, 'osdc-w1')).length, w2: (await kubeadmCalls(context, 'osdc-w2')).length, kubectl: (await recorded(context, 'osdc-cp1', 'kubectl')).length };
  const run = await cli(context, [], `${clusterSteps(['osdc-w1', 'osdc-w2'])},upgrade[cluster=osdc]`);
  assert.is(run.code, 0, run.stdout + run.stderr);
  // The control plane's step left its running node at its version; the roll upgraded the nodes, the control
  // plane first.
  assert.match(run.stdout, 'osdc-cp1 runs Kubernetes v1.30.4: upgrade[cluster=osdc] rolls it to v1.31.0');
  assert.equal((await kubeadmCalls(context, 'osdc-cp1')).slice(before.cp).filter((argv) => argv[1] === 'upgrade').map((argv) => argv.join(' ')), ['kubeadm upgrade apply --yes v1.31.0']);
  assert.equal((await kubeadmCalls(context, 'osdc-w1')).slice(before.w1).filter((argv) => argv[1] === 'upgrade').map((argv) => argv.join(' ')), ['kubeadm upgrade node']);
  const drains = (await recorded(context, 'osdc-cp1', 'kubectl')).slice(before.kubectl).filter((line) => / (cordon|drain|uncordon) /.test(line)).map((line) => line.split(' ').slice(3, 5).join(' '));
  assert.equal(drains, ['cordon osdc-cp1', 'drain osdc-cp1', 'uncordon osdc-cp1', 'cordon osdc-w1', 'drain osdc-w1', 'uncordon osdc-w1']);
  for (const node of ['osdc-cp1', 'osdc-w1', 'osdc-w2']) assert.match(await context.rig.exec(host(context, node), ['kubelet', '--version']), 'Kubernetes v1.31.0');
  // The added worker joined once the roll was done, with the new kubelet (never newer than the control
  // plane it joins), so nothing rolled it: its only kubeadm call is its join.
  const rollDone = run.stdout.indexOf('[upgrade[cluster=osdc]] done');
  assert.ok(rollDone >= 0 && rollDone < run.stdout.indexOf('[node-join[node=osdc-w2]] run'), run.stdout);
  assert.equal((await kubeadmCalls(context, 'osdc-w2')).slice(before.w2).map((argv) => argv.slice(0, 2).join(' ')), ['kubeadm join']);
  // A snapshot of etcd was kept before the first node was drained.
  const snapshotKept = run.stdout.search(/kept backups\/k8s-lab\/osdc\/osdc-\d{8}T\d{6}Z\.db \(sha256 [0-9a-f]{64}\)/);
  assert.ok(snapshotKept >= 0 && snapshotKept < run.stdout.indexOf('Cordon and drain the node'), run.stdout);
  const apiServerManifest = context.rig.pathIn(host(context, 'osdc-cp1'), '/etc/kubernetes/manifests/kube-apiserver.yaml');
  assert.match(readFileSync(apiServerManifest, 'utf8'), 'image: registry.k8s.io/kube-apiserver:v1.31.0\n');

  // A control-plane node that joined while versions.kubernetes was ahead of its cluster: its kubelet at the
  // new version, its API server at the cluster's (kubeadm join takes the cluster's kubeadm-config). The roll
  // reads the oldest of them and upgrades its control plane; read by its kubelet alone it was left behind.
  writeFileSync(apiServerManifest, readFileSync(apiServerManifest, 'utf8').replace('kube-apiserver:v1.31.0', 'kube-apiserver:v1.30.4'));
  const behind = { cp: (await kubeadmCalls(context, 'osdc-cp1')).length, w1: (await kubeadmCalls(context, 'osdc-w1')).length };
  const caughtUp = await cli(context, ['--force', 'upgrade[cluster=osdc]'], 'upgrade[cluster=osdc]');
  assert.is(caughtUp.code, 0, caughtUp.stdout + caughtUp.stderr);
  assert.equal((await kubeadmCalls(context, 'osdc-cp1')).slice(behind.cp).filter((argv) => argv[1] === 'upgrade').map((argv) => argv.join(' ')), ['kubeadm upgrade apply --yes v1.31.0']);
  assert.is((await kubeadmCalls(context, 'osdc-w1')).length, behind.w1, 'the worker runs v1.31.0: not rolled');
  assert.match(readFileSync(apiServerManifest, 'utf8'), 'image: registry.k8s.io/kube-apiserver:v1.31.0\n');

  writeFileSync(file, readFileSync(file, 'utf8').replace("kubernetes: 'v1.31.0'", "kubernetes: 'v1.33.0'"));
  packKubernetesRelease(context.directory, 'v1.33.0');
  const skipped = await cli(context, [], 'upgrade[cluster=osdc]');
  assert.is(skipped.code, 1, skipped.stdout + skipped.stderr);
  assert.match(skipped.stdout, 'osdc-cp1 runs Kubernetes v1.31.0 and versions.kubernetes is v1.33.0: kubeadm upgrades one minor version at a time and never downgrades');
  // osdc-w2 leaves again (the steps after this one have one worker): its machine reset, its stamps forgotten.
  writeFileSync(file, withoutSpare);
  await context.rig.exec(spare, ['kubeadm', 'reset', '--force']);
  const forgotten = await runDeploy(context.directory, ['--env', 'k8s-lab', '--reset', 'node-prep[node=osdc-w2],node-join[node=osdc-w2]']);
  assert.is(forgotten.code, 0, forgotten.stdout + forgotten.stderr);
}));

/**
 * A Python program that holds a machine's package locks as apt takes them (fcntl write locks): the package
 * lists' for 20 s, dpkg's front end for 120 s, writing what it released to /run/package-locks-released.
 */
const packageLockHolder = [
  'import fcntl, time',
  "lists = open('/var/lib/apt/lists/lock', 'w'); fcntl.lockf(lists, fcntl.LOCK_EX)",
  "dpkg = open('/var/lib/dpkg/lock-frontend', 'w'); fcntl.lockf(dpkg, fcntl.LOCK_EX)",
  "time.sleep(20); lists.close(); open('/run/package-locks-released', 'w').write('lists ')",
  "time.sleep(100); dpkg.close(); open('/run/package-locks-released', 'a').write('dpkg\\n')",
].join('\n');

lifecycle("security patches: a node with upgrades pending is drained, patched and uncordoned, one at a time; nothing pending, nothing runs; a patch for one node rolls that node only", withTimeout(300_000, async (context: Context) => {
  const scratch = path.join(context.directory, 'patches');
  mkdirSync(scratch, { recursive: true });
  const versions = Object.fromEntries(['1.0', '1.1', '1.2', '1.3', '1.4'].map((version) => [version, probePackage(scratch, version)]));
  const nodes = ['osdc-cp1', 'osdc-w1'].map((name) => host(context, name));
  for (const node of nodes) {
    await installPackage(context.rig, node, versions['1.0']!);
    await publishPatches(context.rig, node, [versions['1.1']!]);
  }
  const drains = async (from: number) => (await recorded(context, 'osdc-cp1', 'kubectl')).slice(from).filter((line) => / (cordon|drain|uncordon) /.test(line)).map((line) => line.split(' ').slice(3, 5).join(' '));
  const installed = (name: string) => probeVersion(context.rig, host(context, name));
  // osdc-w1 as a roll cut short left it: marked as drained (the FAKE kubectl keeps the annotation as a file).
  const marked = async () => (await context.rig.exec(nodes[0]!, ['sh', '-c', 'ls /root/fake-kubeadm/drained 2>/dev/null || true'])).trim();
  await context.rig.exec(nodes[0]!, ['sh', '-c', 'mkdir -p /root/fake-kubeadm/drained && touch /root/fake-kubeadm/drained/osdc-w1']);
  let before = (await recorded(context, 'osdc-cp1', 'kubectl')).length;
  const first = await cli(context, [], 'os-patches[cluster=osdc]');
  assert.is(first.code, 0, first.stdout + first.stderr);
  // It is returned first (Ready, uncordoned, unmarked); then the roll, each node marked while it is drained.
  assert.equal(await drains(before), ['uncordon osdc-w1', 'cordon osdc-cp1', 'drain osdc-cp1', 'uncordon osdc-cp1', 'cordon osdc-w1', 'drain osdc-w1', 'uncordon osdc-w1']);
  assert.is((await recorded(context, 'osdc-cp1', 'kubectl')).slice(before).filter((line) => line.includes('onboarder.openspace.io/drained')).length, 5, 'one unmark, then a mark and an unmark for each node');
  assert.is(await marked(), '', 'no node left marked');
  // Before it was returned, its kubelet was seen renewing its lease (the API's Ready may be from before a reboot).
  const returning = (await recorded(context, 'osdc-cp1', 'kubectl')).slice(before);
  const leaseLooks = returning.map((line, index) => (line.includes('get lease --namespace=kube-node-lease osdc-w1') ? index : -1)).filter((index) => index >= 0);
  assert.is(leaseLooks.length, 2, returning.join('\n'));
  assert.ok(leaseLooks[1]! < returning.findIndex((line) => / uncordon osdc-w1/.test(line)), 'before the uncordon');
  for (const name of ['osdc-cp1', 'osdc-w1']) assert.is(await installed(name), '1.1');
  assert.match(first.stdout, 'osdc-cp1 upgrades openspace-patch-probe');
  assert.match(first.stdout, 'skipped: reboot of osdc-w1 (no systemd)');

  // Nothing pending: the drift probe asks each node, and nothing runs.
  const again = await cli(context, [], 'os-patches[cluster=osdc]');
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, '[os-patches[cluster=osdc]] up to date');

  // A patch for the worker only: the plan names it, and only the worker is drained and patched.
  await publishPatches(context.rig, nodes[1]!, [versions['1.2']!]);
  const plan = await cli(context, ['--dry-run'], 'os-patches[cluster=osdc]');
  assert.match(plan.stdout, /os-patches\[cluster=osdc\]\s+skip\s+up to date \(drift check runs first\)/, plan.stdout);
  before = (await recorded(context, 'osdc-cp1', 'kubectl')).length;
  // Meanwhile the worker's own apt holds the package locks, as a fresh VM's first boot does (apt-daily
  // refreshes the lists, then unattended-upgrades installs): the lists' for 20 s, dpkg's for 120 s, longer
  // than apt waits by default (60 s). The roll waits for each instead of failing.
  await context.rig.exec(nodes[1]!, ['sh', '-c', 'setsid python3 -c "$1" </dev/null >/dev/null 2>&1 &', 'sh', packageLockHolder]);
  const worker = await cli(context, [], 'os-patches[cluster=osdc]');
  assert.is(worker.code, 0, worker.stdout + worker.stderr);
  assert.is(await context.rig.exec(nodes[1]!, ['cat', '/run/package-locks-released']), 'lists dpkg\n', 'the roll ran while the locks were held');
  assert.match(worker.stdout, '[os-patches[cluster=osdc]] run: drift: patches pending on osdc-w1: 1 to upgrade (openspace-patch-probe)');
  assert.equal(await drains(before), ['cordon osdc-w1', 'drain osdc-w1', 'uncordon osdc-w1']);
  assert.is(await installed('osdc-w1'), '1.2');
  assert.is(await installed('osdc-cp1'), '1.1');

  // Two workers at a time (the cluster's workersAtOnce): both are drained before either is uncordoned.
  const file = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const environment = readFileSync(file, 'utf8');
  const spare = host(context, 'osdc-w2');
  writeFileSync(file, environment.replace("vmId: 4111 }],", `vmId: 4111 }, { name: 'osdc-w2', address: '${spare.address}', vmId: 4112 }],\n      workersAtOnce: 2,`));
  await installPackage(context.rig, spare, versions['1.0']!);
  await publishPatches(context.rig, spare, [versions['1.1']!]);
  await publishPatches(context.rig, nodes[1]!, [versions['1.3']!]);
  before = (await recorded(context, 'osdc-cp1', 'kubectl')).length;
  const pair = await cli(context, [], 'os-patches[cluster=osdc]');
  writeFileSync(file, environment);
  assert.is(pair.code, 0, pair.stdout + pair.stderr);
  const rolled = await drains(before);
  assert.equal([...rolled].sort(), ['cordon osdc-w1', 'cordon osdc-w2', 'drain osdc-w1', 'drain osdc-w2', 'uncordon osdc-w1', 'uncordon osdc-w2']);
  const firstUncordon = rolled.findIndex((call) => call.startsWith('uncordon'));
  assert.ok(rolled.indexOf('drain osdc-w1') < firstUncordon && rolled.indexOf('drain osdc-w2') < firstUncordon, rolled.join(', '));
  assert.equal([await installed('osdc-w1'), await installed('osdc-w2')], ['1.3', '1.1']);

  // A PodDisruptionBudget allows no eviction from osdc-w1 (the FAKE kubectl's undrainable/osdc-w1): its drain
  // is tried 3 times (kubespray's drain_retries), then it is uncordoned and unmarked (it keeps serving), not
  // patched, and the roll stops saying why.
  const onApi = (command: string) => context.rig.exec(nodes[0]!, ['sh', '-c', command]);
  await publishPatches(context.rig, nodes[1]!, [versions['1.4']!]);
  await onApi('mkdir -p /root/fake-kubeadm/undrainable && touch /root/fake-kubeadm/undrainable/osdc-w1');
  before = (await recorded(context, 'osdc-cp1', 'kubectl')).length;
  const refused = await cli(context, [], 'os-patches[cluster=osdc]');
  assert.is(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stdout, /osdc-w1 could not be drained, and is uncordoned again \(nothing was done to it; its pods keep running there\): error when evicting pods\/\\?"db-0\\?" -n \\?"data\\?" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget\./, refused.stdout);
  assert.equal(await drains(before), ['cordon osdc-w1', 'drain osdc-w1', 'drain osdc-w1', 'drain osdc-w1', 'uncordon osdc-w1']);
  assert.match((await recorded(context, 'osdc-cp1', 'kubectl')).slice(before).join('\n'), 'drain osdc-w1 --ignore-daemonsets --delete-emptydir-data --force --grace-period=300 --timeout=360s');
  assert.is(await marked(), '', 'its mark taken off');
  assert.is((await onApi('ls /root/fake-kubeadm/cordoned')).trim(), '', 'uncordoned');
  assert.is(await installed('osdc-w1'), '1.3', 'not patched');

  // Someone cordoned osdc-w1 (a node under repair; no mark of a roll's): it is drained and patched, and stays cordoned.
  await onApi('rm -r /root/fake-kubeadm/undrainable && touch /root/fake-kubeadm/cordoned/osdc-w1');
  before = (await recorded(context, 'osdc-cp1', 'kubectl')).length;
  const kept = await cli(context, [], 'os-patches[cluster=osdc]');
  assert.is(kept.code, 0, kept.stdout + kept.stderr);
  assert.equal(await drains(before), ['drain osdc-w1']);
  assert.match(kept.stdout, 'osdc-w1 was cordoned before this roll (not by Onboarder): it is drained, and stays cordoned after');
  assert.is(await installed('osdc-w1'), '1.4');
  assert.is((await onApi('ls /root/fake-kubeadm/cordoned')).trim(), 'osdc-w1', 'still cordoned');
  assert.is(await marked(), '');
  await onApi('rm -r /root/fake-kubeadm/cordoned');
  for (const node of [...nodes, spare]) withdrawPatches(context.rig, node);
}));

/** A node as `kubectl get nodes -o json` lists it (the FAKE kubectl prints what the test writes). */
function listedNode(name: string, address: string, options: { readonly controlPlane?: boolean; readonly ready?: boolean } = {}): object {
  return {
    metadata: { name, labels: options.controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : {} },
    // kubeadm registers a control-plane node with its own taint.
    spec: options.controlPlane ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } : {},
    status: { conditions: [{ type: 'Ready', status: options.ready === false ? 'Unknown' : 'True' }], addresses: [{ type: 'InternalIP', address }, { type: 'Hostname', address: name }] },
  };
}
const nodeList = (items: readonly object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });

lifecycle("etcd backups: a snapshot of the cluster's etcd, checked whole, kept on the controller with its digest; none again within backups.every; the oldest beyond backups.keep removed; a failed snapshot keeps nothing", withTimeout(300_000, async (context: Context) => {
  const { etcdctl, healthy } = context.etcd;
  await healthy();
  await etcdctl('put', '/registry/onboarder-test', 'before the snapshot');
  const directory = path.join(context.directory, 'backups', 'k8s-lab', 'osdc');
  const kept = () => (existsSync(directory) ? readdirSync(directory).filter((file) => file.endsWith('.db')).sort() : []);
  const only = 'etcd-backup[cluster=osdc]';

  // The upgrade test's snapshots are there already; this run adds one.
  const earlier = kept();
  const first = await cli(context, [], only);
  assert.is(first.code, 0, first.stdout + first.stderr);
  const added = kept().filter((file) => !earlier.includes(file));
  assert.is(added.length, 1, added.join(', '));
  const [snapshot] = added;
  assert.match(String(snapshot), /^osdc-\d{8}T\d{6}Z\.db$/);
  const file = path.join(directory, snapshot!);
  // etcdutl's check on the node (etcdctl's, before 3.5), and the same file read here by a real etcdctl.
  assert.match(first.stdout, /snapshot osdc-\d{8}T\d{6}Z: revision \d+, \d+ keys/);
  const status = JSON.parse(execFileSync('etcdctl', ['snapshot', 'status', file, '--write-out=json'], { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' })) as { totalKey: number };
  assert.ok(status.totalKey >= 1, JSON.stringify(status));
  assert.is(readFileSync(`${file}.sha256`, 'utf8'), `${sha256Of(file)}  ${snapshot}\n`);
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.is(statSync(directory).mode & 0o777, 0o700);
  assert.equal(readdirSync(path.join(directory, '.incoming')), []);
  // etcdctl was unpacked from the release the controller verified; the node keeps no copy of the snapshot.
  const cp = host(context, 'osdc-cp1');
  assert.match(await context.rig.exec(cp, ['ls', '/usr/local/lib/onboarder/etcd-v3.5.15']), 'etcdctl');
  assert.is((await context.rig.exec(cp, ['ls', '/var/backups/etcd'])).trim(), '');
  // The cluster's authorities beside them (this test's PKI holds etcd's CA only) and the key its Secrets are
  // encrypted with, for a rebuilt control plane.
  const authorities = path.join(directory, 'pki.tar.gz');
  assert.equal(execFileSync('tar', ['tzf', authorities], { encoding: 'utf8' }).trim().split('\n').sort(), ['etcd/ca.crt', 'etcd/ca.key', 'secrets-encryption.yaml']);
  assert.is(readFileSync(`${authorities}.sha256`, 'utf8'), `${sha256Of(authorities)}  pki.tar.gz\n`);
  assert.is(statSync(authorities).mode & 0o777, 0o600);
  assert.match(first.stdout, /kept the cluster's authorities \(its CAs and service-account key\) as backups\/k8s-lab\/osdc\/pki\.tar\.gz/);

  // Within backups.every (24h): nothing runs.
  const again = await cli(context, [], only);
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, `[${only}] up to date`);
  assert.equal(kept(), [...earlier, snapshot!].sort());

  // Two more with backups.keep 2: the oldest is removed with its digest.
  const environmentFile = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const environment = readFileSync(environmentFile, 'utf8');
  writeFileSync(environmentFile, environment.replace('\n  dns: {', '\n  backups: { keep: 2 },\n  dns: {'));
  assert.match(readFileSync(environmentFile, 'utf8'), 'backups: { keep: 2 }');
  for (let round = 0; round < 2; round++) {
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const forced = await cli(context, ['--force', only], only);
    assert.is(forced.code, 0, forced.stdout + forced.stderr);
  }
  const newest = kept();
  assert.is(newest.length, 2, newest.join(', '));
  assert.not.ok(newest.includes(snapshot!));
  assert.not.ok(existsSync(`${file}.sha256`));

  // etcd does not answer: the step fails with etcdctl's reason, and what was kept stays as it was.
  await context.rig.exec(cp, ['mv', '/etc/kubernetes/manifests/etcd.yaml', '/root/etcd.yaml']);
  const failed = await cli(context, ['--force', only], only);
  writeFileSync(environmentFile, environment);
  await context.rig.exec(cp, ['mv', '/root/etcd.yaml', '/etc/kubernetes/manifests/etcd.yaml']);
  assert.is(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stdout, /Etcd answers over its client TLS[\s\S]*unhealthy/);
  assert.equal(kept(), newest);
  assert.equal(readdirSync(path.join(directory, '.incoming')), []);
}));

lifecycle("etcd restore: after confirmation, the control plane restarts on the newest kept snapshot (what was written since is gone, the old data kept aside); a damaged snapshot is refused", withTimeout(300_000, async (context: Context) => {
  const { etcdctl, healthy } = context.etcd;
  await healthy();
  await etcdctl('put', '/registry/onboarder-test', 'after the snapshot');
  await etcdctl('put', '/registry/written-later', 'lost by the restore');
  const value = async (key: string) => (await etcdctl('get', key, '--print-value-only')).trim();
  const only = 'etcd-restore[cluster=osdc]';

  const refused = await cli(context, [], only);
  assert.is(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, `this run destroys or replaces what is deployed (${only})`);
  assert.is(await value('/registry/onboarder-test'), 'after the snapshot');

  const restored = await cli(context, ['--yes'], only);
  assert.is(restored.code, 0, restored.stdout + restored.stderr);
  assert.match(restored.stdout, /restoring osdc to backups\/k8s-lab\/osdc\/osdc-\d{8}T\d{6}Z\.db \(sha256 [0-9a-f]{64}\)/);
  await healthy();
  assert.is(await value('/registry/onboarder-test'), 'before the snapshot');
  assert.is(await value('/registry/written-later'), '');
  const cp = host(context, 'osdc-cp1');
  assert.match(await context.rig.exec(cp, ['ls', '/var/lib']), /etcd\.before-osdc-\d{8}T\d{6}Z-restored-\d{8}T\d{6}Z/);
  assert.match(await context.rig.exec(cp, ['ls', '/etc/kubernetes/manifests']), 'etcd.yaml');

  // A damaged snapshot: refused before any node is touched, with both digests.
  const directory = path.join(context.directory, 'backups', 'k8s-lab', 'osdc');
  const newest = readdirSync(directory).filter((file) => file.endsWith('.db')).sort().at(-1)!;
  writeFileSync(path.join(directory, newest), Buffer.concat([readFileSync(path.join(directory, newest)), Buffer.from('x')]));
  await etcdctl('put', '/registry/onboarder-test', 'untouched');
  const damaged = await cli(context, ['--yes'], only);
  assert.is(damaged.code, 1, damaged.stdout + damaged.stderr);
  assert.match(damaged.stdout + damaged.stderr, new RegExp(`snapshot backups/k8s-lab/osdc/${newest.replace('.', '\\.')} is damaged: its sha256 is [0-9a-f]{64}, ${newest.replace('.', '\\.')}\\.sha256 says [0-9a-f]{64}; restore another kept snapshot`));
  assert.is(await value('/registry/onboarder-test'), 'untouched');
}));

lifecycle("a control plane rebuilt on fresh nodes keeps the cluster's authorities and secrets-encryption key kept with its snapshots (kubeadm init finds them); damaged ones are refused", withTimeout(300_000, async (context: Context) => {
  const cp = host(context, 'osdc-cp1');
  const authority = readFileSync(context.rig.pathIn(cp, '/etc/kubernetes/pki/etcd/ca.crt'), 'utf8');
  const { key } = await encryptionConfiguration(context);
  // The node as a fresh one: no cluster initialised on it, no control plane, no authority, no secrets-encryption
  // key (etcd's manifest stays: the test's etcd runs while it is there).
  await context.rig.exec(cp, ['sh', '-c', 'mv /etc/kubernetes/admin.conf /root/admin.conf.before && mv /etc/kubernetes/kubelet.conf /root/kubelet.conf.before && mkdir -p /root/manifests.before && mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/manifests/kube-controller-manager.yaml /etc/kubernetes/manifests/kube-scheduler.yaml /root/manifests.before/ && mv /etc/kubernetes/pki/etcd/ca.crt /root/etcd-ca.crt.before && mv /etc/kubernetes/pki/secrets-encryption.yaml /root/secrets-encryption.yaml.before']);
  const before = (await kubeadmCalls(context, 'osdc-cp1')).length;
  const only = 'kubernetes[cluster=osdc]';
  const run = await cli(context, ['--force', only], only);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.equal((await kubeadmCalls(context, 'osdc-cp1')).slice(before, before + 1).map((argv) => argv.slice(0, 2).join(' ')), ['kubeadm init']);
  assert.is(readFileSync(context.rig.pathIn(cp, '/etc/kubernetes/pki/etcd/ca.crt'), 'utf8'), authority, 'kubeadm init found the kept CA');
  // The key the snapshots' Secrets are encrypted with came back with them, not a new one.
  assert.is((await encryptionConfiguration(context)).key, key, 'the API server reads the restored Secrets with the kept key');
  // Damaged: refused before any node is touched, with both digests.
  const kept = path.join(context.directory, 'backups', 'k8s-lab', 'osdc', 'pki.tar.gz');
  const original = readFileSync(kept);
  writeFileSync(kept, Buffer.concat([original, Buffer.from('x')]));
  const refused = await cli(context, ['--force', only], only);
  writeFileSync(kept, original);
  assert.is(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stdout, /backups\/k8s-lab\/osdc\/pki\.tar\.gz is damaged: its sha256 is [0-9a-f]{64}, pki\.tar\.gz\.sha256 says [0-9a-f]{64}/);
  // Whole again: the step runs again (its failed run dropped its stamp).
  const mended = await cli(context, [], only);
  assert.is(mended.code, 0, mended.stdout + mended.stderr);
}));

lifecycle("certificates: the ones that expire within certificates.renewBefore days are renewed (kubeadm certs renew all) and etcd restarts on them; a CA is named; then nothing is due", withTimeout(300_000, async (context: Context) => {
  const cp = host(context, 'osdc-cp1');
  const only = 'cluster-certificates[cluster=osdc]';
  const validTo = (file: string) => new Date(new X509Certificate(readFileSync(context.rig.pathIn(cp, file))).validTo);
  const inDays = (date: Date) => (date.getTime() - Date.now()) / 86_400_000;
  // The test's etcd certificates last two days: due.
  assert.ok(inDays(validTo('/etc/kubernetes/pki/etcd/server.crt')) < 3);
  const etcdPid = () => context.rig.exec(cp, ['sh', '-c', 'pgrep -x test-etcd || true']);
  const before = { pid: (await etcdPid()).trim(), calls: (await kubeadmCalls(context, 'osdc-cp1')).length };
  const run = await cli(context, [], only);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /renewing the certificates of osdc: osdc-cp1: \/etc\/kubernetes\/pki\/etcd\/(server|healthcheck-client)\.crt expires \d{4}-\d\d-\d\d \(in [01] days?\)/);
  // The CA expires too, and no renewal renews it: named, as a warning.
  assert.match(run.stdout, 'osdc-cp1: /etc/kubernetes/pki/etcd/ca.crt (a CA) expires');
  assert.equal((await kubeadmCalls(context, 'osdc-cp1')).slice(before.calls), [['kubeadm', 'certs', 'renew', 'all']]);
  // Renewed for a year, and etcd restarted on them (its static pod stopped and started): it answers over TLS.
  for (const file of ['/etc/kubernetes/pki/etcd/server.crt', '/etc/kubernetes/pki/etcd/healthcheck-client.crt']) assert.ok(inDays(validTo(file)) > 360, file);
  await context.etcd.healthy();
  const after = (await etcdPid()).trim();
  assert.ok(after !== '' && after !== before.pid, `etcd restarted (pid ${before.pid} -> ${after})`);
  assert.ok(existsSync(context.rig.pathIn(cp, '/etc/kubernetes/manifests/etcd.yaml')));
  // Nothing is due now: the drift probe reads the certificates, and the step is up to date.
  const again = await cli(context, [], only);
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, `[${only}] up to date`);
  assert.is((await kubeadmCalls(context, 'osdc-cp1')).length, before.calls + 1);
}));

lifecycle('decommission: a cluster taken out of the environment shows as orphaned, and is taken down after confirmation', withTimeout(300_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'k8s-lab.ts');
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.slice(0, text.indexOf('    osdc: {')) + text.slice(text.indexOf('  },\n  dns:')));
  assert.not.match(readFileSync(file, 'utf8'), 'osdc: {');
  const state = path.join(context.directory, '.cache', 'state', 'k8s-lab');
  writeFileSync(path.join(state, 'kubeconfig', 'mcm.yaml'), 'apiVersion: v1\n', { mode: 0o600 });
  writeFileSync(localLog(context), '');

  const status = await runDeploy(context.directory, ['--env', 'k8s-lab', '--status']);
  assert.is(status.code, 0, status.stderr);
  assert.match(status.stdout, /kubernetes\[cluster=osdc\] +orphaned .*not declared any more: `tsx deploy\.ts decommission\[cluster=osdc\]` takes it down/);
  assert.match(status.stdout, /node-prep\[node=osdc-w1\] +orphaned .*decommission\[cluster=osdc\]/);

  const only = 'decommission[cluster=osdc]';
  const refused = await cli(context, [], only);
  assert.is(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, 'this run destroys or replaces what is deployed (decommission[cluster=osdc])');
  assert.ok(existsSync(path.join(state, 'kubeconfig', 'osdc.yaml')), 'nothing was taken down');

  const done = await cli(context, ['--yes'], only);
  assert.is(done.code, 0, done.stdout + done.stderr);
  assert.match(readFileSync(localLog(context), 'utf8'), /kubectl --kubeconfig=\S+mcm\.yaml --namespace=openspace-clusters delete secret osdc-kubeconfig --ignore-not-found/);
  assert.not.ok(existsSync(path.join(state, 'kubeconfig', 'osdc.yaml')), 'the kubeconfig is gone');
  const after = await runDeploy(context.directory, ['--env', 'k8s-lab', '--status']);
  assert.not.match(after.stdout, 'orphaned', after.stdout);
  assert.not.match(after.stdout, /\[cluster=osdc\]|\[name=osdc\]|\[node=osdc-/, after.stdout);
  const list = await runDeploy(context.directory, ['--env', 'k8s-lab', '--list']);
  assert.not.match(list.stdout, 'decommission[cluster=osdc]', 'nothing left to decommission');
}));

test.run();
