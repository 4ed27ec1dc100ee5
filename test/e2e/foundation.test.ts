// The seed's phases 1-2 (cluster-foundation-setup.py) run for real over SSH, against a FAKE Proxmox command
// line (test/fixtures/fake-proxmox: no Proxmox runs here) on whole-machine test hosts (each its own
// Debian root; base runs for real on kvm1 first): state and resume, drift detection, the token refreshed on every run, the cloud image skipped when
// present, the packer configuration always rewritten, --skip-phases, --force-rebuild and --status.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { TestHostRig, type TestHost } from '../../lib/lab/test-hosts.js';
import { repositoryRoot, withTimeout } from '../helpers/project.js';
import { tofuProxmoxProviderFile, ubuntuCloudRelease } from '../../images/manifest.js';
import { addEnvironment, copyProject, logsAndRecords, runDeploy } from '../helpers/project-copy.js';

interface Context {
  directory: string;
  remove: () => void;
  rig: TestHostRig;
  pve: TestHost;
}
const test = suite<Context>('foundation setup over SSH against a FAKE Proxmox');

const fakeCommands = ['pveum', 'pvesm', 'pvesh', 'qm', 'rbd', 'ceph', 'apt-get', 'virt-customize'];
const cloudImage = Buffer.from('a cloud image for the fake Proxmox\n'.repeat(4096));
const isoDirectory = '/root/pve/template/iso';

/** The FAKE Proxmox's files under the test host's /root, reached from this machine. */
function fakeHome(context: Context, ...parts: string[]): string {
  return context.rig.pathIn(context.pve, path.join('/root', 'fake-proxmox', ...parts));
}

/** The cloud image where the first node keeps it (the environment's isoDirectory), reached from this machine. */
function isoFile(context: Context): string {
  return context.rig.pathIn(context.pve, path.join(isoDirectory, 'noble-server-cloudimg-amd64.img'));
}

function calls(context: Context): string[][] {
  return readFileSync(fakeHome(context, 'calls.log'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as string[]);
}

function fakeState(context: Context): { users: Record<string, { tokens?: Record<string, { privsep: string; value_sha256: string }> }>; vms: Record<string, { template: boolean }>; storages: Record<string, string> } {
  return JSON.parse(readFileSync(fakeHome(context, 'state.json'), 'utf8'));
}

function environmentFile(rig: TestHostRig): string {
  const [kvm, pve] = rig.hosts as [TestHost, TestHost];
  const endpoint = (host: TestHost) => `{ name: '${host.name}', address: '${host.address}', port: ${host.port} }`;
  const node = (name: string, last: number, vmId: number) => `{ name: '${name}', address: '10.254.254.${last}', vmId: ${vmId} }`;
  return `import { lab } from './lab.js';
import { defineEnvironment } from './schema.js';

/** Test hosts: kvm1 (a management host, real Ansible) and pve1 (a FAKE Proxmox command line). */
export const pveLab = defineEnvironment({
  name: 'pve-lab',
  site: { name: 'Foundation test', domain: 'pve.openspace.test', kernelWideSettings: 'skip', airGapped: true },
  packages: { management: ['python3', 'bridge-utils', 'ifupdown2'], nodes: ['python3'] },
  ssh: { knownHosts: '.cache/rig/known_hosts', privateKey: '.cache/rig/id_ed25519', user: 'root' },
  managementHosts: [${endpoint(kvm).replace(/ }$/, ', bridges: [] }')}],
  networks: [{ name: 'clusters', vlan: 20, cidr: '10.254.254.0/24', gateway: '10.254.254.1' }],
  proxmox: {
    apiUrl: 'https://${pve.address}:8006/api2/json',
    tokenId: 'packer@pve!onboarder',
    token: { file: 'environments/pve-lab/proxmox-token' },
    nodes: [${endpoint(pve)}],
    storage: { pool: 'rbd-vms', type: 'rbd', isoStorage: 'rbd-iso', isoDirectory: '${isoDirectory}' },
    templates: { baseVmId: 9002, goldenVmId: 9001 },
    vmBridge: { tagVlan: false },
  },
  clusters: {
    mcm: { role: 'mcm', distribution: 'rke2', controlPlane: [${node('mcm-cp1', 21, 2101)}], apiAddress: '10.254.254.21', podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16' },
    osms: { role: 'osms', distribution: 'kubeadm', controlPlane: [${node('osms-cp1', 31, 3101)}], apiAddress: '10.254.254.31', podCidr: '10.44.0.0/16', serviceCidr: '10.45.0.0/16' },
    osdc: { role: 'osdc', distribution: 'kubeadm', controlPlane: [${node('osdc-cp1', 41, 4101)}], apiAddress: '10.254.254.41', podCidr: '10.46.0.0/16', serviceCidr: '10.47.0.0/16' },
  },
  dns: { server: ${endpoint(kvm)}, zone: 'pve.openspace.test' },
  // Air-gapped: the bundled lab's mirrors, one for each registry the images come from.
  registryMirrors: lab.registryMirrors,
  // The bundled lab's component versions, every chart pinned.
  versions: lab.versions,
});
`;
}

test.before(async (context) => {
  Object.assign(context, copyProject());
  const { directory } = context;
  context.rig = await TestHostRig.start({
    count: 2,
    names: ['kvm1', 'pve1'],
    directory: path.join(directory, '.cache', 'rig'),
    sessionPath: '/root/fake-proxmox/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    // Whole machines, each its own Debian root: the FAKE Proxmox and the node's files live in pve1's.
    wholeMachines: { packages: ['bridge-utils', 'ifupdown2'] },
  });
  context.pve = context.rig.hosts[1]!;

  // The FAKE Proxmox on pve1: its commands first on the SSH sessions' PATH, a node with an RBD pool.
  mkdirSync(fakeHome(context, 'bin'), { recursive: true });
  copyFileSync(path.join(repositoryRoot, 'test', 'fixtures', 'fake-proxmox', 'fake-proxmox.py'), fakeHome(context, 'fake-proxmox.py'));
  chmodSync(fakeHome(context, 'fake-proxmox.py'), 0o755);
  for (const command of fakeCommands) symlinkSync('/root/fake-proxmox/fake-proxmox.py', fakeHome(context, 'bin', command));
  writeFileSync(fakeHome(context, 'state.json'), JSON.stringify({ users: {}, acls: {}, vms: {}, storages: { local: 'dir', 'rbd-vms': 'rbd' }, cephfs: ['cephfs'] }));
  writeFileSync(fakeHome(context, 'calls.log'), '');
  mkdirSync(context.rig.pathIn(context.pve, isoDirectory), { recursive: true });
  // The bridge the VMs' network card goes on: a real bridge in pve1's own network namespace. This machine's
  // kernel has no bridge VLAN filtering, so the site's VMs go untagged (vmBridge.tagVlan false); a VLAN-aware
  // bridge's `ip -details` line is checked in test/unit/vm-bridge.test.ts.
  await context.rig.exec(context.pve, ['ip', 'link', 'add', 'vmbr0', 'type', 'bridge']);

  // The environment, and a small cloud image the copy's lock pins (air-gapped: verified, not fetched).
  addEnvironment(directory, 'pve-lab', 'pveLab', environmentFile(context.rig));
  mkdirSync(path.join(directory, 'environments', 'pve-lab'));
  writeFileSync(path.join(directory, 'environments', 'pve-lab', 'proxmox-token'), 'pve-lab-api-token-0123456789\n');
  const locked = { sha256: createHash('sha256').update(cloudImage).digest('hex'), size: cloudImage.length, source: 'the test' };
  writeFileSync(path.join(directory, 'images', 'manifest.lock.json'), JSON.stringify({ version: 1, artifacts: { [`file:ubuntu-cloud@${ubuntuCloudRelease}`]: locked } }));
  writeFileSync(path.join(directory, 'images', 'noble-server-cloudimg-amd64.img'), cloudImage);
});

test.after(async (context) => {
  await context.rig?.stop();
  context.remove();
});

/**
 * The foundation phase alone, for the tests after the first (which runs it with base, for real on kvm1):
 * what they change is the foundation's.
 */
const foundationTasks = ['images:fetch[artifact=ubuntu-cloud]', ...['validation', 'tools-storage', 'cloud-image', 'base-template', 'packer-user', 'packer-config'].map((name) => `foundation:${name}`), 'foundation'].join(',');
const cli = (context: Context, args: readonly string[]) =>
  runDeploy(context.directory, ['--env', 'pve-lab', ...(args[0] === 'foundation' ? ['--only', foundationTasks, ...args.slice(1)] : args)]);
const ranTasks = (output: string) => [...output.matchAll(/^\[(foundation:[^\]]+)\] run: /gm)].map((match) => match[1]).sort();
const callsSince = (context: Context, before: number) => calls(context).slice(before).map((argv) => argv.join(' '));

