// RKE2 for the management cluster, run for real with Ansible over SSH on whole-machine test hosts: the
// release's artifacts copied and verified on each node, config.yaml and registries.yaml rendered, kube-vip
// for the virtual API address, the first server Ready before the others join, then an agent. The release
// files are stand-ins the test makes (test/fixtures/fake-rke2, named as FAKES: install.sh, an rke2 binary
// that stands where the real one would start its kubelet, and systemctl, as the hosts run no systemd).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { TestHostRig, type TestHost } from '../../lib/lab/test-hosts.js';
import { repositoryRoot, withTimeout } from '../helpers/project.js';
import { longTier } from '../helpers/tiers.js';
import { loopbackCertificates } from '../helpers/certificates.js';
import { installPackage, probePackage, probeVersion, publishPatches, withdrawPatches } from '../helpers/patch-repository.js';
import { addEnvironment, copyProject, lockPresentArtifacts, logsAndRecords, runDeploy } from '../helpers/project-copy.js';
import { lab } from '../../environments/lab.js';

interface Context {
  directory: string;
  remove: () => void;
  rig: TestHostRig;
}
const test = suite<Context>('RKE2 servers and agents over Ansible, with FAKE rke2, install.sh and systemctl');
/** The cluster's lifecycle after its first build and re-run: the long tier (npm run test:long). */
const lifecycle = longTier(test);

const fakes = path.join(repositoryRoot, 'test', 'fixtures', 'fake-rke2');
const version = 'v1.30.4+rke2r1';

function host(context: Context, name: string): TestHost {
  return context.rig.hosts.find((candidate) => candidate.name === name)!;
}
const vipOf = (rig: TestHostRig) => rig.hosts[0]!.address.replace(/\.\d+$/, '.250');

interface Rke2Call {
  argv: string[];
  version: string;
  at: number;
  config: string | null;
  registries: string | null;
  staticPods: string[];
}
/** The FAKE rke2's calls on a node: its servers and agents, and with `snapshots` its etcd-snapshot calls too. */
async function rke2Calls(context: Context, name: string, options: { readonly snapshots?: boolean } = {}): Promise<Rke2Call[]> {
  const text = await context.rig.exec(host(context, name), ['sh', '-c', 'cat /var/log/fake-rke2/calls.log 2>/dev/null || true']);
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Rke2Call)
    .filter((call) => call.argv[1] !== '--version' && (options.snapshots || call.argv[1] !== 'etcd-snapshot'));
}
async function systemctlCalls(context: Context, name: string): Promise<string[]> {
  const text = await context.rig.exec(host(context, name), ['sh', '-c', 'cat /var/log/fake-systemd/calls.log 2>/dev/null || true']);
  return text.trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { argv: string[] }).argv.join(' '));
}

/** The release's four files for `release`, as images/rke2/<version>/ holds them, with a FAKE rke2 inside. */
function packRelease(directory: string, release: string): void {
  const target = path.join(directory, 'images', 'rke2', release);
  const staging = path.join(directory, '.scratch-rke2', release);
  mkdirSync(path.join(staging, 'bin'), { recursive: true });
  mkdirSync(path.join(staging, 'lib', 'systemd', 'system'), { recursive: true });
  mkdirSync(target, { recursive: true });
  writeFileSync(path.join(staging, 'bin', 'rke2'), readFileSync(path.join(fakes, 'rke2'), 'utf8').replace('@VERSION@', release), { mode: 0o755 });
  writeFileSync(path.join(staging, 'bin', 'rke2-uninstall.sh'), readFileSync(path.join(fakes, 'rke2-uninstall.sh')), { mode: 0o755 });
  for (const type of ['server', 'agent']) {
    writeFileSync(path.join(staging, 'lib', 'systemd', 'system', `rke2-${type}.service`), `[Unit]\nDescription=Rancher Kubernetes Engine v2 (${type})\n[Service]\nType=notify\nExecStart=/usr/local/bin/rke2 ${type}\n`);
  }
  execFileSync('tar', ['czf', path.join(target, 'rke2.linux-amd64.tar.gz'), '-C', staging, 'bin', 'lib']);
  writeFileSync(path.join(target, 'rke2-images.linux-amd64.tar.zst'), `images of ${release}\n`);
  writeFileSync(path.join(target, 'install.sh'), readFileSync(path.join(fakes, 'install.sh')));
  const sha = (file: string) => createHash('sha256').update(readFileSync(path.join(target, file))).digest('hex');
  writeFileSync(path.join(target, 'sha256sum-amd64.txt'), ['rke2-images.linux-amd64.tar.zst', 'rke2.linux-amd64.tar.gz'].map((file) => `${sha(file)}  ${file}\n`).join(''));
  lockPresentArtifacts(directory, { ...lab.versions, rke2: release });
}

