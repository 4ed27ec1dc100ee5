import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { TestHostRig, type DetachedRig } from '../../lib/lab/test-hosts.js';
import { repositoryRoot, withTimeout } from '../helpers/project.js';
import { longTier, longTierRuns } from '../helpers/tiers.js';
import { startHttpProxy } from '../helpers/http-proxy.js';
import { installPackage, probePackage, probeVersion, publishPatches, withdrawPatches, type HostAccess } from '../helpers/patch-repository.js';
import { copyProject, runDeploy } from '../helpers/project-copy.js';

const run = promisify(execFile);
interface Checkout {
  directory: string;
  remove: () => void;
}
/** This test's checkout, and a second checkout whose lab comes up at the same time on the same machine. */
interface Lab extends Checkout {
  other: Checkout & { subnet: string };
}
const test = suite<Lab>('the lab environment, for real, on whole-machine namespace hosts');
/** The whole lab, deployment after deployment (about 9 minutes): the long tier alone (npm run test:long). */
const labTest = longTier(test);

const cli = runDeploy;

const labHosts = (directory: string, command: 'up' | 'down', env: Record<string, string> = {}) =>
  run(process.execPath, ['--import', 'tsx', 'environments/lab-hosts.ts', command], { cwd: directory, env: { ...process.env, ...env } });

// Two checkouts' labs come up at once on one machine (issue 18): each gets its own subnet, hosts and /run.
test.before(async (context) => {
  if (!longTierRuns) return;
  Object.assign(context, copyProject());
  context.other = { ...copyProject(), subnet: '10.212.71' };
  await Promise.all([labHosts(context.directory, 'up'), labHosts(context.other.directory, 'up', { LAB_SUBNET: context.other.subnet })]);
});

test.after(async (context) => {
  if (!longTierRuns) return;
  await Promise.all([
    labHosts(context.directory, 'down').catch(() => undefined),
    labHosts(context.other.directory, 'down', { LAB_SUBNET: context.other.subnet }).catch(() => undefined),
  ]);
  context.remove();
  context.other.remove();
});

const rig = (directory: string) => JSON.parse(readFileSync(path.join(directory, '.cache', 'lab', 'rig.json'), 'utf8')) as DetachedRig;
/** Inside a lab host: its own root, /run and processes. */
const inHost = (directory: string, host: string, command: readonly string[]) => TestHostRig.execDetached(rig(directory), host, command);
const hostFile = (directory: string, host: string, file: string) => inHost(directory, host, ['cat', file]);
/** The lab's addresses: each checkout (here, the test's copy) has its own subnet. */
const address = (directory: string, host: string) => rig(directory).hosts.find((entry) => entry.name === host)!.address;
const dig = async (directory: string, name: string) => (await run('dig', ['+short', `@${address(directory, 'kvm1')}`, `${name}.lab.openspace.test`, 'A'])).stdout.trim();