function packerToken(context: Context): { proxmox_username: string; proxmox_token: string } {
  return JSON.parse(readFileSync(path.join(context.directory, '.cache', 'state', 'pve-lab', 'packer', 'variables.json'), 'utf8')) as { proxmox_username: string; proxmox_token: string };
}
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

test('a first run sets up base and the foundation; a re-run skips what is done, refreshes the token, and checks the template for drift', withTimeout(600_000, async (context: Context) => {
  // The whole target: base runs for real on kvm1 (packages, bridges; no firewall here) before the foundation.
  const first = await runDeploy(context.directory, ['--env', 'pve-lab', 'foundation']);
  assert.is(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /^\[base:packages\] run: /m);
  assert.match(first.stdout, /^\[base:opnsense\] .*no firewalls in this environment/m, first.stdout);
  assert.equal(ranTasks(first.stdout), ['foundation:base-template', 'foundation:cloud-image', 'foundation:packer-config', 'foundation:packer-user', 'foundation:tools-storage', 'foundation:validation']);
  const made = callsSince(context, 0);
  for (const call of ['rbd ls rbd-vms', 'apt-get install -y libguestfs-tools', 'ceph fs ls --format json', 'pvesm add cephfs rbd-iso --fs-name cephfs --content iso,snippets', 'pveum user add packer@pve --comment Onboarder packer user', 'qm create 9002 --name ubuntu-base --memory 2048 --cores 2 --net0 virtio,bridge=vmbr0 --agent 1 --serial0 socket --vga serial0', 'qm template 9002']) {
    assert.ok(made.includes(call), `${call} in\n${made.join('\n')}`);
  }
  assert.ok(made.includes(`virt-customize -a ${isoDirectory}/noble-server-cloudimg-amd64.img.partial --install qemu-guest-agent --run-command cloud-init clean`), made.join('\n'));
  // Imported and attached in one step, whatever the storage names the volume.
  assert.ok(made.includes(`qm set 9002 --scsihw virtio-scsi-pci --scsi0 rbd-vms:0,import-from=${isoDirectory}/noble-server-cloudimg-amd64.img --ide2 rbd-vms:cloudinit --boot order=scsi0`), made.join('\n'));
  // The cloud image went up whole; the template exists and is one.
  assert.ok(readFileSync(isoFile(context)).equals(cloudImage));
  assert.equal(fakeState(context).vms['9002']?.template, true);
  // The packer user's API token: made on Proxmox without privilege separation (it holds the user's ACL),
  // written for packer, never shown or logged.
  const firstToken = packerToken(context);
  assert.is(firstToken.proxmox_username, 'packer@pve!packer');
  assert.equal(fakeState(context).users['packer@pve']?.tokens, { packer: { privsep: '0', value_sha256: sha256(firstToken.proxmox_token) } });
  assert.not.match(first.stdout + first.stderr + logsAndRecords(context.directory, 'pve-lab'), firstToken.proxmox_token);
  const envFile = readFileSync(path.join(context.directory, '.cache', 'state', 'pve-lab', 'packer', '.env'), 'utf8');
  assert.is(envFile, `PKR_VAR_proxmox_username=packer@pve!packer\nPKR_VAR_proxmox_token=${firstToken.proxmox_token}\n`);

  // Nothing changed: the cached phases are skipped, the template's drift check asks Proxmox, and the
  // credentials and packer files are refreshed (the seed's "token always refreshed").
  const before = calls(context).length;
  const second = await runDeploy(context.directory, ['--env', 'pve-lab', 'foundation']);
  assert.is(second.code, 0, second.stdout + second.stderr);
  assert.match(second.stdout, '[base:packages] up to date');
  assert.equal(ranTasks(second.stdout), ['foundation:packer-config', 'foundation:packer-user']);
  assert.match(second.stdout, '[foundation:validation] up to date');
  assert.match(second.stdout, '[foundation:base-template] up to date');
  const again = callsSince(context, before);
  assert.ok(again.includes('qm config 9002'), again.join('\n'));
  assert.ok(!again.some((call) => call.startsWith('pveum user add') || call.startsWith('qm create') || call.startsWith('virt-customize')), again.join('\n'));
  // The previous token removed, a new one added: only the new one is valid.
  assert.ok(again.indexOf('pveum user token remove packer@pve packer') < again.indexOf('pveum user token add packer@pve packer --privsep 0 --comment Onboarder: packer, replaced on every run --output-format json'), again.join('\n'));
  const secondToken = packerToken(context);
  assert.is.not(secondToken.proxmox_token, firstToken.proxmox_token);
  assert.equal(fakeState(context).users['packer@pve']?.tokens, { packer: { privsep: '0', value_sha256: sha256(secondToken.proxmox_token) } });
  assert.not.match(second.stdout + logsAndRecords(context.directory, 'pve-lab'), secondToken.proxmox_token);
}));

