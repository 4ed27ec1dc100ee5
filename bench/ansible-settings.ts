// Ansible run settings (issue 18, part 4), measured: the node steps of `hosts` as the catalog runs them
// (node preparation, one playbook per node, up to the default concurrency of 10 at once; then a second
// playbook per node, as node-join is), on N whole-machine test hosts (each its own Debian root, fresh for
// each setting), with Ansible's defaults (no pipelining, forks 5, a fresh SSH control directory per
// playbook) against Onboarder's (pipelining, forks = hosts, one control directory per run), and against one
// playbook over every host per step. Each setting gets a first run (node preparation writes its files,
// sysctls and module lists) and a re-run (nothing to change). A measurement, not a test: needs root.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pLimit from 'p-limit';
import { TestHostRig } from '../lib/lab/test-hosts.js';
import { inventoryYaml } from '../lib/tools/inventory.js';

const run = promisify(execFile);
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const playbook = path.join(root, 'tasks', 'node-prep', 'playbooks', 'node-prep.yml');

/** Wall and controller CPU seconds (ansible-playbook and its forks) of a step's two playbooks per host. */
export interface Timed {
  readonly seconds: number;
  readonly cpuSeconds: number;
}

export type AnsibleSetting = 'defaults' | 'onboarder' | 'perCluster';

export interface AnsibleSettingsResult {
  readonly hosts: number;
  /** Per setting: the first run on fresh hosts, then the re-run. */
  readonly settings: Readonly<Record<AnsibleSetting, { readonly first: Timed; readonly rerun: Timed }>>;
}

async function timed(work: () => Promise<void>): Promise<{ seconds: number; cpuSeconds: number }> {
  const before = await childCpu();
  const started = Date.now();
  await work();
  return { seconds: (Date.now() - started) / 1000, cpuSeconds: (await childCpu()) - before };
}

/** CPU seconds of every child this process has waited for (ansible-playbook and its forks). */
async function childCpu(): Promise<number> {
  const { stdout } = await run('cat', [`/proc/${process.pid}/stat`]);
  const fields = stdout.slice(stdout.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime: fields 16 and 17 of stat, 14 and 15 after the name.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

export async function measureAnsibleSettings(count: number): Promise<AnsibleSettingsResult> {
  const settings = {} as Record<AnsibleSetting, { first: Timed; rerun: Timed }>;
  for (const setting of ['defaults', 'onboarder', 'perCluster'] as const) {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-bench-ansible-'));
    const rig = await TestHostRig.start({ count, directory, wholeMachines: { packages: [] } });
    try {
      const step = stepRunner(rig, directory, setting);
      settings[setting] = { first: await timed(step), rerun: await timed(step) };
    } finally {
      await rig.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  }
  return { hosts: count, settings };
}

/** The node steps over every host of `rig` with one setting: preparation, then a second playbook, per host. */
function stepRunner(rig: TestHostRig, directory: string, setting: AnsibleSetting): () => Promise<void> {
  const groups = (hosts: typeof rig.hosts) => ({
    groups: { cluster_bench_control_plane: { hosts: Object.fromEntries(hosts.map((host) => [host.name, { address: host.address, port: host.port, user: rig.user }])) }, cluster_bench: { children: ['cluster_bench_control_plane'] } },
    vars: { air_gapped: true, registry_mirrors: [], site_registry: '', site_registry_ca: '', ansible_python_interpreter: '/usr/bin/python3' },
  });
  const inventories = rig.hosts.map((host) => {
    const file = path.join(directory, `${host.name}.yml`);
    writeFileSync(file, inventoryYaml(groups([host])));
    return file;
  });
  const whole = path.join(directory, 'all.yml');
  writeFileSync(whole, inventoryYaml(groups(rig.hosts)));
  const vars = path.join(directory, 'vars.json');
  // What the catalog's node preparation is given for an RKE2 node of a site without a site registry.
  writeFileSync(vars, JSON.stringify({ cluster_group: 'cluster_bench', node_packages: ['python3'], kernel_wide_settings: 'skip', distribution: 'rke2', site_registry_username: '', site_registry_password: '' }));
  const playbookRun = (inventory: string, control: string, pipelining: boolean, forks: number | undefined) =>
    run('ansible-playbook', ['-i', inventory, '-e', `@${vars}`, '--private-key', rig.privateKeyFile, ...(forks ? ['--forks', String(forks)] : []), playbook], {
      env: {
        ...process.env,
        ANSIBLE_HOST_KEY_CHECKING: 'True',
        ANSIBLE_SSH_ARGS: `-o ControlMaster=auto -o ControlPersist=120s -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${rig.knownHostsFile}`,
        ANSIBLE_SSH_CONTROL_PATH_DIR: control,
        ANSIBLE_PIPELINING: pipelining ? 'True' : 'False',
        ANSIBLE_NOCOLOR: '1',
      },
      maxBuffer: 64 * 1024 * 1024,
    });
  const stopMasters = (control: string) => run('sh', ['-c', 'for socket in "$1"/*; do [ -S "$socket" ] && ssh -O exit -o ControlPath="$socket" x 2>/dev/null; done; true', 'stop', control]);
  return async () => {
    const shared = mkdtempSync(path.join(os.tmpdir(), 'onb-ssh-'));
    if (setting === 'perCluster') {
      // One playbook over every host per step.
      for (let round = 0; round < 2; round++) await playbookRun(whole, shared, true, rig.hosts.length);
    } else {
      // One playbook per host, 10 at once (the default concurrency), twice over each host.
      const onboarder = setting === 'onboarder';
      const limit = pLimit(10);
      const one = (inventory: string) => playbookRun(inventory, onboarder ? shared : mkdtempSync(path.join(os.tmpdir(), 'onb-ssh-')), onboarder, onboarder ? 1 : undefined);
      for (let round = 0; round < 2; round++) await Promise.all(inventories.map((inventory) => limit(() => one(inventory))));
    }
    await stopMasters(shared);
  };
}