function environmentFile(rig: TestHostRig): string {
  const [cp1, cp2, worker] = rig.hosts as [TestHost, TestHost, TestHost];
  return `import { lab } from './lab.js';
import { defineEnvironment } from './schema.js';

/** An RKE2 management cluster of two servers and an agent, its API on a virtual IP. */
export const rke2Lab = defineEnvironment({
  name: 'rke2-lab',
  site: { name: 'RKE2 phase test', domain: 'rke2.openspace.test', kernelWideSettings: 'skip', airGapped: true },
  packages: { management: ['python3'], nodes: ['python3', 'conntrack', 'socat'] },
  // Logged in to as a user with sudo, as on a cloud image's own user: every step runs through become or sudo.
  ssh: { knownHosts: '.cache/rig/known_hosts', privateKey: '.cache/rig/id_ed25519', user: 'deploy' },
  infrastructure: 'existing',
  managementHosts: [{ name: 'kvm1', address: '10.254.254.1' }],
  clusters: {
    mcm: {
      role: 'mcm',
      distribution: 'rke2',
      controlPlane: [{ name: '${cp1.name}', address: '${cp1.address}', vmId: 2101 }, { name: '${cp2.name}', address: '${cp2.address}', vmId: 2102 }],
      workers: [{ name: '${worker.name}', address: '${worker.address}', vmId: 2111, taints: [{ key: 'openspace.io/dedicated', value: 'management', effect: 'NoSchedule' }] }],
      apiAddress: '${vipOf(rig)}',
      podCidr: '10.42.0.0/16',
      serviceCidr: '10.43.0.0/16',
    },
  },
  dns: { server: { name: 'kvm1', address: '10.254.254.1' }, zone: 'rke2.openspace.test' },
  // docker.io through a Harbor of the site's, quay.io and the rest through the site registry (neither reached
  // here): RKE2 verifies each with its own CA, and logs in to the site registry with these credentials.
  registryMirrors: [{ registry: 'docker.io', mirror: 'https://harbor.rke2.openspace.test', caFile: 'harbor/ca.pem' }],
  siteRegistry: { address: 'registry.rke2.openspace.test:5000', caFile: 'site-registry/ca.pem', username: 'onboarder', password: { file: 'site-registry-password' } },
  versions: lab.versions,
});
`;
}

/** The site registry's password: in RKE2's registries.yaml on the nodes, nowhere in what Onboarder shows. */
const siteRegistryPassword = 'rke2-registry-pw-4Kd9w';

test.before(async (context) => {
  Object.assign(context, copyProject());
  context.rig = await TestHostRig.start({
    count: 3,
    names: ['mcm-cp1', 'mcm-cp2', 'mcm-w1'],
    directory: path.join(context.directory, '.cache', 'rig'),
    // The kubeadm test's package list: one package mirror serves both suites.
    wholeMachines: { packages: ['python3', 'conntrack', 'socat', 'containerd'] },
  });
  const systemctl = readFileSync(path.join(fakes, 'systemctl'), 'utf8');
  for (const each of context.rig.hosts) await context.rig.exec(each, ['sh', '-c', 'printf "%s" "$1" > /usr/local/bin/systemctl && chmod 755 /usr/local/bin/systemctl', 'install-fake', systemctl]);
  for (const each of context.rig.hosts) await context.rig.addUser(each, 'deploy', { sudo: true });
  packRelease(context.directory, version);
  writeFileSync(path.join(context.directory, 'site-registry-password'), `${siteRegistryPassword}\n`, { mode: 0o600 });
  for (const registry of ['harbor', 'site-registry']) {
    mkdirSync(path.join(context.directory, registry));
    loopbackCertificates(path.join(context.directory, registry), 'registry');
  }
  addEnvironment(context.directory, 'rke2-lab', 'rke2Lab', environmentFile(context.rig));
});

test.after(async (context) => {
  await context.rig?.stop();
  context.remove();
});

// The cluster's steps up to its upgrade step, which on a first deploy finds every node at its version.
const steps = 'node-prep[node=mcm-cp1],node-prep[node=mcm-cp2],node-prep[node=mcm-w1],kubernetes[cluster=mcm],node-join[node=mcm-w1],upgrade[cluster=mcm]';
const cli = (context: Context, args: readonly string[], only = steps) => runDeploy(context.directory, ['--env', 'rke2-lab', '--only', only, ...args]);