test("the storage driver's Proxmox account: a role with its privileges only, the user, its ACL and a token kept (0600) across runs; a token gone from Proxmox is made again", withTimeout(300_000, async (context: Context) => {
  const only = 'proxmox-csi-token';
  const tokenFile = path.join(context.directory, '.cache', 'state', 'pve-lab', 'proxmox-csi-token.json');
  const before = calls(context).length;
  const first = await runDeploy(context.directory, ['--env', 'pve-lab', '--only', only]);
  assert.is(first.code, 0, first.stdout + first.stderr);
  const made = callsSince(context, before);
  for (const call of ['pveum role add KubernetesCSI --privs VM.Audit VM.Config.Disk Datastore.Allocate Datastore.AllocateSpace Datastore.Audit', "pveum user add kubernetes-csi@pve --comment Onboarder: the clusters' storage driver (proxmox-csi-plugin)", 'pveum acl modify / --users kubernetes-csi@pve --roles KubernetesCSI']) {
    assert.ok(made.includes(call), `${call} in\n${made.join('\n')}`);
  }
  const state = fakeState(context) as unknown as { roles: Record<string, string[]>; acls: Record<string, unknown>; users: Record<string, { tokens?: Record<string, { privsep: string; value_sha256: string }> }> };
  assert.equal(state.roles.KubernetesCSI, ['Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.Audit', 'VM.Audit', 'VM.Config.Disk']);
  assert.equal(state.acls['/ kubernetes-csi@pve'], { path: '/', users: 'kubernetes-csi@pve', roles: 'KubernetesCSI' });
  const kept = JSON.parse(readFileSync(tokenFile, 'utf8')) as { tokenId: string; token: string };
  assert.is(kept.tokenId, 'kubernetes-csi@pve!csi');
  assert.equal(state.users['kubernetes-csi@pve']?.tokens, { csi: { privsep: '0', value_sha256: sha256(kept.token) } });
  assert.is(statSync(tokenFile).mode & 0o777, 0o600);
  assert.not.match(first.stdout + first.stderr + logsAndRecords(context.directory, 'pve-lab'), kept.token);

  // The token stays: every cluster's driver holds it. Its drift check asks Proxmox, and nothing runs.
  const again = await runDeploy(context.directory, ['--env', 'pve-lab', '--only', only]);
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, `[${only}] up to date`);
  assert.equal(JSON.parse(readFileSync(tokenFile, 'utf8')), kept);

  // Someone removed it on Proxmox: the next run says so and makes a new one (the role is modified in place).
  const removed = JSON.parse(readFileSync(fakeHome(context, 'state.json'), 'utf8')) as typeof state;
  delete removed.users['kubernetes-csi@pve']!.tokens!.csi;
  writeFileSync(fakeHome(context, 'state.json'), JSON.stringify(removed));
  const mended = await runDeploy(context.directory, ['--env', 'pve-lab', '--only', only]);
  assert.is(mended.code, 0, mended.stdout + mended.stderr);
  assert.match(mended.stdout, `[${only}] run: drift: the token kubernetes-csi@pve!csi is gone from Proxmox`);
  const renewed = JSON.parse(readFileSync(tokenFile, 'utf8')) as { tokenId: string; token: string };
  assert.is.not(renewed.token, kept.token);
  assert.ok(callsSince(context, before).includes('pveum role modify KubernetesCSI --privs VM.Audit VM.Config.Disk Datastore.Allocate Datastore.AllocateSpace Datastore.Audit'));
}));

test('a customization that fails leaves no image at the final name: the next run uploads and customizes again', withTimeout(300_000, async (context: Context) => {
  const image = isoFile(context);
  const statePath = fakeHome(context, 'state.json');
  // As on a node where the image was never uploaded: the customization after this upload fails.
  rmSync(image);
  writeFileSync(statePath, JSON.stringify({ ...JSON.parse(readFileSync(statePath, 'utf8')), fail_next_virt_customize: true }));
  const failed = await cli(context, ['foundation', '--force', 'foundation:cloud-image']);
  assert.is(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stdout, /\[foundation:cloud-image\] FAILED: .*virt-customize/);
  assert.not.ok(existsSync(image), 'no image at the final name');
  const before = calls(context).length;
  const resumed = await cli(context, ['foundation']);
  assert.is(resumed.code, 0, resumed.stdout + resumed.stderr);
  assert.match(resumed.stdout, '[foundation:cloud-image] run: no stamp (last run failed)');
  assert.ok(callsSince(context, before).some((call) => call.startsWith('virt-customize -a')), 'customized again');
  assert.ok(readFileSync(image).equals(cloudImage));
}));

test('drift: a template that is no longer one is rebuilt, and says why', withTimeout(300_000, async (context: Context) => {
  const statePath = fakeHome(context, 'state.json');
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  state.vms['9002'].template = false;
  writeFileSync(statePath, JSON.stringify(state));
  const before = calls(context).length;
  const run = await cli(context, ['foundation']);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, '[foundation:base-template] run: drift: VM 9002 is not a template');
  assert.equal(ranTasks(run.stdout), ['foundation:base-template', 'foundation:packer-config', 'foundation:packer-user']);
  const made = callsSince(context, before);
  assert.ok(made.includes('qm destroy 9002 --purge') && made.includes('qm template 9002'), made.join('\n'));
  assert.equal(fakeState(context).vms['9002']?.template, true);
}));

test('--force-rebuild with --skip-phases validation tools_storage: every other phase runs; a present cloud image is not uploaded again', withTimeout(300_000, async (context: Context) => {
  const before = calls(context).length;
  const run = await cli(context, ['foundation', '--force-rebuild', '--skip-phases', 'validation', 'tools_storage']);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.equal(ranTasks(run.stdout), ['foundation:base-template', 'foundation:cloud-image', 'foundation:packer-config', 'foundation:packer-user']);
  assert.match(run.stdout, '[foundation:validation] skipped (--skip)');
  assert.match(run.stdout, '[foundation:tools-storage] skipped (--skip)');
  assert.match(run.stdout, `[foundation:cloud-image] ${isoDirectory}/noble-server-cloudimg-amd64.img is present`);
  const made = callsSince(context, before);
  assert.ok(!made.some((call) => call.startsWith('rbd ') || call.startsWith('apt-get') || call.startsWith('virt-customize')), made.join('\n'));

  const status = await cli(context, ['--status', 'foundation']);
  assert.is(status.code, 0, status.stderr);
  for (const task of ['foundation:validation', 'foundation:tools-storage', 'foundation:cloud-image', 'foundation:base-template']) {
    // Each has its stamp, base's too (the first test ran it).
    assert.match(status.stdout, new RegExp(`\\n${task.replace(/[:[\]]/g, '\\$&')} +done +\\d{4}-\\d{2}-\\d{2} `), status.stdout);
  }
}));