labTest('host preparation and DNS run for real; a re-run skips them; --force gives changed=0; a changed value re-runs what read it', withTimeout(600_000, async ({ directory }: Lab) => {
  // A pid file an earlier dnsmasq left (dnsmasq does not remove it), whose pid now belongs to another
  // process of the host: the DNS task must start its dnsmasq, and not signal that process (a HUP would end it).
  const pidFile = '/run/openspace-dnsmasq-lab.openspace.test.pid';
  const bystander = (await inHost(directory, 'kvm1', ['sh', '-c', `sleep 600 >/dev/null 2>&1 & echo $! | tee ${pidFile}`])).trim();
  // A node with cloud-init, as the site's VMs have it.
  await inHost(directory, 'osdc-w1', ['mkdir', '-p', '/etc/cloud/cloud.cfg.d']);
  const first = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(first.code, 0, first.stdout + first.stderr);
  assert.is((await inHost(directory, 'kvm1', ['sh', '-c', `kill -0 ${bystander} && echo alive`])).trim(), 'alive', 'the process behind the stale pid file was left alone');
  // A cluster's nodes are prepared by one playbook (a batch): the first one's output, the others' note.
  assert.match(first.stdout, /\[node-prep\[node=osdc-cp1\]\] \$ ansible-playbook/);
  assert.match(first.stdout, "[node-prep[node=osdc-w1]] runs as one body with node-prep[node=osdc-cp1]: the output is in node-prep[node=osdc-cp1]'s log");
  assert.is([...first.stdout.matchAll(/\$ ansible-playbook .*node-prep\.yml/g)].length, 3, 'one node-prep playbook per cluster');
  // Whole machines: packages installed from the lab's mirror, network sysctls applied in the host's own
  // network namespace, kernel-wide ones written for boot and reported as skipped.
  const installed = await inHost(directory, 'osdc-w1', ['dpkg-query', '-W', '-f', '${Package} ${Status}\n', 'conntrack', 'socat', 'containerd']);
  for (const name of ['conntrack', 'socat', 'containerd']) assert.match(installed, `${name} install ok installed`);
  assert.match(await inHost(directory, 'mcm-cp1', ['sh', '-c', 'dpkg-query -W containerd 2>&1 || true']), 'no packages found matching containerd', 'RKE2 brings its own containerd');
  assert.is((await inHost(directory, 'osdc-w1', ['sysctl', '-n', 'net.ipv4.ip_forward'])).trim(), '1');
  assert.match(await hostFile(directory, 'osdc-w1', '/etc/sysctl.d/90-openspace-k8s.conf'), 'fs.inotify.max_user_watches=524288');
  // The NodePort range kept from local ephemeral ports (per network namespace: applied); the kernel settings
  // the kubelet protects (protectKernelDefaults) written for boot, and reported as not set now.
  assert.is((await inHost(directory, 'osdc-w1', ['sysctl', '-n', 'net.ipv4.ip_local_reserved_ports'])).trim(), '30000-32767');
  for (const line of ['net.ipv4.ip_local_reserved_ports=30000-32767', 'kernel.panic=10', 'kernel.panic_on_oops=1', 'vm.overcommit_memory=1', 'vm.panic_on_oom=0', 'kernel.keys.root_maxkeys=1000000', 'kernel.keys.root_maxbytes=25000000']) {
    assert.match(await hostFile(directory, 'osdc-w1', '/etc/sysctl.d/90-openspace-k8s.conf'), `${line}\n`);
  }
  assert.match(first.stdout, 'skipped: sysctl -w kernel.keys.root_maxbytes, kernel.keys.root_maxkeys, kernel.panic, kernel.panic_on_oops, vm.overcommit_memory, vm.panic_on_oom (the kernel is shared)');
  assert.match(await hostFile(directory, 'osdc-w1', '/etc/containerd/config.toml'), 'SystemdCgroup = true');
  // The node's containerd reads the file it was given as meant: its own dump of its configuration.
  const containerdConfig = await inHost(directory, 'osdc-w1', ['containerd', 'config', 'dump']);
  for (const line of ['discard_unpacked_layers = true', 'SystemdCgroup = true', 'config_path = "/etc/containerd/certs.d"']) assert.match(containerdConfig, line);
  assert.match(first.stdout, /skipped: modprobe overlay, br_netfilter \(the kernel is shared\)/);
  assert.match(await hostFile(directory, 'kvm1', '/etc/network/interfaces.d/openspace-bridges'), 'auto br-lab');
  assert.match(await inHost(directory, 'kvm1', ['ip', '-br', 'link', 'show', 'br-lab']), /^br-lab\s/, 'ifreload made the bridge');
  assert.match(await hostFile(directory, 'kvm1', '/etc/openspace/hosts'), `${address(directory, 'osdc-cp1')} osdc-cp1.lab.openspace.test`);
  assert.is(await dig(directory, 'osdc-cp1'), address(directory, 'osdc-cp1'));
  // Its SSH host keys outlive a change of its cloud-init settings (a new instance id from Proxmox).
  assert.match(await hostFile(directory, 'osdc-w1', '/etc/cloud/cloud.cfg.d/99-onboarder-host-keys.cfg'), /^ssh_deletekeys: false$/m);
  // Every node resolves through the site's DNS (no systemd-resolved on these hosts: /etc/resolv.conf): a
  // name of the zone, given bare, resolves on the node itself.
  assert.is(await hostFile(directory, 'osdc-w1', '/etc/resolv.conf'), `# Managed by Onboarder: the site's DNS (dns.servers) and its zone.\nsearch lab.openspace.test\nnameserver ${address(directory, 'kvm1')}\nnameserver ${address(directory, 'kvm2')}\noptions timeout:2 attempts:2\n`);
  const registryLine = new RegExp(`^${address(directory, 'kvm1').replace(/\./g, '\\.')}\\s+registry\\.lab\\.openspace\\.test`);
  assert.match(await inHost(directory, 'osdc-w1', ['getent', 'hosts', 'registry']), registryLine);
  // Both servers serve the zone; with the first one down, the nodes resolve through the second, and the next
  // run finds it down (its drift check asks each server) and starts it again.
  assert.is((await run('dig', ['+short', `@${address(directory, 'kvm2')}`, 'osdc-cp1.lab.openspace.test', 'A'])).stdout.trim(), address(directory, 'osdc-cp1'));
  await inHost(directory, 'kvm1', ['sh', '-c', `kill $(cat ${pidFile})`]);
  assert.match(await inHost(directory, 'osdc-w1', ['getent', 'hosts', 'registry']), registryLine);
  const restarted = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(restarted.code, 0, restarted.stdout);
  assert.match(restarted.stdout, /\[dns\] run: drift: kvm1: \S+ resolves to nothing/);
  assert.not.match(restarted.stdout, /drift: .*kvm2:/);
  assert.is(await dig(directory, 'osdc-cp1'), address(directory, 'osdc-cp1'));
  // Each cluster's applications name answers with the nodes ingress-nginx runs on: osdc's worker, osms's
  // control plane (it has no worker), every MCM node.
  assert.is(await dig(directory, 'shop.apps.osdc'), address(directory, 'osdc-w1'));
  assert.is(await dig(directory, 'grafana.apps.osms'), address(directory, 'osms-cp1'));
  assert.is(await dig(directory, 'rancher.apps.mcm'), address(directory, 'mcm-cp1'));

  const second = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(second.code, 0, second.stdout);
  assert.match(second.stdout, '[dns] up to date');
  assert.match(second.stdout, '[node-prep[node=osdc-w1]] up to date');
  assert.not.match(second.stdout, 'ansible-playbook');
  assert.match(second.stdout, /succeeded: 0 ran, 22 skipped/, 'a second run skips them all');
  assert.match(second.stdout, "[golden-image] not applicable: the nodes exist already (infrastructure: 'existing')");

  const forced = await cli(directory, ['--env', 'lab', 'hosts', '--force', 'base:packages,base:bridges,node-prep[node=osdc-w1]']);
  assert.is(forced.code, 0, forced.stdout);
  assert.match(forced.stdout, /\[base:packages\] kvm1\s+: ok=\d+\s+changed=0/);
  assert.match(forced.stdout, /\[base:bridges\] kvm1\s+: ok=\d+\s+changed=0/);
  assert.match(forced.stdout, /\[node-prep\[node=osdc-w1\]\] osdc-w1\s+: ok=\d+\s+changed=0/);

  // A batch where one node fails (its python is gone): Ansible goes on with the other, whose stamp is
  // written; only the failed node fails, and once mended the next run prepares it alone.
  await inHost(directory, 'osdc-w1', ['mv', '/usr/bin/python3', '/usr/bin/python3.off']);
  const both = 'node-prep[node=osdc-cp1],node-prep[node=osdc-w1]';
  const partial = await cli(directory, ['--env', 'lab', 'node-prep[node=osdc-cp1]', 'node-prep[node=osdc-w1]', '--force', both]);
  await inHost(directory, 'osdc-w1', ['mv', '/usr/bin/python3.off', '/usr/bin/python3']);
  assert.is(partial.code, 1, partial.stdout + partial.stderr);
  // One playbook for both (the first of the batch, by recorded durations, has the output), then the retry
  // (retries: 1) for the failed node alone.
  const playbooks = [...partial.stdout.matchAll(/^\[(.+?)\] \$ ansible-playbook .*--forks (\d+) .*node-prep\.yml$/gm)].map((match) => ({ task: match[1], forks: match[2] }));
  assert.equal(playbooks.map(({ forks }) => forks), ['2', '1'], partial.stdout);
  assert.is(playbooks[1]!.task, 'node-prep[node=osdc-w1]');
  const leader = playbooks[0]!.task!;
  const other = leader === 'node-prep[node=osdc-w1]' ? 'node-prep[node=osdc-cp1]' : 'node-prep[node=osdc-w1]';
  assert.match(partial.stdout, `[${other}] runs as one body with ${leader}`);
  assert.match(partial.stdout, '[node-prep[node=osdc-cp1]] done in');
  assert.match(partial.stdout, /failed: 1 ran, \d+ skipped, 1 failed/);
  assert.match(partial.stdout, 'FAILED node-prep[node=osdc-w1]: command failed with exit code 2');
  const mended = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(mended.code, 0, mended.stdout);
  assert.equal([...mended.stdout.matchAll(/^\[(.+?)\] run: (.*)$/gm)].map((match) => match[1]).sort(), ['node-prep[node=osdc-w1]'], mended.stdout);

  const labFile = path.join(directory, 'environments', 'lab.ts');
  // Only node-prep reads packages.nodes: it re-runs for each node (and the group target after it), nothing else.
  writeFileSync(labFile, readFileSync(labFile, 'utf8').replace("nodes: ['python3', 'conntrack', 'socat']", "nodes: ['python3', 'conntrack', 'socat', 'openssh-client']"));
  let changed = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(changed.code, 0, changed.stdout);
  const ranTasks = (output: string) => [...output.matchAll(/^\[(.+?)\] run: (.*)$/gm)].map((match) => match[1]).sort();
  assert.equal(ranTasks(changed.stdout), ['hosts', 'node-prep[node=mcm-cp1]', 'node-prep[node=osdc-cp1]', 'node-prep[node=osdc-w1]', 'node-prep[node=osms-cp1]'], changed.stdout);
  assert.match(changed.stdout, /\[node-prep\[node=osdc-w1\]\] run: .*config packages\.nodes/);

  // A DNS record changes: the zone is rewritten and served; what depends on DNS follows.
  writeFileSync(labFile, readFileSync(labFile, 'utf8').replace("records: [{ name: 'registry', type: 'A', value: address('kvm1') }]", "records: [{ name: 'registry', type: 'A', value: '192.0.2.99' }]"));
  changed = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(changed.code, 0, changed.stdout);
  assert.match(changed.stdout, '[dns] run: config dns.records[0].value changed');
  assert.is(await dig(directory, 'registry'), '192.0.2.99');
  // A CNAME added, then pointed elsewhere: dnsmasq reads CNAMEs only when it starts, so the changed
  // configuration starts it again (a reload would keep serving the old alias).
  const withAlias = (target: string) => readFileSync(labFile, 'utf8').replace(/records: \[\{ name: 'registry', type: 'A', value: '192\.0\.2\.99' \}(, \{[^}]*\})?\]/, `records: [{ name: 'registry', type: 'A', value: '192.0.2.99' }, { name: 'mirror', type: 'CNAME', value: '${target}.lab.openspace.test' }]`);
  writeFileSync(labFile, withAlias('registry'));
  changed = await cli(directory, ['--env', 'lab', 'dns']);
  assert.is(changed.code, 0, changed.stdout);
  assert.is(await dig(directory, 'mirror'), 'registry.lab.openspace.test.\n192.0.2.99');
  writeFileSync(labFile, withAlias('kvm1'));
  changed = await cli(directory, ['--env', 'lab', 'dns']);
  assert.is(changed.code, 0, changed.stdout);
  assert.is(await dig(directory, 'mirror'), `kvm1.lab.openspace.test.\n${address(directory, 'kvm1')}`);
  assert.match((await cli(directory, ['--env', 'lab', 'dns'])).stdout, '[dns] up to date');
  // kvm1 run by systemd (here the FAKE systemctl of test/fixtures/fake-rke2: no systemd runs on a test
  // host): the zone's dnsmasq becomes a unit, enabled, so that the site's DNS comes back when the host
  // restarts; the dnsmasq started by hand before is stopped. Nothing changed: the unit reloads.
  const fakeSystemctl = readFileSync(path.join(repositoryRoot, 'test', 'fixtures', 'fake-rke2', 'systemctl')).toString('base64');
  await inHost(directory, 'kvm1', ['sh', '-c', 'echo "$1" | base64 -d > /usr/local/sbin/systemctl && chmod 755 /usr/local/sbin/systemctl && mkdir -p /run/systemd/system', 'install', fakeSystemctl]);
  const byHand = (await inHost(directory, 'kvm1', ['cat', pidFile])).trim();
  const unit = 'openspace-dnsmasq-lab-openspace-test';
  const systemdCalls = async () => (await inHost(directory, 'kvm1', ['cat', '/var/log/fake-systemd/calls.log'])).trim().split('\n').map((line) => (JSON.parse(line) as { argv: string[] }).argv.slice(1).join(' '));
  changed = await cli(directory, ['--env', 'lab', 'dns', '--force', 'dns']);
  assert.is(changed.code, 0, changed.stdout);
  assert.match(await hostFile(directory, 'kvm1', `/etc/systemd/system/${unit}.service`), 'ExecStart=/usr/sbin/dnsmasq --keep-in-foreground --conf-file=/etc/openspace/dnsmasq.conf --pid-file=/run/openspace-dnsmasq-lab.openspace.test.pid --user=root\nExecReload=/bin/kill -HUP $MAINPID\nRestart=always');
  assert.equal(await systemdCalls(), ['daemon-reload', `enable ${unit}.service`, `restart ${unit}.service`]);
  assert.match(await inHost(directory, 'kvm1', ['sh', '-c', `kill -0 ${byHand} 2>/dev/null && echo running || echo stopped`]), 'stopped');
  const underUnit = (await hostFile(directory, 'kvm1', `/run/fake-systemd/${unit}.pid`)).trim();
  assert.is(await dig(directory, 'osdc-cp1'), address(directory, 'osdc-cp1'));
  changed = await cli(directory, ['--env', 'lab', 'dns', '--force', 'dns']);
  assert.is(changed.code, 0, changed.stdout);
  assert.equal((await systemdCalls()).slice(3), ['daemon-reload', `enable ${unit}.service`, `reload-or-restart ${unit}.service`]);
  assert.is((await hostFile(directory, 'kvm1', `/run/fake-systemd/${unit}.pid`)).trim(), underUnit);
  await inHost(directory, 'kvm1', ['rm', '-rf', '/run/systemd/system', '/usr/local/sbin/systemctl']);

  // A cluster added to the site (issue 17): its own tasks run, and DNS, which serves its names. No other
  // task re-runs: each playbook's inventory holds only its own hosts.
  const withCluster = readFileSync(labFile, 'utf8').replace(
    '  },\n  dns: {',
    "    'osdc-b': { role: 'osdc', distribution: 'kubeadm', controlPlane: [node('osdc-b-cp1', 5101)], apiAddress: address('osdc-b-cp1'), podCidr: '10.48.0.0/16', serviceCidr: '10.49.0.0/16' },\n  },\n  dns: {",
  );
  assert.match(withCluster, "'osdc-b': { role: 'osdc'");
  writeFileSync(labFile, withCluster);
  const added = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(added.code, 0, added.stdout);
  assert.equal(ranTasks(added.stdout), ['cluster-vms[cluster=osdc-b]', 'dns', 'hosts', 'node-prep[node=osdc-b-cp1]'], added.stdout);
  assert.match(await hostFile(directory, 'osdc-b-cp1', '/etc/sysctl.d/90-openspace-k8s.conf'), 'net.ipv4.ip_forward=1');
  assert.is(await dig(directory, 'osdc-b-cp1'), address(directory, 'osdc-b-cp1'));

  // A worker added to a cluster: its cluster's VM step (which answers for every node) and DNS, then the
  // new node's preparation alone. The cluster's other nodes are not touched.
  const modified = (host: string) => inHost(directory, host, ['date', '-r', '/etc/sysctl.d/90-openspace-k8s.conf', '+%s%N']);
  const scaled = readFileSync(labFile, 'utf8').replace("workers: [node('osdc-w1', 4111)]", "workers: [node('osdc-w1', 4111), node('osdc-w2', 4112)]");
  assert.match(scaled, "node('osdc-w2', 4112)");
  writeFileSync(labFile, scaled);
  const untouched = await Promise.all(['osdc-cp1', 'osdc-w1'].map(modified));
  const plan = await cli(directory, ['--env', 'lab', 'hosts', '--dry-run']);
  // The plan says what changes: the cluster's VM step gains a node, the new node's preparation has no stamp.
  assert.match(plan.stdout, /cluster-vms\[cluster=osdc\]\s+run\s+config clusters\.osdc\.workers changed: 1 -> 2 entries \(adds osdc-w2\)/, plan.stdout);
  assert.match(plan.stdout, /node-prep\[node=osdc-w2\]\s+run\s+no stamp/);
  assert.match(plan.stdout, /node-prep\[node=osdc-w1\]\s+skip\s+up to date/);
  const out = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(out.code, 0, out.stdout);
  assert.equal(ranTasks(out.stdout), ['cluster-vms[cluster=osdc]', 'dns', 'hosts', 'node-prep[node=osdc-w2]'], out.stdout);
  assert.match(out.stdout, /\[node-prep\[node=osdc-w2\]\] osdc-w2\s+: ok=\d+\s+changed=[1-9]/);
  assert.not.match(out.stdout, /\] osdc-w1\s+: ok=/, 'Ansible did not connect to the other worker');
  assert.equal(await Promise.all(['osdc-cp1', 'osdc-w1'].map(modified)), untouched);
}));