test('the first server is Ready before the second joins through the virtual IP, then the agent; artifacts verified, configs rendered', withTimeout(400_000, async (context: Context) => {
  const run = await cli(context, []);
  assert.is(run.code, 0, run.stdout + run.stderr);
  const vip = vipOf(context.rig);
  const [first, second, agent] = [await rke2Calls(context, 'mcm-cp1'), await rke2Calls(context, 'mcm-cp2'), await rke2Calls(context, 'mcm-w1')];
  assert.equal([first, second, agent].map((calls) => calls.map((call) => call.argv.join(' '))), [['rke2 server'], ['rke2 server'], ['rke2 agent']]);
  assert.ok(first[0]!.at < second[0]!.at && second[0]!.at < agent[0]!.at, 'first server, second server, agent');
  // The first server starts the cluster; the others join through the API address, which kube-vip holds.
  assert.not.match(first[0]!.config!, 'server:');
  assert.match(second[0]!.config!, `server: https://${vip}:9345`);
  assert.match(agent[0]!.config!, `server: https://${vip}:9345`);
  for (const name of [vip, 'api.mcm.rke2.openspace.test', 'mcm-cp1', 'mcm-cp2', host(context, 'mcm-cp2').address]) assert.match(first[0]!.config!, `\n  - ${name}\n`);
  assert.match(first[0]!.config!, `node-ip: ${host(context, 'mcm-cp1').address}\n`);
  assert.match(first[0]!.config!, 'cni: cilium\ncluster-cidr: 10.42.0.0/16\nservice-cidr: 10.43.0.0/16\n');
  assert.not.match(agent[0]!.config!, 'tls-san');
  // The servers' audit log, under Onboarder's policy (RKE2's own records nothing), kept as the environment says.
  for (const server of ['mcm-cp1', 'mcm-cp2']) {
    const [call] = await rke2Calls(context, server);
    assert.match(call!.config!, 'disable: [rke2-ingress-nginx]\n');
    assert.match(call!.config!, 'etcd-expose-metrics: true\nkube-controller-manager-arg:\n  - bind-address=0.0.0.0\nkube-scheduler-arg:\n  - bind-address=0.0.0.0\n');
    assert.match(call!.config!, 'audit-policy-file: /etc/rancher/rke2/audit-policy.yaml\nkube-apiserver-arg:\n  - audit-log-maxage=30\n  - audit-log-maxbackup=10\n  - audit-log-maxsize=100\n');
    assert.is(await context.rig.exec(host(context, server), ['cat', '/etc/rancher/rke2/audit-policy.yaml']), readFileSync(path.join(repositoryRoot, 'tasks/kubernetes/playbooks/files/audit-policy.yaml'), 'utf8'));
  }
  assert.not.match(agent[0]!.config!, 'audit');
  // Each node registers with its declared taints (RKE2 reads config.yaml.d), before node-labels runs.
  const taintsFile = ['cat', '/etc/rancher/rke2/config.yaml.d/50-onboarder-taints.yaml'];
  assert.match(await context.rig.exec(host(context, 'mcm-w1'), taintsFile), 'node-taint: ["openspace.io/dedicated=management:NoSchedule"]\n');
  assert.match(await context.rig.exec(host(context, 'mcm-cp1'), taintsFile), 'node-taint: []\n');
  // The cluster's kubelet settings (kubespray's reservations and graceful shutdown), in a drop-in directory
  // RKE2's kubelet is told of, as the kubeadm nodes have them.
  for (const node of ['mcm-cp1', 'mcm-w1']) {
    assert.is(await context.rig.exec(host(context, node), ['cat', '/etc/rancher/rke2/config.yaml.d/50-onboarder-kubelet.yaml']), "# Managed by Onboarder: where the kubelet reads the cluster's kubelet settings.\nkubelet-arg:\n  - config-dir=/etc/rancher/rke2/kubelet.conf.d\n");
    const settings = await context.rig.exec(host(context, node), ['cat', '/etc/rancher/rke2/kubelet.conf.d/50-onboarder.conf']);
    assert.match(settings, '# Managed by Onboarder: the kubelet settings of cluster mcm (clusters.mcm.kubelet).\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n');
    assert.match(settings, 'shutdownGracePeriod: 60s\nshutdownGracePeriodCriticalPods: 20s\n');
  }
  const token = readFileSync(path.join(context.directory, '.cache', 'state', 'rke2-lab', 'tokens', 'mcm'), 'utf8');
  for (const call of [...first, ...second, ...agent]) {
    assert.match(call.config!, `token: ${token}\n`);
    assert.match(call.registries!, '"docker.io":\n    endpoint:\n      - "https://harbor.rke2.openspace.test"');
    assert.match(call.registries!, '"quay.io":\n    endpoint:\n      - "https://registry.rke2.openspace.test:5000"');
    // Each mirror verified with its CA, and RKE2 logs in to the site registry (registries.yaml `configs.<registry>`).
    assert.match(call.registries!, `configs:\n  "harbor.rke2.openspace.test":\n    tls:\n      ca_file: /etc/onboarder/registry-ca/harbor.rke2.openspace.test.crt\n  "registry.rke2.openspace.test:5000":\n    auth:\n      username: "onboarder"\n      password: "${siteRegistryPassword}"\n    tls:\n      ca_file: /etc/onboarder/registry-ca/registry.rke2.openspace.test_5000.crt\n`);
  }
  for (const [registry, file] of [['harbor', 'harbor.rke2.openspace.test.crt'], ['site-registry', 'registry.rke2.openspace.test_5000.crt']]) {
    assert.is(await context.rig.exec(host(context, 'mcm-w1'), ['cat', `/etc/onboarder/registry-ca/${file}`]), readFileSync(path.join(context.directory, registry!, 'ca.pem'), 'utf8'));
  }
  assert.equal(first[0]!.staticPods, ['kube-vip.yaml']);
  assert.equal(agent[0]!.staticPods, []);
  const kubeVip = await context.rig.exec(host(context, 'mcm-cp2'), ['cat', '/var/lib/rancher/rke2/agent/pod-manifests/kube-vip.yaml']);
  assert.match(kubeVip, `{name: address, value: "${vip}"}`);
  assert.match(kubeVip, 'image: ghcr.io/kube-vip/kube-vip:v0.8.3');
  // What install.sh installed from: the four files, each verified on the node.
  const listing = await context.rig.exec(host(context, 'mcm-w1'), ['ls', '/opt/rke2/artifacts', '/var/lib/rancher/rke2/agent/images']);
  assert.match(listing, 'install.sh\nrke2-images.linux-amd64.tar.zst\nrke2.linux-amd64.tar.gz\nsha256sum-amd64.txt');
  assert.match(listing, 'agent/images:\nrke2-images.linux-amd64.tar.zst');
  // The engine's copy names the API address, not the node's loopback RKE2 writes for itself.
  const kubeconfig = readFileSync(path.join(context.directory, '.cache', 'state', 'rke2-lab', 'kubeconfig', 'mcm.yaml'), 'utf8');
  assert.match(kubeconfig, 'kind: Config');
  assert.match(kubeconfig, `server: 'https://${vipOf(context.rig)}:6443'`);
  assert.not.match(kubeconfig, '127.0.0.1');
  assert.not.match(run.stdout + run.stderr, token, 'the cluster token is never shown');
  assert.not.match(run.stdout + run.stderr + logsAndRecords(context.directory, 'rke2-lab'), siteRegistryPassword, "the site registry's password is never shown");
}));

test('a second run changes nothing: nothing reinstalled, no service restarted', withTimeout(300_000, async (context: Context) => {
  const before = await systemctlCalls(context, 'mcm-cp1');
  const run = await cli(context, ['--force', 'kubernetes[cluster=mcm]', '--force', 'node-join[node=mcm-w1]'], 'kubernetes[cluster=mcm],node-join[node=mcm-w1]');
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.equal((await rke2Calls(context, 'mcm-cp1')).length, 1, 'the first server was not started again');
  const after = (await systemctlCalls(context, 'mcm-cp1')).slice(before.length);
  assert.not.ok(after.some((call) => / (start|restart) /.test(call)), after.join('\n'));
  for (const [step, node] of [['kubernetes[cluster=mcm]', 'mcm-cp1'], ['kubernetes[cluster=mcm]', 'mcm-cp2'], ['node-join[node=mcm-w1]', 'mcm-w1']]) {
    assert.match(run.stdout, new RegExp(`\\[${step!.replace(/[[\]]/g, '\\$&')}\\] ${node}\\s+: ok=\\d+\\s+changed=0`), run.stdout);
  }
}));