test('validation: a storage pool the node does not have fails the phase with what Proxmox said; nothing after it runs', withTimeout(300_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'pve-lab.ts');
  const original = readFileSync(file, 'utf8');
  writeFileSync(file, original.replace("pool: 'rbd-vms'", "pool: 'rbd-missing'"));
  try {
    const run = await cli(context, ['foundation']);
    assert.is(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /\[foundation:validation\] run: .*config proxmox\.storage\.pool/);
    assert.match(run.stdout, "[foundation:validation] FAILED: foundation:validation: command failed with exit code 2: ssh root@");
    assert.match(run.stdout, "storage 'rbd-missing' does not exist");
    assert.match(run.stdout, '[foundation] blocked: waiting on foundation:validation, which failed');
  } finally {
    writeFileSync(file, original);
  }
}));

test("the ISO storage: one that takes ISO images is kept; one that does not, or a Ceph site without a CephFS to make it on, fails in one line that says what to create or name", withTimeout(300_000, async (context: Context) => {
  const stateFile = fakeHome(context, 'state.json');
  const original = readFileSync(stateFile, 'utf8');
  const storage = ['--env', 'pve-lab', '--only', 'foundation:tools-storage', 'foundation:tools-storage', '--force', 'foundation:tools-storage'];
  const withState = (change: (state: { storages: Record<string, string>; cephfs: string[] }) => void) => {
    const state = JSON.parse(original) as { storages: Record<string, string>; cephfs: string[] };
    change(state);
    writeFileSync(stateFile, JSON.stringify(state));
  };
  try {
    // Kept: a CephFS storage made by an earlier run, or one the site made itself.
    withState((state) => (state.storages['rbd-iso'] = 'nfs'));
    const before = calls(context).length;
    const kept = await runDeploy(context.directory, storage);
    assert.is(kept.code, 0, kept.stdout + kept.stderr);
    const made = callsSince(context, before);
    assert.ok(made.includes('pvesm status --content iso'), made.join('\n'));
    assert.not.ok(made.some((call) => call.startsWith('ceph ') || call.startsWith('pvesm add')), made.join('\n'));
    // An RBD storage of that name: Proxmox takes no iso content on it.
    withState((state) => (state.storages['rbd-iso'] = 'rbd'));
    const rbd = await runDeploy(context.directory, storage);
    assert.is(rbd.code, 1, rbd.stdout + rbd.stderr);
    assert.match(rbd.stdout, '[foundation:tools-storage] FAILED: foundation:tools-storage: Proxmox storage rbd-iso (proxmox.storage.isoStorage) takes no ISO images: add iso to its content (pvesm set rbd-iso --content ..., where its type allows it: dir, NFS, CephFS), or name a storage that takes them (local)');
    // Neither the storage nor a CephFS to make it on.
    withState((state) => (delete state.storages['rbd-iso'], (state.cephfs = [])));
    const none = await runDeploy(context.directory, storage);
    assert.is(none.code, 1, none.stdout + none.stderr);
    assert.match(none.stdout, '[foundation:tools-storage] FAILED: foundation:tools-storage: Proxmox has no storage rbd-iso (proxmox.storage.isoStorage), and its Ceph has no CephFS to make it on (an RBD pool holds no ISO images): create one (pveceph fs create --add-storage), or name a storage that takes ISO images (local)');
    assert.not.ok('rbd-iso' in fakeState(context).storages);
  } finally {
    writeFileSync(stateFile, original);
  }
}));

test("validation: a node whose VMs' bridge is missing, or not VLAN-aware where the VMs are tagged, fails at once in one line that says what to set", withTimeout(300_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'pve-lab.ts');
  const original = readFileSync(file, 'utf8');
  const validation = ['--env', 'pve-lab', '--only', 'foundation:validation', 'foundation:validation'];
  try {
    // The VMs tagged with their network's VLAN, on a bridge that does not filter VLANs.
    writeFileSync(file, original.replace('vmBridge: { tagVlan: false }', 'vmBridge: { tagVlan: true }'));
    const flat = await runDeploy(context.directory, validation);
    assert.is(flat.code, 1, flat.stdout + flat.stderr);
    assert.match(flat.stdout, "[foundation:validation] FAILED: foundation:validation: Proxmox node pve1: bridge vmbr0 is not VLAN-aware, and the VMs' network card is tagged with VLAN 20: set bridge-vlan-aware yes on it, or proxmox.vmBridge.tagVlan false where vmbr0 carries VLAN 20 untagged");
    assert.is([...flat.stdout.matchAll(/ip -details link show dev vmbr0/g)].length, 1, 'refused at once: another attempt would find the same bridge');
    writeFileSync(file, original.replace('vmBridge: { tagVlan: false }', "vmBridge: { name: 'vmbr7', tagVlan: false }"));
    const missing = await runDeploy(context.directory, validation);
    assert.is(missing.code, 1, missing.stdout + missing.stderr);
    assert.match(missing.stdout, "Proxmox node pve1 has no bridge vmbr7 (proxmox.vmBridge.name), which the VMs' network card goes on: create it (/etc/network/interfaces), or name the node's bridge");
  } finally {
    writeFileSync(file, original);
  }
}));

/**
 * A FAKE tofu (no Proxmox provider can be downloaded here): records each call, keeps the variables a plan is
 * given (the API token left out) and answers every plan with "no changes", or, where the test wrote a plan's
 * JSON to plan.json beside it, with changes, which `show -json` prints (as real tofu prints a saved plan).
 * An apply runs the test's on-apply beside it, where there is one (what the plan makes, on the FAKE Proxmox);
 * `state list` prints state-list.txt beside it, where there is one.
 */