labTest("a second checkout's lab, up at the same time as this one, deploys beside it with its own subnet, DNS and /run", withTimeout(600_000, async ({ directory, other }: Lab) => {
  const runs = await Promise.all([
    cli(other.directory, ['--env', 'lab', '--only', 'base:copy-ssh-key,base:packages,dns'], { LAB_SUBNET: other.subnet }),
    cli(directory, ['--env', 'lab', '--only', 'base:copy-ssh-key,base:packages,dns']),
  ]);
  for (const result of runs) assert.is(result.code, 0, result.stdout + result.stderr);
  // Each lab's DNS answers with its own addresses: no dnsmasq was signalled or replaced by the other lab's.
  assert.is(address(other.directory, 'osdc-cp1'), `${other.subnet}.14`);
  assert.is(await dig(other.directory, 'osdc-cp1'), `${other.subnet}.14`);
  assert.is(await dig(directory, 'osdc-cp1'), address(directory, 'osdc-cp1'));
  assert.is.not(address(directory, 'osdc-cp1'), address(other.directory, 'osdc-cp1'));
}));

// A connected site behind an HTTP proxy (a real tinyproxy on the rig's bridge, before the lab's package
// mirror): every node's apt and container runtime take it, the site's own networks stay direct, and a proxy
// taken out of the environment is taken off the nodes.
labTest("the site's proxy: apt on the nodes fetches through it, containerd and RKE2 read it, and it goes when taken out", withTimeout(600_000, async ({ directory }: Lab) => {
  const subnet = address(directory, 'kvm1').replace(/\.\d+$/, '');
  const proxy = await startHttpProxy(`${subnet}.1`, `${subnet}.0/24`);
  const labFile = path.join(directory, 'environments', 'lab.ts');
  const airGapped = readFileSync(labFile, 'utf8');
  try {
    const connected = airGapped
      .replace("kernelWideSettings: 'skip', airGapped: true }", "kernelWideSettings: 'skip' }")
      .replace("  infrastructure: 'existing',\n", `  infrastructure: 'existing',\n  networks: [{ name: 'lab', vlan: 1, cidr: '${subnet}.0/24', gateway: '${subnet}.1' }],\n  proxy: { http: '${proxy.url}', noProxy: ['.corp.example'] },\n`)
      .replace("records: [{ name: 'registry'", `forwarders: ['${subnet}.1'], records: [{ name: 'registry'`);
    assert.match(connected, 'proxy: { http:');
    assert.match(connected, 'forwarders:');
    writeFileSync(labFile, connected);
    const targets = ['node-prep[node=osdc-w1]', 'node-prep[node=mcm-cp1]'];
    const plan = await cli(directory, ['--env', 'lab', ...targets, '--dry-run']);
    assert.match(plan.stdout, /node-prep\[node=osdc-w1\]\s+run\s+config proxy/, plan.stdout);
    const first = await cli(directory, ['--env', 'lab', ...targets]);
    assert.is(first.code, 0, first.stdout + first.stderr);
    // One root-only file holds the proxy (its URL may hold credentials); the runtime's unit reads it.
    const settings = await inHost(directory, 'osdc-w1', ['stat', '-c', '%a %U', '/etc/onboarder/proxy.env']);
    assert.is(settings.trim(), '600 root');
    const environment = await hostFile(directory, 'osdc-w1', '/etc/onboarder/proxy.env');
    assert.match(environment, `HTTPS_PROXY="${proxy.url}"`);
    assert.match(environment, `\nno_proxy="localhost,127.0.0.1,${subnet}.0/24,10.46.0.0/16,10.47.0.0/16,lab.openspace.test,.svc,.cluster.local,.corp.example"`);
    assert.match(await hostFile(directory, 'osdc-w1', '/etc/systemd/system/containerd.service.d/onboarder-proxy.conf'), 'EnvironmentFile=/etc/onboarder/proxy.env');
    assert.match(await hostFile(directory, 'mcm-cp1', '/etc/systemd/system/rke2-server.service.d/onboarder-proxy.conf'), 'EnvironmentFile=/etc/onboarder/proxy.env');
    assert.is(await inHost(directory, 'mcm-cp1', ['find', '/etc/systemd/system', '-name', 'onboarder-proxy.conf']), '/etc/systemd/system/rke2-server.service.d/onboarder-proxy.conf\n', 'an RKE2 server node has no containerd unit to change');
    // apt, for real: the package index comes from the lab's mirror through the proxy.
    await inHost(directory, 'osdc-w1', ['apt-get', 'update', '-qq']);
    assert.ok(proxy.requests().some((request) => new RegExp(`^GET http://${subnet.replace(/\./g, '\\.')}\\.1:8080/\\S*(Release|Packages)`).test(request)), proxy.requests().join('\n'));
    const again = await cli(directory, ['--env', 'lab', ...targets]);
    assert.match(again.stdout, '[node-prep[node=osdc-w1]] up to date');

    // Taken out of the environment: taken off the nodes (apt goes straight to the mirror again).
    writeFileSync(labFile, connected.replace(/  proxy: \{[^\n]*\n/, ''));
    const removed = await cli(directory, ['--env', 'lab', ...targets]);
    assert.is(removed.code, 0, removed.stdout + removed.stderr);
    const left = await inHost(directory, 'osdc-w1', ['sh', '-c', 'ls /etc/onboarder/proxy.env /etc/apt/apt.conf.d/90onboarder-proxy /etc/systemd/system/containerd.service.d/onboarder-proxy.conf 2>&1 || true']);
    assert.is(left.match(/No such file or directory/g)?.length, 3, left);
    const requests = proxy.requests().length;
    await inHost(directory, 'osdc-w1', ['apt-get', 'update', '-qq']);
    assert.is(proxy.requests().length, requests, 'apt no longer asks the proxy');
  } finally {
    writeFileSync(labFile, airGapped);
    proxy.stop();
  }
}));

labTest("the management hosts' security patches: each host with upgrades pending is patched in turn, its DNS answering before the next; nothing pending, nothing runs; a patch for one host patches that host only", withTimeout(300_000, async ({ directory }: Lab) => {
  const scratch = path.join(directory, '.cache', 'patches');
  mkdirSync(scratch, { recursive: true });
  const versions = Object.fromEntries(['1.0', '1.1', '1.2'].map((version) => [version, probePackage(scratch, version)]));
  const lab: HostAccess = { exec: (host, command) => inHost(directory, host.name, command), pathIn: (host, file) => TestHostRig.pathInDetached(rig(directory), host.name, file) };
  const hosts = ['kvm1', 'kvm2'].map((name) => rig(directory).hosts.find((host) => host.name === name)!);
  try {
    for (const host of hosts) {
      await installPackage(lab, host, versions['1.0']!);
      await publishPatches(lab, host, [versions['1.1']!]);
    }
    const first = await cli(directory, ['--env', 'lab', 'management-patches']);
    assert.is(first.code, 0, first.stdout + first.stderr);
    assert.equal(await Promise.all(hosts.map((host) => probeVersion(lab, host))), ['1.1', '1.1']);
    // One host at a time, in the order the environment lists them; no systemd on a lab host, so no reboot.
    assert.ok(first.stdout.indexOf('kvm1 upgrades openspace-patch-probe') < first.stdout.indexOf('kvm2 upgrades openspace-patch-probe'), first.stdout);
    assert.match(first.stdout, 'skipped: reboot of kvm2 (no systemd)');
    assert.is(await dig(directory, 'osdc-cp1'), address(directory, 'osdc-cp1'), "the site's DNS answers after the roll");

    const again = await cli(directory, ['--env', 'lab', 'management-patches']);
    assert.is(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, '[management-patches] up to date');
    assert.not.match(again.stdout, 'ansible-playbook');

    // A patch for kvm2 alone, kvm2 being a Proxmox node too (the site's KVM hosts run Proxmox VE): kvm1 is
    // left as it is, and kvm2 is upgraded (a full upgrade) but not rebooted: its cluster VMs would stop
    // undrained, so the run says what to do.
    const labFile = path.join(directory, 'environments', 'lab.ts');
    const site = readFileSync(labFile, 'utf8');
    writeFileSync(path.join(directory, 'proxmox-token'), 'lab-proxmox-token-not-used-here\n', { mode: 0o600 });
    const withProxmox = site.replace(
      "  infrastructure: 'existing',\n",
      `  infrastructure: 'existing',\n  proxmox: { apiUrl: 'https://${address(directory, 'kvm2')}:8006/api2/json', tokenId: 'packer@pve!onboarder', token: { file: 'proxmox-token' }, nodes: [{ name: 'kvm2', address: '${address(directory, 'kvm2')}' }], storage: { pool: 'local-lvm', type: 'lvm-thin', isoStorage: 'local' }, templates: {} },\n`,
    );
    assert.match(withProxmox, 'proxmox: {');
    writeFileSync(labFile, withProxmox);
    try {
      await publishPatches(lab, hosts[1]!, [versions['1.2']!]);
      const one = await cli(directory, ['--env', 'lab', 'management-patches']);
      assert.is(one.code, 0, one.stdout + one.stderr);
      // The step read the Proxmox nodes, so it runs for that change (the drift probe names pending patches
      // when nothing else changed: os-patches' tests show it).
      assert.match(one.stdout, /\[management-patches\] run: .*config proxmox changed/, one.stdout);
      assert.match(one.stdout, 'kvm2 upgrades openspace-patch-probe');
      assert.not.match(one.stdout, 'kvm1 upgrades');
      assert.equal(await Promise.all(hosts.map((host) => probeVersion(lab, host))), ['1.1', '1.2']);
      assert.match(one.stdout, 'reboot needed: kvm2 is a Proxmox node, whose VMs would stop with it: move them (or drain their nodes) and restart it');
      assert.not.match(one.stdout, 'skipped: reboot of kvm2');
    } finally {
      writeFileSync(labFile, site);
    }

    // A mirror that does not answer (nothing listens on the host's own port 9): apt only warns, and the
    // probe would find nothing pending in lists it could not refresh; it fails with apt's words instead.
    writeFileSync(lab.pathIn(hosts[0]!, '/etc/apt/sources.list.d/patches.list'), 'deb [trusted=yes] http://127.0.0.1:9/no-such-mirror ./\n');
    const unreadable = await cli(directory, ['--env', 'lab', 'management-patches']);
    assert.is(unreadable.code, 1, unreadable.stdout + unreadable.stderr);
    assert.match(unreadable.stdout, 'Failed to fetch http://127.0.0.1:9/no-such-mirror/./InRelease', unreadable.stdout);
    assert.not.match(unreadable.stdout, '[management-patches] up to date');
  } finally {
    for (const host of hosts) withdrawPatches(lab, host);
  }
}));

test.run();
