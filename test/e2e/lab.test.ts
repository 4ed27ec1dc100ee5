import { execFile, spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withTimeout, type CliResult } from '../helpers/project.js';
import { copyProject, runDeploy } from '../helpers/project-copy.js';

const run = promisify(execFile);
interface Lab {
  directory: string;
  remove: () => void;
}
const test = suite<Lab>('the lab environment, for real, on namespace hosts');

const cli = runDeploy;

test.before(async (context) => {
  Object.assign(context, copyProject());
  await run(process.execPath, ['--import', 'tsx', 'environments/lab-hosts.ts', 'up'], { cwd: context.directory });
});

test.after(async (context) => {
  await run(process.execPath, ['--import', 'tsx', 'environments/lab-hosts.ts', 'down'], { cwd: context.directory }).catch(() => undefined);
  context.remove();
});

const hostFile = (directory: string, host: string, file: string) => path.join(directory, '.cache', 'lab', 'rig', host, file);

test('host preparation and DNS run for real; a re-run skips them; --force gives changed=0; a changed value re-runs what read it', withTimeout(600_000, async ({ directory }: Lab) => {
  // A pid file an earlier dnsmasq left (dnsmasq does not remove it), whose pid now belongs to another
  // process: the DNS task must start its dnsmasq, and not signal that process (a HUP would end it).
  const bystander = spawn('sleep', ['600'], { stdio: 'ignore' });
  writeFileSync('/run/openspace-dnsmasq-lab.openspace.test.pid', `${bystander.pid}\n`);
  let first: CliResult;
  try {
    first = await cli(directory, ['--env', 'lab', 'hosts']);
    assert.equal({ exitCode: bystander.exitCode, signalCode: bystander.signalCode }, { exitCode: null, signalCode: null }, 'the process behind the stale pid file was left alone');
  } finally {
    bystander.kill();
  }
  assert.is(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /\[node-prep\[node=osdc-w1\]\] \$ ansible-playbook/);
  assert.match(readFileSync(hostFile(directory, 'osdc-w1', 'etc/sysctl.d/90-openspace-k8s.conf'), 'utf8'), 'net.ipv4.ip_forward = 1');
  assert.match(readFileSync(hostFile(directory, 'kvm1', 'etc/network/interfaces.d/openspace-bridges'), 'utf8'), 'auto br-lab');
  assert.match(readFileSync(hostFile(directory, 'kvm1', 'etc/openspace/hosts'), 'utf8'), '10.213.7.14 osdc-cp1.lab.openspace.test');
  const { stdout: answer } = await run('dig', ['+short', '@10.213.7.11', 'osdc-cp1.lab.openspace.test', 'A']);
  assert.is(answer.trim(), '10.213.7.14');

  const second = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(second.code, 0, second.stdout);
  assert.match(second.stdout, '[dns] up to date');
  assert.match(second.stdout, '[node-prep[node=osdc-w1]] up to date');
  assert.not.match(second.stdout, 'ansible-playbook');
  assert.match(second.stdout, /succeeded: 0 ran, 22 skipped/, 'a second run skips them all');
  assert.match(second.stdout, "[golden-image] not applicable: the nodes exist already (infrastructure: 'existing')");

  const forced = await cli(directory, ['--env', 'lab', 'hosts', '--force', 'base:packages,node-prep[node=osdc-w1]']);
  assert.is(forced.code, 0, forced.stdout);
  assert.match(forced.stdout, /\[base:packages\] kvm1\s+: ok=1\s+changed=0/);
  assert.match(forced.stdout, /\[node-prep\[node=osdc-w1\]\] osdc-w1\s+: ok=\d+\s+changed=0/);
  assert.match(forced.stdout, '[base:bridges] up to date');

  const labFile = path.join(directory, 'environments', 'lab.ts');
  // Only node-prep reads packages.nodes: it re-runs for each node (and the group target after it), nothing else.
  writeFileSync(labFile, readFileSync(labFile, 'utf8').replace("nodes: ['python3']", "nodes: ['python3', 'openssh-client']"));
  let changed = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(changed.code, 0, changed.stdout);
  const ranTasks = (output: string) => [...output.matchAll(/^\[(.+?)\] run: (.*)$/gm)].map((match) => match[1]).sort();
  assert.equal(ranTasks(changed.stdout), ['hosts', 'node-prep[node=mcm-cp1]', 'node-prep[node=osdc-cp1]', 'node-prep[node=osdc-w1]', 'node-prep[node=osms-cp1]'], changed.stdout);
  assert.match(changed.stdout, /\[node-prep\[node=osdc-w1\]\] run: .*config packages\.nodes/);

  // A DNS record changes: the zone is rewritten and served; what depends on DNS follows.
  writeFileSync(labFile, readFileSync(labFile, 'utf8').replace("records: [{ name: 'registry', type: 'A', value: address('kvm1') }]", "records: [{ name: 'registry', type: 'A', value: '10.213.7.99' }]"));
  changed = await cli(directory, ['--env', 'lab', 'hosts']);
  assert.is(changed.code, 0, changed.stdout);
  assert.match(changed.stdout, '[dns] run: config dns.records[0].value changed');
  const { stdout: registry } = await run('dig', ['+short', '@10.213.7.11', 'registry.lab.openspace.test', 'A']);
  assert.is(registry.trim(), '10.213.7.99');

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
  assert.match(readFileSync(hostFile(directory, 'osdc-b-cp1', 'etc/sysctl.d/90-openspace-k8s.conf'), 'utf8'), 'net.ipv4.ip_forward = 1');
  const { stdout: newNode } = await run('dig', ['+short', '@10.213.7.11', 'osdc-b-cp1.lab.openspace.test', 'A']);
  assert.is(newNode.trim(), '10.213.7.17');

  // A worker added to a cluster: its cluster's VM step (which answers for every node) and DNS, then the
  // new node's preparation alone. The cluster's other nodes are not touched.
  const sysctl = (host: string) => hostFile(directory, host, 'etc/sysctl.d/90-openspace-k8s.conf');
  const scaled = readFileSync(labFile, 'utf8').replace("workers: [node('osdc-w1', 4111)]", "workers: [node('osdc-w1', 4111), node('osdc-w2', 4112)]");
  assert.match(scaled, "node('osdc-w2', 4112)");
  writeFileSync(labFile, scaled);
  const untouched = ['osdc-cp1', 'osdc-w1'].map((host) => statSync(sysctl(host)).mtimeMs);
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
  assert.equal(['osdc-cp1', 'osdc-w1'].map((host) => statSync(sysctl(host)).mtimeMs), untouched);
}));

test.run();