function fakeTofu(directory: string): string {
  const bin = path.join(directory, '.cache', 'fake-tofu');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    path.join(bin, 'tofu'),
    [
      '#!/bin/sh',
      '# FAKE tofu, for tests only: no Proxmox provider can be downloaded here.',
      `echo "$*" >> ${bin}/calls.log`,
      'for argument in "$@"; do',
      '  case "$argument" in',
      `    -var-file=*) python3 -c 'import json, sys; v = json.load(open(sys.argv[1])); v.pop("proxmox_api_token", None); print(json.dumps(v))' "\${argument#-var-file=}" > ${bin}/vars.json ;;`,
      '  esac',
      'done',
      'case "$1" in version) echo "OpenTofu v1.8.3" ;; esac',
      `case "$1" in plan) [ -f ${bin}/plan.json ] && exit 2 ;; show) cat ${bin}/plan.json ;; esac`,
      `case "$1" in init) cp "$TF_CLI_CONFIG_FILE" ${bin}/cli.tfrc ;; esac`,
      `case "$1" in apply) [ -x ${bin}/on-apply ] && ${bin}/on-apply ;; esac`,
      `case "$1 $2" in "state list") [ -f ${bin}/state-list.txt ] && cat ${bin}/state-list.txt ;; esac`,
      'exit 0',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return bin;
}

test("cluster-vms: a VM whose cores or memory changed restarts for it, drained first where its cluster runs, one at a time; the VMs' network and DNS go to tofu", withTimeout(300_000, async (context: Context) => {
  const { directory } = context;
  const tofu = fakeTofu(directory);
  // The fake cluster API (a FAKE kubectl: no API server runs here) lists osdc's node Ready.
  const kube = path.join(directory, '.cache', 'fake-kube');
  mkdirSync(kube, { recursive: true });
  copyFileSync(path.join(repositoryRoot, 'test', 'fixtures', 'fake-kubernetes', 'fake-local-tool'), path.join(kube, 'kubectl'));
  chmodSync(path.join(kube, 'kubectl'), 0o755);
  const kubeLog = path.join(kube, 'calls.log');
  // Its node as the API lists it before the restart (boot-1: the first four listings, the last one Ready
  // though its VM is restarting), then once its kubelet is back (boot-2).
  const listing = (boot: string, annotations: Record<string, string> = {}, spec: { unschedulable?: boolean } = {}) =>
    JSON.stringify({ items: [{ metadata: { name: 'osdc-cp1', labels: { 'node-role.kubernetes.io/control-plane': '' }, annotations }, spec, status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '10.254.254.41' }], nodeInfo: { bootID: boot } } }] });
  for (const queued of [1, 2, 3, 4]) writeFileSync(`${kubeLog}.nodes.${queued}`, listing('boot-1'));
  writeFileSync(`${kubeLog}.nodes`, listing('boot-2'));
  const kubeconfig = path.join(directory, '.cache', 'state', 'pve-lab', 'kubeconfig', 'osdc.yaml');
  mkdirSync(path.dirname(kubeconfig), { recursive: true });
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n', { mode: 0o600 });
  // osdc's VM has more memory pending (the environment asked for it); osms's, more cores, and osms is not up yet.
  const state = JSON.parse(readFileSync(fakeHome(context, 'state.json'), 'utf8'));
  // Each VM's own SSH host key, which its guest agent reads (osms's agent still starting: it answers at the third call).
  const hostKey = (name: string) => {
    const file = path.join(directory, '.cache', `host-key-${name}`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${name}`, '-f', file]);
    return readFileSync(`${file}.pub`, 'utf8').trim();
  };
  const [osdcKey, osmsKey] = [hostKey('osdc-cp1'), hostKey('osms-cp1')];
  state.vms['4101'] = { name: 'osdc-cp1', template: false, config: { cores: '4', memory: '8192' }, pending: { memory: '16384' }, host_key: osdcKey };
  state.vms['3101'] = { name: 'osms-cp1', template: false, config: { cores: '4', memory: '8192' }, pending: { cores: '8' }, host_key: osmsKey, agent_after: 2 };
  writeFileSync(fakeHome(context, 'state.json'), JSON.stringify(state));
  // The Proxmox provider's package as images:fetch leaves it (a FAKE: the FAKE tofu never opens it).
  mkdirSync(path.join(directory, path.dirname(tofuProxmoxProviderFile)), { recursive: true });
  writeFileSync(path.join(directory, tofuProxmoxProviderFile), 'a FAKE provider package\n');
  const steps = 'cluster-vms[cluster=osdc],cluster-vms[cluster=osms]';
  const env = { PATH: `${tofu}:${kube}:${process.env.PATH}`, FAKE_KUBERNETES_LOG: kubeLog };
  const before = calls(context).length;

  const run = await runDeploy(directory, ['--env', 'pve-lab', '--only', steps, 'cluster-vms[cluster=osdc]', 'cluster-vms[cluster=osms]'], env);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, '[cluster-vms[cluster=osdc]] osdc-cp1 (VM 4101 on pve1) restarts for its pending changes: memory 8192 -> 16384');
  assert.match(run.stdout, '[cluster-vms[cluster=osms]] osms-cp1 (VM 3101 on pve1) restarts for its pending changes: cores 4 -> 8 (not in the running cluster: not drained)');
  // osdc's node: drained, its VM restarted, Ready again, uncordoned, in that order.
  const osdc = run.stdout.split('\n').filter((line) => line.startsWith('[cluster-vms[cluster=osdc]]'));
  const at = (pattern: RegExp) => osdc.findIndex((line) => pattern.test(line));
  const order = [at(/kubectl .*annotate node osdc-cp1 onboarder\.openspace\.io\/drained=true --overwrite$/), at(/kubectl .*drain osdc-cp1 --ignore-daemonsets/), at(/qm reboot 4101$/), at(/kubectl .*wait --for=condition=Ready node\/osdc-cp1 --timeout=10m$/), at(/kubectl .*uncordon osdc-cp1$/), at(/kubectl .*annotate node osdc-cp1 onboarder\.openspace\.io\/drained-$/)];
  assert.ok(order.every((index, position) => index >= 0 && (position === 0 || index > order[position - 1]!)), osdc.join('\n'));
  // Ready was not taken from the Node as it was before the restart: the API was asked until its kubelet reported a new boot.
  const listings = osdc.map((line, index) => (/kubectl .*get nodes -o json$/.test(line) ? index : -1)).filter((index) => index >= 0);
  assert.equal(listings.filter((index) => index > order[2]! && index < order[3]!).length, 2, osdc.join('\n'));
  assert.not.match(readFileSync(kubeLog, 'utf8'), /osms/, 'osms is not up: nothing asked of an API');
  const after = JSON.parse(readFileSync(fakeHome(context, 'state.json'), 'utf8'));
  assert.equal([after.vms['4101'].config.memory, after.vms['4101'].restarts, after.vms['3101'].config.cores, after.vms['3101'].restarts], ['16384', 1, '8', 1]);
  // What tofu is given: the node's bridge, each VM with its network's VLAN (untagged here), gateway and prefix, the site's DNS and zone.
  const vars = JSON.parse(readFileSync(path.join(tofu, 'vars.json'), 'utf8'));
  // tofu installs the provider from that package alone: a mirror of it, no registry.
  const mirror = path.join(directory, '.cache', 'state', 'pve-lab', 'tofu', 'providers', 'mirror');
  assert.match(readFileSync(path.join(tofu, 'cli.tfrc'), 'utf8'), `filesystem_mirror {\n    path    = "${mirror}"`);
  assert.is(readFileSync(path.join(mirror, 'registry.opentofu.org', 'bpg', 'proxmox', path.basename(tofuProxmoxProviderFile)), 'utf8'), 'a FAKE provider package\n');
  assert.equal([vars.bridge, vars.dns_servers, vars.dns_domain], ['vmbr0', [context.rig.hosts[0]!.address], 'pve.openspace.test']);
  assert.equal([vars.nodes[0].vlan_id, vars.nodes[0].gateway, vars.nodes[0].prefix_length], [0, '10.254.254.1', 24]);
  // cloud-init authorizes the operator's key for the user Onboarder logs in as.
  assert.equal([vars.ssh_user, vars.ssh_keys], ['root', [readFileSync(path.join(directory, '.cache', 'rig', 'id_ed25519.pub'), 'utf8').trim()]]);
  // Each VM's host key, read from the VM through its guest agent, is in known_hosts: no key a host offers is trusted.
  const knownHosts = () => readFileSync(path.join(directory, '.cache', 'rig', 'known_hosts'), 'utf8');
  const keyOf = (key: string) => key.split(' ').slice(0, 2).join(' ');
  assert.match(knownHosts(), `\n10.254.254.41 ${keyOf(osdcKey)}\n`);
  assert.match(knownHosts(), `\n10.254.254.31 ${keyOf(osmsKey)}\n`);
  assert.match(run.stdout, /\[cluster-vms\[cluster=osms\]\] osms-cp1: its host key SHA256:\S+, from the VM through the guest agent, is now in \.cache\/rig\/known_hosts/);
  assert.is(callsSince(context, before).filter((call) => call.startsWith('qm guest exec 3101')).length, 3, 'asked again until its agent answered');
  assert.is((knownHosts().match(/^10\.254\.254\.41 /gm) ?? []).length, 1);

  // Nothing pending any more: a run asks, and restarts nothing. But the API lists osdc-cp1 still marked as
  // drained (a roll killed before it was returned): it is returned first, Ready, uncordoned and unmarked.
  writeFileSync(`${kubeLog}.nodes`, listing('boot-2', { 'onboarder.openspace.io/drained': 'true' }));
  // Its kubelet has not renewed its lease for the first two looks (the VM still restarting, though the API calls it Ready).
  for (const queued of [1, 2]) writeFileSync(`${kubeLog}.lease.${queued}`, '2026-12-06T03:00:00.000000Z');
  const returnedFrom = readFileSync(kubeLog, 'utf8').length;
  const again = await runDeploy(directory, ['--env', 'pve-lab', '--only', steps, 'cluster-vms[cluster=osdc]', 'cluster-vms[cluster=osms]', '--force', steps], env);
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.equal(callsSince(context, before).filter((call) => call.startsWith('qm reboot')).sort(), ['qm reboot 3101', 'qm reboot 4101'], 'each VM restarted once, in the first run');
  assert.ok(callsSince(context, before).filter((call) => call.startsWith('qm pending')).length >= 4);
  assert.not.match(again.stdout, 'host key', 'known keys are left as they are');
  assert.match(again.stdout, '[cluster-vms[cluster=osdc]] osdc-cp1 was drained by a roll that did not finish: it is returned first');
  const returned = readFileSync(kubeLog, 'utf8').slice(returnedFrom).split('\n').filter((line) => !line.includes(' get nodes ')).map((line) => line.split(' ').slice(2).join(' '));
  const lease = 'get lease --namespace=kube-node-lease osdc-cp1 -o jsonpath={.spec.renewTime}';
  assert.equal(returned, [lease, lease, lease, 'wait --for=condition=Ready node/osdc-cp1 --timeout=10m', 'uncordon osdc-cp1', 'annotate node osdc-cp1 onboarder.openspace.io/drained-', '']);
  writeFileSync(`${kubeLog}.nodes`, listing('boot-2'));

  // osdc's VM made anew at its address: its new key replaces the old one, and the run says so.
  const renewed = hostKey('osdc-cp1-anew');
  const current = JSON.parse(readFileSync(fakeHome(context, 'state.json'), 'utf8'));
  current.vms['4101'].host_key = renewed;
  writeFileSync(fakeHome(context, 'state.json'), JSON.stringify(current));
  const anew = await runDeploy(directory, ['--env', 'pve-lab', '--only', steps, 'cluster-vms[cluster=osdc]', '--force', steps], env);
  assert.is(anew.code, 0, anew.stdout + anew.stderr);
  assert.match(anew.stdout, /osdc-cp1: its VM has a new host key SHA256:\S+ \(made anew at 10\.254\.254\.41\): \.cache\/rig\/known_hosts now has it instead of the old one/);
  assert.match(knownHosts(), `\n10.254.254.41 ${keyOf(renewed)}\n`);
  assert.not.match(knownHosts(), keyOf(osdcKey));
  assert.match(knownHosts(), `\n10.254.254.31 ${keyOf(osmsKey)}\n`);

  // More cores pending again, and a PodDisruptionBudget allows no eviction from osdc-cp1: the drain is tried 3
  // times (kubespray's drain_retries), then the node is uncordoned and unmarked (it keeps serving), its VM is
  // not restarted, and the run says why.
  const pendingAgain = () => {
    const vms = JSON.parse(readFileSync(fakeHome(context, 'state.json'), 'utf8'));
    vms.vms['4101'].pending = { cores: '8' };
    writeFileSync(fakeHome(context, 'state.json'), JSON.stringify(vms));
  };
  pendingAgain();
  writeFileSync(`${kubeLog}.undrainable`, '');
  const apiCalls = (from: number) => readFileSync(kubeLog, 'utf8').slice(from).split('\n').filter((line) => line.startsWith('kubectl ') && !line.includes(' get ')).map((line) => line.split(' ').slice(2, 4).join(' '));
  const refusedFrom = readFileSync(kubeLog, 'utf8').length;
  const blocked = await runDeploy(directory, ['--env', 'pve-lab', '--only', 'cluster-vms[cluster=osdc]', '--force', 'cluster-vms[cluster=osdc]', 'cluster-vms[cluster=osdc]'], env);
  assert.is(blocked.code, 1, blocked.stdout + blocked.stderr);
  assert.match(blocked.stdout, `osdc-cp1 could not be drained, and is uncordoned again (its VM was not restarted; its pods keep running there): error when evicting pods/"db-0" -n "data" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.`);
  assert.equal(apiCalls(refusedFrom), ['annotate node', 'drain osdc-cp1', 'drain osdc-cp1', 'drain osdc-cp1', 'uncordon osdc-cp1', 'annotate node']);
  assert.match(readFileSync(kubeLog, 'utf8').slice(refusedFrom), 'drain osdc-cp1 --ignore-daemonsets --delete-emptydir-data --force --grace-period=300 --timeout=360s');
  assert.is(JSON.parse(readFileSync(fakeHome(context, 'state.json'), 'utf8')).vms['4101'].restarts, 1, 'not restarted');

  // Someone cordoned osdc-cp1 (not a roll of Onboarder's: no mark): it is drained and restarted, and stays cordoned.
  rmSync(`${kubeLog}.undrainable`);
  // Its listings before the restart (the nodes taken out, those left drained, the roll's own), then after it.
  for (const queued of [1, 2, 3]) writeFileSync(`${kubeLog}.nodes.${queued}`, listing('boot-2', {}, { unschedulable: true }));
  writeFileSync(`${kubeLog}.nodes`, listing('boot-3', {}, { unschedulable: true }));
  const keptFrom = readFileSync(kubeLog, 'utf8').length;
  const kept = await runDeploy(directory, ['--env', 'pve-lab', '--only', 'cluster-vms[cluster=osdc]', '--force', 'cluster-vms[cluster=osdc]', 'cluster-vms[cluster=osdc]'], env);
  assert.is(kept.code, 0, kept.stdout + kept.stderr);
  assert.equal(apiCalls(keptFrom).filter((call) => !call.startsWith('wait ')), ['drain osdc-cp1']);
  assert.match(kept.stdout, "osdc-cp1 stays cordoned, as it was before the restart (not by a roll of Onboarder's)");
  assert.is(JSON.parse(readFileSync(fakeHome(context, 'state.json'), 'utf8')).vms['4101'].restarts, 2);
  writeFileSync(`${kubeLog}.nodes`, listing('boot-3'));
}));

test("cluster-vms refuses a plan that re-creates a node's VM (a Proxmox node added moves the VMs their id places), naming what forces it; nothing is applied; a node pinned to its Proxmox node stays", withTimeout(120_000, async (context: Context) => {
  // VM 4101 as the test above left it on the FAKE Proxmox (its guest agent answering); osdc not up (no kubeconfig: no API asked).
  const { directory } = context;
  const tofu = fakeTofu(directory);
  rmSync(path.join(directory, '.cache', 'state', 'pve-lab', 'kubeconfig', 'osdc.yaml'), { force: true });
  const file = path.join(directory, 'environments', 'pve-lab.ts');
  const original = readFileSync(file, 'utf8');
  mkdirSync(path.join(directory, path.dirname(tofuProxmoxProviderFile)), { recursive: true });
  writeFileSync(path.join(directory, tofuProxmoxProviderFile), 'a FAKE provider package\n');
  // A second Proxmox node joins the site: VM 4101 is now placed on pve2 (4101 modulo 2), which the
  // provider can only do by re-creating it. The plan, as `tofu show -json` gives it (its shape is real
  // terraform's: see the tools suite), replaces osdc-cp1.
  const twoNodes = original.replace(/(proxmox: \{[\s\S]*?nodes: \[\{[^}]*\})\]/, "$1, { name: 'pve2', address: '10.254.253.2' }]");
  assert.match(twoNodes, "{ name: 'pve2', address: '10.254.253.2' }]");
  writeFileSync(file, twoNodes);
  const replaced = {
    resource_changes: [
      { address: 'proxmox_virtual_environment_vm.node["osdc-cp1"]', type: 'proxmox_virtual_environment_vm', index: 'osdc-cp1', change: { actions: ['delete', 'create'], before: { node_name: 'pve1' }, after: { node_name: 'pve2' }, replace_paths: [['node_name']] }, action_reason: 'replace_because_cannot_update' },
    ],
  };
  writeFileSync(path.join(tofu, 'plan.json'), JSON.stringify(replaced));
  const step = 'cluster-vms[cluster=osdc]';
  const env = { PATH: `${tofu}:${process.env.PATH}` };
  try {
    const refused = await runDeploy(directory, ['--env', 'pve-lab', '--only', step, '--force', step, step], env);
    assert.is(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stdout, 'the plan for cluster osdc re-creates the VMs of osdc-cp1 (node_name "pve1" -> "pve2"), which would lose their disks; nothing was applied: keep each where it runs (its proxmoxNode in the environment, or its vmId as it was)', refused.stdout);
    assert.equal(JSON.parse(readFileSync(path.join(tofu, 'vars.json'), 'utf8')).nodes.map((node: { node_name: string }) => node.node_name), ['pve2']);
    const tofuCalls = () => readFileSync(path.join(tofu, 'calls.log'), 'utf8').split('\n').map((line) => line.split(' ')[0]);
    assert.not.ok(tofuCalls().includes('apply'), 'nothing applied');
    // Pinned where it runs, it stays on pve1: the plan has nothing to change.
    writeFileSync(file, twoNodes.replace("vmId: 4101 }", "vmId: 4101, proxmoxNode: 'pve1' }"));
    rmSync(path.join(tofu, 'plan.json'));
    const pinned = await runDeploy(directory, ['--env', 'pve-lab', '--only', step, '--force', step, step], env);
    assert.is(pinned.code, 0, pinned.stdout + pinned.stderr);
    assert.equal(JSON.parse(readFileSync(path.join(tofu, 'vars.json'), 'utf8')).nodes.map((node: { node_name: string }) => node.node_name), ['pve1']);
    assert.not.ok(tofuCalls().includes('apply'));
    // A Proxmox node the site does not have is refused when the environment loads.
    writeFileSync(file, twoNodes.replace("vmId: 4101 }", "vmId: 4101, proxmoxNode: 'pve9' }"));
    const unknown = await runDeploy(directory, ['--env', 'pve-lab', '--dry-run', step], env);
    assert.is(unknown.code, 2, unknown.stdout + unknown.stderr);
    assert.match(unknown.stderr, "clusters.osdc.controlPlane[0].proxmoxNode: 'pve9' is not one of proxmox.nodes (pve1, pve2)");
  } finally {
    writeFileSync(file, original);
    rmSync(path.join(tofu, 'plan.json'), { force: true });
  }
}));

test("cluster-vms refuses a plan that makes a VM under an id Proxmox has given to another guest, naming it and the setting; nothing is applied; vm-adopt takes a node's own VM back into the state; a free id goes ahead", withTimeout(120_000, async (context: Context) => {
  const { directory } = context;
  const tofu = fakeTofu(directory);
  const file = path.join(directory, 'environments', 'pve-lab.ts');
  const original = readFileSync(file, 'utf8');
  mkdirSync(path.join(directory, path.dirname(tofuProxmoxProviderFile)), { recursive: true });
  writeFileSync(path.join(directory, tofuProxmoxProviderFile), 'a FAKE provider package\n');
  // A worker added to osdc under id 4111, which a container someone else made holds on the Proxmox
  // cluster; and osdc-cp1's VM 4101 (made by the tests above) planned again, as where the cluster's
  // OpenTofu state was lost.
  writeFileSync(file, original.replace("vmId: 4101 }],", "vmId: 4101 }], workers: [{ name: 'osdc-w1', address: '10.254.254.44', vmId: 4111 }],"));
  const state = JSON.parse(readFileSync(fakeHome(context, 'state.json'), 'utf8'));
  assert.equal(state.vms['4101']?.name, 'osdc-cp1');
  state.vms['4111'] = { name: 'legacy-db', type: 'lxc', node: 'pve7', template: false };
  writeFileSync(fakeHome(context, 'state.json'), JSON.stringify(state));
  const creation = (name: string, vmId: number) => ({ address: `proxmox_virtual_environment_vm.node["${name}"]`, type: 'proxmox_virtual_environment_vm', index: name, change: { actions: ['create'], before: null, after: { name, vm_id: vmId, node_name: 'pve1' } } });
  writeFileSync(path.join(tofu, 'plan.json'), JSON.stringify({ resource_changes: [creation('osdc-cp1', 4101), creation('osdc-w1', 4111)] }));
  const step = 'cluster-vms[cluster=osdc]';
  const env = { PATH: `${tofu}:${process.env.PATH}` };
  const tofuCalls = () => readFileSync(path.join(tofu, 'calls.log'), 'utf8').split('\n').map((line) => line.split(' ')[0]);
  try {
    const refused = await runDeploy(directory, ['--env', 'pve-lab', '--only', step, '--force', step, step], env);
    assert.is(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(
      refused.stdout,
      "the plan for cluster osdc makes VMs under ids Proxmox has given already: osdc-cp1's id 4101 (clusters.osdc.controlPlane[0].vmId) is held by the VM 'osdc-cp1' on pve1, its own name: the cluster's OpenTofu state does not hold it (lost or moved); osdc-w1's id 4111 (clusters.osdc.workers[0].vmId) is held by the container 'legacy-db' on pve7; nothing was applied: give each node a free vmId, remove a leftover guest from Proxmox, or take a node's own VM back into the state with tsx deploy.ts 'vm-adopt[cluster=osdc]'",
      refused.stdout,
    );

    // vm-adopt takes osdc-cp1's VM (its id and name on Proxmox) into the state, and names osdc-w1, whose id
    // the container holds; a worker Proxmox does not have is left for cluster-vms to make.
    const adopt = 'vm-adopt[cluster=osdc]';
    const withNewWorker = original.replace("vmId: 4101 }],", "vmId: 4101 }], workers: [{ name: 'osdc-w1', address: '10.254.254.44', vmId: 4111 }, { name: 'osdc-w2', address: '10.254.254.45', vmId: 4113 }],");
    writeFileSync(file, withNewWorker);
    const importsSince = (from: number) => readFileSync(path.join(tofu, 'calls.log'), 'utf8').split('\n').slice(from).filter((line) => line.startsWith('import '));
    const from = readFileSync(path.join(tofu, 'calls.log'), 'utf8').split('\n').length - 1;
    const adopted = await runDeploy(directory, ['--env', 'pve-lab', '--only', adopt, adopt], env);
    assert.is(adopted.code, 1, adopted.stdout + adopted.stderr);
    assert.match(adopted.stdout, "osdc-cp1: its VM 4101 on pve1 is in the state of cluster osdc again");
    assert.match(adopted.stdout, 'osdc-w2: Proxmox has no guest 4113: cluster-vms makes its VM');
    assert.match(adopted.stdout, "not taken into the state of cluster osdc: osdc-w1's id 4111 is held by the container 'legacy-db' on pve7: give each such node a free vmId, or remove a leftover guest from Proxmox");
    assert.equal(importsSince(from).map((line) => line.replace(/-var-file=\S+/, '-var-file=X')), ['import -input=false -no-color -lock-timeout=5m -var-file=X proxmox_virtual_environment_vm.node["osdc-cp1"] pve1/4101']);
    // Again, with osdc-cp1 in the state and osdc-w1 under a free id: nothing to import.
    writeFileSync(path.join(tofu, 'state-list.txt'), 'proxmox_virtual_environment_vm.node["osdc-cp1"]\n');
    writeFileSync(file, withNewWorker.replace('vmId: 4111 }', 'vmId: 4114 }'));
    const again = await runDeploy(directory, ['--env', 'pve-lab', '--only', adopt, adopt], env);
    assert.is(again.code, 0, again.stdout + again.stderr);
    assert.equal(importsSince(from).length, 1);
    assert.not.ok(tofuCalls().includes('apply'), 'nothing applied');
    assert.ok(callsSince(context, 0).includes('pvesh get /cluster/resources --type vm --output-format json'));
    // The worker under a free id, and osdc-cp1's VM in the plan no more (its state back): applied.
    writeFileSync(file, original.replace("vmId: 4101 }],", "vmId: 4101 }], workers: [{ name: 'osdc-w1', address: '10.254.254.44', vmId: 4112 }],"));
    writeFileSync(path.join(tofu, 'plan.json'), JSON.stringify({ resource_changes: [creation('osdc-w1', 4112)] }));
    // The apply makes the VM on the FAKE Proxmox, its guest agent answering with its host key.
    const keyFile = path.join(directory, '.cache', 'host-key-osdc-w1');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'root@osdc-w1', '-f', keyFile]);
    const vm = { name: 'osdc-w1', template: false, config: { cores: '4', memory: '8192' }, host_key: readFileSync(`${keyFile}.pub`, 'utf8').trim() };
    const stateFile = fakeHome(context, 'state.json');
    writeFileSync(
      path.join(tofu, 'on-apply'),
      `#!/usr/bin/python3\nimport json\nstate = json.load(open(${JSON.stringify(stateFile)}))\nstate["vms"]["4112"] = json.loads(${JSON.stringify(JSON.stringify(vm))})\njson.dump(state, open(${JSON.stringify(stateFile)}, "w"))\n`,
      { mode: 0o755 },
    );
    const applied = await runDeploy(directory, ['--env', 'pve-lab', '--only', step, '--force', step, step], env);
    assert.is(applied.code, 0, applied.stdout + applied.stderr);
    assert.ok(tofuCalls().includes('apply'));
  } finally {
    writeFileSync(file, original);
    rmSync(path.join(tofu, 'plan.json'), { force: true });
    rmSync(path.join(tofu, 'on-apply'), { force: true });
    rmSync(path.join(tofu, 'state-list.txt'), { force: true });
    const after = JSON.parse(readFileSync(fakeHome(context, 'state.json'), 'utf8'));
    for (const id of ['4111', '4112']) delete after.vms[id];
    writeFileSync(fakeHome(context, 'state.json'), JSON.stringify(after));
  }
}));

test.run();