test("a controller without the cluster's token (a new one, its .cache lost) reads it back from a server: kept again (0600), no configuration changed, no server restarted, never shown", withTimeout(300_000, async (context: Context) => {
  const file = path.join(context.directory, '.cache', 'state', 'rke2-lab', 'tokens', 'mcm');
  const token = readFileSync(file, 'utf8');
  rmSync(file);
  const before = { cp1: (await rke2Calls(context, 'mcm-cp1')).length, cp2: (await rke2Calls(context, 'mcm-cp2')).length };
  const run = await cli(context, ['--force', 'kubernetes[cluster=mcm]'], 'kubernetes[cluster=mcm]');
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, "the token of cluster mcm was not kept in .cache/state/rke2-lab/tokens/mcm: read back from mcm-cp1's RKE2 configuration, and kept there again");
  assert.is(readFileSync(file, 'utf8'), token);
  assert.is(statSync(file).mode & 0o777, 0o600);
  // A new token would have been written into each server's configuration and restarted it, which RKE2
  // refuses (its bootstrap data is encrypted with the token it was made with).
  assert.equal({ cp1: (await rke2Calls(context, 'mcm-cp1')).length, cp2: (await rke2Calls(context, 'mcm-cp2')).length }, before);
  assert.match(await context.rig.exec(host(context, 'mcm-cp2'), ['cat', '/etc/rancher/rke2/config.yaml']), `token: ${token}\n`);
  assert.not.match(run.stdout + run.stderr, token, 'the cluster token is never shown');
}));

test('a corrupted tarball fails on the node with the expected and the found digest', withTimeout(300_000, async (context: Context) => {
  const tarball = path.join(context.directory, 'images', 'rke2', version, 'rke2.linux-amd64.tar.gz');
  const good = readFileSync(tarball);
  writeFileSync(tarball, Buffer.concat([good, Buffer.from('corruption')]));
  try {
    const run = await cli(context, ['--force', 'kubernetes[cluster=mcm]'], 'kubernetes[cluster=mcm]');
    assert.is(run.code, 1, run.stdout + run.stderr);
    const expected = createHash('sha256').update(good).digest('hex');
    const found = createHash('sha256').update(readFileSync(tarball)).digest('hex');
    assert.match(run.stdout, `rke2.linux-amd64.tar.gz on mcm-cp1 is corrupt: expected sha256 ${expected} (the release's sha256sum-amd64.txt), found ${found}`);
  } finally {
    writeFileSync(tarball, good);
  }
}));

const newer = 'v1.30.5+rke2r1';
const rollSteps = 'kubernetes[cluster=mcm],node-join[node=mcm-w1],upgrade[cluster=mcm]';
const installed = async (context: Context, name: string) => /rke2 version (\S+)/.exec(await context.rig.exec(host(context, name), ['/usr/local/bin/rke2', '--version']))![1];
const kubectlLog = async (context: Context) => (await context.rig.exec(host(context, 'mcm-cp1'), ['cat', '/var/log/fake-rke2/kubectl.log'])).trim().split('\n');
/** What the first server's kubectl was asked to change (not what it was asked to read: nodes, leases). */
const kubectlCalls = async (context: Context) => (await kubectlLog(context)).filter((line) => !/ get (nodes?|lease) /.test(line));
/** What a roll asked of the API, without the kubectl and kubeconfig in front: `cordon mcm-cp1`, `mark mcm-cp1`, `unmark mcm-cp1`. */
const rollCalls = (calls: readonly string[]) =>
  calls.map((line) => line.split(' ').slice(3).join(' ').replace(/^annotate node (\S+) onboarder\.openspace\.io\/drained=true --overwrite$/, 'mark $1').replace(/^annotate node (\S+) onboarder\.openspace\.io\/drained-$/, 'unmark $1').replace(/^(drain \S+) .*$/, '$1'));

lifecycle('an upgrade that fails on a node stops there: the nodes after it keep their version, and the node is named', withTimeout(400_000, async (context: Context) => {
  packRelease(context.directory, newer);
  const file = path.join(context.directory, 'environments', 'rke2-lab.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace('versions: lab.versions,', `versions: { ...lab.versions, rke2: '${newer}' },`));
  await context.rig.exec(host(context, 'mcm-cp1'), ['touch', '/var/log/fake-rke2/fail-drain-mcm-cp2']);
  // The plan names the change and each node in the order of the roll.
  const plan = await cli(context, ['--dry-run'], rollSteps);
  assert.match(plan.stdout, /upgrade\[cluster=mcm\]\s+run\s+[^\n]*config versions\.rke2 changed: "v1\.30\.4\+rke2r1" -> "v1\.30\.5\+rke2r1"/, plan.stdout);
  assert.match(plan.stdout, /roll mcm-cp1 to RKE2 v1\.30\.5\+rke2r1[^\n]*\n[^\n]*roll mcm-cp2 [^\n]*\n[^\n]*roll mcm-w1 /);
  const run = await cli(context, [], rollSteps);
  assert.is(run.code, 1, run.stdout + run.stderr);
  // The install steps left the running nodes alone (the roll is the upgrade's), then the roll began.
  assert.match(run.stdout, `mcm-cp2 runs RKE2 ${version}: upgrade[cluster=mcm] rolls it to ${newer}`);
  assert.match(run.stdout, /mcm-cp2 could not be drained, and is uncordoned again \(nothing was done to it; its pods keep running there\): error: cannot evict pod as it would violate the pod's disruption budget/, run.stdout);
  assert.match(run.stdout, /FAILED upgrade\[cluster=mcm\]: [^\n]*rke2-upgrade\.yml: playbook failed on mcm-cp2$/m);
  assert.equal([await installed(context, 'mcm-cp1'), await installed(context, 'mcm-cp2'), await installed(context, 'mcm-w1')], [newer, version, version]);
  assert.match((await kubectlCalls(context))[2]!, /^kubectl --kubeconfig \/etc\/rancher\/rke2\/rke2\.yaml drain mcm-cp1 --ignore-daemonsets --delete-emptydir-data --force --grace-period=300 --timeout=360s$/);
  // Each node is marked before its drain and unmarked once back; mcm-cp2's drain is tried 3 times (kubespray's
  // drain_retries), then it is uncordoned and unmarked: it keeps serving, on its version.
  assert.equal(rollCalls(await kubectlCalls(context)), ['mark mcm-cp1', 'cordon mcm-cp1', 'drain mcm-cp1', 'uncordon mcm-cp1', 'unmark mcm-cp1', 'mark mcm-cp2', 'cordon mcm-cp2', 'drain mcm-cp2', 'drain mcm-cp2', 'drain mcm-cp2', 'uncordon mcm-cp2', 'unmark mcm-cp2']);
  assert.is((await context.rig.exec(host(context, 'mcm-cp1'), ['ls', '/var/log/fake-rke2/'])).split('\n').filter((file) => file.startsWith('drained-')).join(), '');
}));

lifecycle('the upgrade resumes where it stopped: one node at a time, servers before agents, each drained and Ready again', withTimeout(400_000, async (context: Context) => {
  await context.rig.exec(host(context, 'mcm-cp1'), ['rm', '/var/log/fake-rke2/fail-drain-mcm-cp2']);
  // mcm-cp2 as a roll killed after its drain leaves it: marked (and cordoned).
  await context.rig.exec(host(context, 'mcm-cp1'), ['touch', '/var/log/fake-rke2/drained-mcm-cp2']);
  const before = (await kubectlCalls(context)).length;
  const looksBefore = (await kubectlLog(context)).length;
  const run = await cli(context, [], rollSteps);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.equal([await installed(context, 'mcm-cp1'), await installed(context, 'mcm-cp2'), await installed(context, 'mcm-w1')], [newer, newer, newer]);
  // mcm-cp2, left cordoned by the killed roll, is returned first (its kubelet seen renewing its lease); then the roll goes on from it.
  assert.is((await kubectlLog(context)).slice(looksBefore).filter((line) => line.includes('get lease --namespace=kube-node-lease mcm-cp2')).length, 2);
  assert.equal(rollCalls((await kubectlCalls(context)).slice(before)), ['uncordon mcm-cp2', 'unmark mcm-cp2', 'mark mcm-cp2', 'cordon mcm-cp2', 'drain mcm-cp2', 'uncordon mcm-cp2', 'unmark mcm-cp2', 'mark mcm-w1', 'cordon mcm-w1', 'drain mcm-w1', 'uncordon mcm-w1', 'unmark mcm-w1']);
  const [second, agent] = [(await rke2Calls(context, 'mcm-cp2')).at(-1)!, (await rke2Calls(context, 'mcm-w1')).at(-1)!];
  assert.equal([second.version, agent.version], [newer, newer]);
  assert.ok(second.at < agent.at, 'the server restarted on the new version before the agent');
  // The roll wrote the node's configuration again as it was: the agent keeps the taint it registers with, and its kubelet settings.
  assert.is(await context.rig.exec(host(context, 'mcm-w1'), ['cat', '/etc/rancher/rke2/config.yaml.d/50-onboarder-taints.yaml']), '# Managed by Onboarder: the taints this node registers with.\nnode-taint: ["openspace.io/dedicated=management:NoSchedule"]\n');
  assert.match(await context.rig.exec(host(context, 'mcm-w1'), ['cat', '/etc/rancher/rke2/kubelet.conf.d/50-onboarder.conf']), 'shutdownGracePeriod: 60s\n');
  // Done: a second run rolls nothing.
  const rolled = (await kubectlCalls(context)).length;
  const again = await cli(context, ['--force', 'upgrade[cluster=mcm]'], 'upgrade[cluster=mcm]');
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.is((await kubectlCalls(context)).length, rolled, 'no node drained again');
}));

/** The release the nodes run from the test of a join that never finished on. */
const newest = 'v1.30.6+rke2r1';

lifecycle('an agent whose first start never reached a server (rke2 held, in no cluster) is passed by the roll, then joins at the new version', withTimeout(400_000, async (context: Context) => {
  const agent = host(context, 'mcm-w1');
  // What a join cut short leaves: rke2 installed (the older release), enabled, and no kubelet kubeconfig from the cluster.
  await context.rig.exec(agent, ['sh', '-c', 'systemctl stop rke2-agent && rm /var/lib/rancher/rke2/agent/kubelet.kubeconfig']);
  packRelease(context.directory, newest);
  const file = path.join(context.directory, 'environments', 'rke2-lab.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace(`rke2: '${newer}'`, `rke2: '${newest}'`));
  const before = (await kubectlCalls(context)).length;
  const agentCalls = (await rke2Calls(context, 'mcm-w1')).length;
  const run = await cli(context, [], rollSteps);
  assert.is(run.code, 0, run.stdout + run.stderr);
  // The servers rolled; the agent, which the API has no Node of, was never marked or drained.
  assert.equal(rollCalls((await kubectlCalls(context)).slice(before)), ['mark mcm-cp1', 'cordon mcm-cp1', 'drain mcm-cp1', 'uncordon mcm-cp1', 'unmark mcm-cp1', 'mark mcm-cp2', 'cordon mcm-cp2', 'drain mcm-cp2', 'uncordon mcm-cp2', 'unmark mcm-cp2']);
  assert.not.match(run.stdout, 'mcm-w1 runs RKE2');
  // Its join installed the environment's release over the one it held, after the roll, and it is in the cluster.
  assert.equal([await installed(context, 'mcm-cp1'), await installed(context, 'mcm-cp2'), await installed(context, 'mcm-w1')], [newest, newest, newest]);
  const joined = (await rke2Calls(context, 'mcm-w1')).slice(agentCalls);
  assert.equal(joined.map((call) => `${call.argv[1]} ${call.version}`), [`agent ${newest}`]);
  assert.ok((await rke2Calls(context, 'mcm-cp2')).at(-1)!.at < joined[0]!.at, 'the agent joined after the last server rolled');
  await context.rig.exec(agent, ['test', '-e', '/var/lib/rancher/rke2/agent/kubelet.kubeconfig']);
}));

lifecycle('a downgrade is refused with the versions, and nothing is installed', withTimeout(300_000, async (context: Context) => {
  const older = 'v1.30.3+rke2r1';
  packRelease(context.directory, older);
  const file = path.join(context.directory, 'environments', 'rke2-lab.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace(`rke2: '${newest}'`, `rke2: '${older}'`));
  const run = await cli(context, [], 'upgrade[cluster=mcm]');
  assert.is(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, `mcm-cp1 runs RKE2 ${newest}, newer than versions.rke2 ${older}: a downgrade is refused`);
  assert.equal([await installed(context, 'mcm-cp1'), await installed(context, 'mcm-w1')], [newest, newest]);
}));

lifecycle("security patches on RKE2: only the node with a patch pending is drained (through the first server's kubectl), patched and uncordoned", withTimeout(300_000, async (context: Context) => {
  const scratch = path.join(context.directory, 'patches');
  mkdirSync(scratch, { recursive: true });
  const agent = host(context, 'mcm-w1');
  await installPackage(context.rig, agent, probePackage(scratch, '1.0'));
  await publishPatches(context.rig, agent, [probePackage(scratch, '1.1')]);
  const before = (await kubectlCalls(context)).length;
  const run = await cli(context, [], 'os-patches[cluster=mcm]');
  withdrawPatches(context.rig, agent);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.is(await probeVersion(context.rig, agent), '1.1');
  assert.equal(rollCalls((await kubectlCalls(context)).slice(before)), ['mark mcm-w1', 'cordon mcm-w1', 'drain mcm-w1', 'uncordon mcm-w1', 'unmark mcm-w1']);
  assert.match(run.stdout, 'mcm-w1 upgrades openspace-patch-probe');
}));

lifecycle("etcd backups on RKE2: rke2 etcd-snapshot save on the first server, the file brought to the controller with its digest and removed from the node; none again within backups.every", withTimeout(300_000, async (context: Context) => {
  const only = 'etcd-backup[cluster=mcm]';
  const directory = path.join(context.directory, 'backups', 'rke2-lab', 'mcm');
  const snapshots = () => readdirSync(directory).filter((file) => file.endsWith('.db'));
  // The upgrade step took its own before each roll.
  const earlier = snapshots();
  assert.ok(earlier.length >= 1, 'the upgrade step keeps a snapshot before it rolls');
  const callsBefore = (await rke2Calls(context, 'mcm-cp1', { snapshots: true })).length;
  const run = await cli(context, [], only);
  assert.is(run.code, 0, run.stdout + run.stderr);
  const kept = snapshots().filter((file) => !earlier.includes(file));
  assert.is(kept.length, 1, kept.join(', '));
  const file = path.join(directory, kept[0]!);
  assert.is(readFileSync(file, 'utf8'), "FAKE etcd snapshot of mcm-cp1's etcd\n");
  assert.is(readFileSync(`${file}.sha256`, 'utf8'), `${createHash('sha256').update(readFileSync(file)).digest('hex')}  ${kept[0]}\n`);
  assert.is(statSync(file).mode & 0o777, 0o600);
  const name = kept[0]!.replace(/\.db$/, '');
  const calls = (await rke2Calls(context, 'mcm-cp1', { snapshots: true })).slice(callsBefore).map((call) => call.argv.join(' '));
  assert.equal(calls, [`rke2 etcd-snapshot save --name ${name}`, `rke2 etcd-snapshot delete ${name}-mcm-cp1-${/-mcm-cp1-(\d+)/.exec(calls[1] ?? '')?.[1]}`]);
  assert.is((await context.rig.exec(host(context, 'mcm-cp1'), ['ls', '/var/lib/rancher/rke2/server/db/snapshots'])).trim(), '');
  // No snapshot is taken anywhere else: the other server and the agent were not asked.
  for (const other of ['mcm-cp2', 'mcm-w1']) assert.not.ok((await rke2Calls(context, other, { snapshots: true })).some((call) => call.argv.includes('etcd-snapshot')), other);
  const again = await cli(context, [], only);
  assert.match(again.stdout, `[${only}] up to date`);
}));

lifecycle("etcd restore on RKE2: after confirmation every server stops, the first resets its etcd to the kept snapshot and starts, the others drop their etcd data and join again", withTimeout(300_000, async (context: Context) => {
  const only = 'etcd-restore[cluster=mcm]';
  const second = host(context, 'mcm-cp2');
  await context.rig.exec(second, ['sh', '-c', 'mkdir -p /var/lib/rancher/rke2/server/db && echo old > /var/lib/rancher/rke2/server/db/marker']);
  const refused = await cli(context, [], only);
  assert.is(refused.code, 2, refused.stdout + refused.stderr);
  const before = { cp1: (await systemctlCalls(context, 'mcm-cp1')).length, cp2: (await systemctlCalls(context, 'mcm-cp2')).length, w1: (await systemctlCalls(context, 'mcm-w1')).length };
  const resetsBefore = (await rke2Calls(context, 'mcm-cp1')).length;
  const run = await cli(context, ['--yes'], only);
  assert.is(run.code, 0, run.stdout + run.stderr);
  const snapshot = readdirSync(path.join(context.directory, 'backups', 'rke2-lab', 'mcm')).filter((file) => file.endsWith('.db')).sort().at(-1)!.replace(/\.db$/, '');
  const resets = (await rke2Calls(context, 'mcm-cp1')).slice(resetsBefore).map((call) => call.argv.join(' ')).filter((argv) => argv.includes('--cluster-reset'));
  assert.equal(resets, [`rke2 server --cluster-reset --cluster-reset-restore-path=/var/backups/etcd/restore-${snapshot}.db`]);
  // Both servers stop before the reset, the first starts before the second; the agent is not touched.
  const timed = async (name: string, from: number) => {
    const text = await context.rig.exec(host(context, name), ['cat', '/var/log/fake-systemd/calls.log']);
    return text.trim().split('\n').slice(from).map((line) => JSON.parse(line) as { argv: string[]; at: number }).filter((call) => / (start|stop) rke2-server$/.test(call.argv.join(' '))).map((call) => ({ what: `${name} ${call.argv.at(-2)}`, at: call.at }));
  };
  const order = [...(await timed('mcm-cp1', before.cp1)), ...(await timed('mcm-cp2', before.cp2))].sort((a, b) => a.at - b.at).map((call) => call.what);
  assert.equal(order.slice(0, 2).sort(), ['mcm-cp1 stop', 'mcm-cp2 stop']);
  assert.equal(order.slice(2), ['mcm-cp1 start', 'mcm-cp2 start']);
  assert.equal((await systemctlCalls(context, 'mcm-w1')).slice(before.w1).filter((call) => /rke2/.test(call)), []);
  assert.is((await context.rig.exec(second, ['sh', '-c', 'ls /var/lib/rancher/rke2/server/db 2>&1 || true'])).includes('marker'), false);
  assert.is((await context.rig.exec(host(context, 'mcm-cp1'), ['ls', '/var/backups/etcd'])).trim(), '');
}));

lifecycle("certificates on RKE2: one due on a server renews the cluster's, one node at a time (each server stopped, rke2 certificate rotate, started; then each agent restarted); then nothing is due", withTimeout(300_000, async (context: Context) => {
  const only = 'cluster-certificates[cluster=mcm]';
  // A serving certificate that expires in two days, where RKE2 keeps the API server's.
  const scratch = path.join(context.directory, '.scratch-rke2-tls');
  mkdirSync(scratch, { recursive: true });
  const { cert } = loopbackCertificates(scratch, 'serving-kube-apiserver');
  const first = host(context, 'mcm-cp1');
  mkdirSync(context.rig.pathIn(first, '/var/lib/rancher/rke2/server/tls'), { recursive: true });
  writeFileSync(context.rig.pathIn(first, '/var/lib/rancher/rke2/server/tls/serving-kube-apiserver.crt'), readFileSync(cert));
  const before = { cp1: (await systemctlCalls(context, 'mcm-cp1')).length, cp2: (await systemctlCalls(context, 'mcm-cp2')).length, w1: (await systemctlCalls(context, 'mcm-w1')).length };
  const rotations = async (name: string) => (await rke2Calls(context, name, { snapshots: true })).filter((call) => call.argv[1] === 'certificate').length;
  const run = await cli(context, [], only);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /renewing the certificates of mcm: mcm-cp1: \/var\/lib\/rancher\/rke2\/server\/tls\/serving-kube-apiserver\.crt expires \d{4}-\d\d-\d\d \(in [01] days?\)/);
  assert.equal([await rotations('mcm-cp1'), await rotations('mcm-cp2'), await rotations('mcm-w1')], [1, 1, 0]);
  const rke2Units = (calls: string[]) => calls.filter((call) => / (stop|start|restart) rke2-/.test(call)).map((call) => call.split(' ').slice(-2).join(' '));
  assert.equal(rke2Units((await systemctlCalls(context, 'mcm-cp1')).slice(before.cp1)), ['stop rke2-server', 'start rke2-server']);
  assert.equal(rke2Units((await systemctlCalls(context, 'mcm-cp2')).slice(before.cp2)), ['stop rke2-server', 'start rke2-server']);
  assert.equal(rke2Units((await systemctlCalls(context, 'mcm-w1')).slice(before.w1)), ['restart rke2-agent']);
  // The engine's admin kubeconfig, fetched again, names the API address.
  assert.match(readFileSync(path.join(context.directory, '.cache', 'state', 'rke2-lab', 'kubeconfig', 'mcm.yaml'), 'utf8'), `server: 'https://${vipOf(context.rig)}:6443'`);
  const again = await cli(context, [], only);
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, `[${only}] up to date`);
}));

lifecycle("secrets-key-rotation on RKE2: rke2 secrets-encrypt prepare, rotate and reencrypt on the first server, every server restarted in turn after each; one stopped part way goes on from RKE2's stage", withTimeout(300_000, async (context: Context) => {
  const only = 'secrets-key-rotation[cluster=mcm]';
  /** The steps of a rotation after `since` (ns), in the order they happened on the servers. */
  const timeline = async (since: number) => {
    const events: { at: number; what: string }[] = [];
    for (const name of ['mcm-cp1', 'mcm-cp2', 'mcm-w1']) {
      for (const call of await rke2Calls(context, name)) if (call.argv[1] === 'secrets-encrypt' && call.argv[2] !== 'status' && call.at > since) events.push({ at: call.at, what: `${name} ${call.argv[2]}` });
      const text = await context.rig.exec(host(context, name), ['sh', '-c', 'cat /var/log/fake-systemd/calls.log 2>/dev/null || true']);
      for (const line of text.trim().split('\n').filter(Boolean)) {
        const call = JSON.parse(line) as { argv: string[]; at: number };
        if (call.at > since && call.argv.includes('restart') && call.argv.some((arg) => arg.startsWith('rke2-'))) events.push({ at: call.at, what: `${name} restart ${call.argv.find((arg) => arg.startsWith('rke2-'))}` });
      }
    }
    return events.sort((a, b) => a.at - b.at).map((event) => event.what);
  };
  const roll = ['mcm-cp1 restart rke2-server', 'mcm-cp2 restart rke2-server'];
  const start = Date.now() * 1e6;
  const run = await cli(context, [], only);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.equal(await timeline(start), ['mcm-cp1 prepare', ...roll, 'mcm-cp1 rotate', ...roll, 'mcm-cp1 reencrypt', ...roll]);
  assert.match(run.stdout, 'RKE2 rotated the secrets-encryption key of cluster mcm; every Secret is written again under it');
  // Stopped after `rotate` (RKE2 keeps the stage): the next run restarts the servers and re-encrypts, no new key.
  writeFileSync(context.rig.pathIn(host(context, 'mcm-cp1'), '/var/lib/rancher/rke2/server/cred/fake-rotation-stage'), 'rotate');
  const resumedAt = Date.now() * 1e6;
  const resumed = await cli(context, [], only);
  assert.is(resumed.code, 0, resumed.stdout + resumed.stderr);
  assert.equal(await timeline(resumedAt), [...roll, 'mcm-cp1 reencrypt', ...roll]);
}));

lifecycle("an agent taken out is drained, deleted and uninstalled; put back as a server at the head of the list, it joins through a server in the cluster instead of starting another", withTimeout(400_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'rke2-lab.ts');
  // The version the nodes run since the upgrade (the downgrade test left an older one in the file).
  const original = readFileSync(file, 'utf8').replace(/rke2: 'v[^']+'/, `rke2: '${newest}'`);
  assert.match(original, `rke2: '${newest}'`);
  const [cp1, cp2, agent] = [host(context, 'mcm-cp1'), host(context, 'mcm-cp2'), host(context, 'mcm-w1')];
  const agentEntry = `{ name: 'mcm-w1', address: '${agent.address}', vmId: 2111, taints: [{ key: 'openspace.io/dedicated', value: 'management', effect: 'NoSchedule' }] }`;
  assert.match(original, `workers: [${agentEntry}]`);
  writeFileSync(file, original.replace(`workers: [${agentEntry}]`, 'workers: []'));
  // What the cluster's API lists (the FAKE kubectl of the engine prints it).
  const log = path.join(context.directory, 'fake-kubernetes.log');
  const listed = (name: string, address: string, controlPlane: boolean) => ({ metadata: { name, labels: controlPlane ? { 'node-role.kubernetes.io/control-plane': 'true', 'node-role.kubernetes.io/etcd': 'true' } : {} }, status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address }] } });
  writeFileSync(`${log}.nodes`, JSON.stringify({ items: [listed('mcm-cp1', cp1.address, true), listed('mcm-cp2', cp2.address, true), listed('mcm-w1', agent.address, false)] }));
  const local = { PATH: `${path.join(repositoryRoot, 'test', 'fixtures', 'fake-kubernetes')}:${process.env.PATH}`, FAKE_KUBERNETES_LOG: log };
  const removed = await runDeploy(context.directory, ['--env', 'rke2-lab', '--only', 'cluster-vms[cluster=mcm]', '--yes'], local);
  assert.is(removed.code, 0, removed.stdout + removed.stderr);
  const kubeconfig = `--kubeconfig=${path.join(context.directory, '.cache', 'state', 'rke2-lab', 'kubeconfig', 'mcm.yaml')}`;
  const calls = readFileSync(log, 'utf8').split('\n').filter((line) => line.startsWith('kubectl ') && !line.includes(' version'));
  assert.equal(calls, [
    `kubectl ${kubeconfig} get nodes -o json`,
    `kubectl ${kubeconfig} drain mcm-w1 --ignore-daemonsets --delete-emptydir-data --force --grace-period=300 --timeout=360s`,
    `kubectl ${kubeconfig} delete node mcm-w1 --ignore-not-found`,
    `kubectl ${kubeconfig} delete node mcm-w1 --ignore-not-found`,
  ]);
  // RKE2's own uninstall ran on the machine: RKE2 stopped, its data gone, so the node cannot rejoin as it was.
  assert.match(await context.rig.exec(agent, ['cat', '/var/log/fake-rke2/uninstall.log']), 'rke2-uninstall.sh');
  assert.is((await context.rig.exec(agent, ['sh', '-c', 'ls /var/lib/rancher/rke2 2>&1 || true'])).includes('No such file'), true);

  // The machine comes back as a server, put first in the list: the servers in the cluster go first.
  writeFileSync(file, original.replace(`workers: [${agentEntry}]`, 'workers: []').replace('controlPlane: [', `controlPlane: [{ name: 'mcm-w1', address: '${agent.address}', vmId: 2103 }, `));
  const before = (await rke2Calls(context, 'mcm-w1')).length;
  const added = await cli(context, [], 'node-prep[node=mcm-w1],kubernetes[cluster=mcm]');
  assert.is(added.code, 0, added.stdout + added.stderr);
  assert.match(added.stdout, 'mcm-w1 is not in cluster mcm yet: mcm-cp1, which is, acts for its control plane and the others join through it');
  const server = (await rke2Calls(context, 'mcm-w1')).slice(before).find((call) => call.argv[1] === 'server')!;
  assert.ok(server, 'mcm-w1 runs an RKE2 server');
  assert.match(server.config ?? '', `server: https://${vipOf(context.rig)}:9345`);
  writeFileSync(file, original);
}));

test.run();
