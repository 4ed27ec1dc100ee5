// Ansible run settings (issue 18, part 4), measured: the node steps of `hosts` as the catalog runs them
// (node preparation, one playbook per node, up to the default concurrency of 10 at once; then a second
// playbook per node, as node-join is), on N namespace test hosts, with Ansible's defaults (no pipelining,
// forks 5, a fresh SSH control directory per playbook) against Onboarder's (pipelining, forks = hosts, one
// control directory per run). Namespace hosts share the machine's /usr: node preparation changes nothing
// there, which is the re-run case. A measurement, not a test: needs root (network namespaces).
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

export interface AnsibleSettingsResult {
  readonly hosts: number;
  readonly defaultsSeconds: number;
  readonly onboarderSeconds: number;
  readonly defaultsCpuSeconds: number;
  readonly onboarderCpuSeconds: number;
  /** The same two steps as one playbook each over every host (per cluster, as before per-node steps). */
  readonly perClusterSeconds: number;
  readonly perClusterCpuSeconds: number;
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
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-bench-ansible-'));
  const rig = await TestHostRig.start({ count, directory, wholeMachines: { packages: [] } });
  try {
    const inventories = rig.hosts.map((host) => {
      const file = path.join(directory, `${host.name}.yml`);
      const group = { hosts: { [host.name]: { address: host.address, port: host.port, user: rig.user } } };
      writeFileSync(file, inventoryYaml({ groups: { cluster_bench_control_plane: group, cluster_bench: { children: ['cluster_bench_control_plane'] } }, vars: { air_gapped: true, registry_mirrors: [], ansible_python_interpreter: '/usr/bin/python3' } }));
      return file;
    });
    const vars = path.join(directory, 'vars.json');
    writeFileSync(vars, JSON.stringify({ cluster_group: 'cluster_bench', node_packages: ['python3'], kernel_wide_settings: 'skip', distribution: 'rke2' }));
    const playbooks = async (onboarder: boolean) => {
      const shared = mkdtempSync(path.join(os.tmpdir(), 'onb-ssh-'));
      const limit = pLimit(10);
      const one = (inventory: string) => {
        const control = onboarder ? shared : mkdtempSync(path.join(os.tmpdir(), 'onb-ssh-'));
        return run('ansible-playbook', ['-i', inventory, '-e', `@${vars}`, '--private-key', rig.privateKeyFile, ...(onboarder ? ['--forks', '1'] : []), playbook], {
          env: {
            ...process.env,
            ANSIBLE_HOST_KEY_CHECKING: 'True',
            ANSIBLE_SSH_ARGS: `-o ControlMaster=auto -o ControlPersist=120s -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${rig.knownHostsFile}`,
            ANSIBLE_SSH_CONTROL_PATH_DIR: control,
            ANSIBLE_PIPELINING: onboarder ? 'True' : 'False',
            ANSIBLE_NOCOLOR: '1',
          },
          maxBuffer: 64 * 1024 * 1024,
        });
      };
      // Preparation, then a second playbook per node (the join): twice over each host.
      await Promise.all(inventories.map((inventory) => limit(() => one(inventory))));
      await Promise.all(inventories.map((inventory) => limit(() => one(inventory))));
      await run('sh', ['-c', 'for socket in "$1"/*; do [ -S "$socket" ] && ssh -O exit -o ControlPath="$socket" x 2>/dev/null; done; true', 'stop', shared]);
    };
    const whole = path.join(directory, 'all.yml');
    const every = Object.fromEntries(rig.hosts.map((host) => [host.name, { address: host.address, port: host.port, user: rig.user }]));
    writeFileSync(whole, inventoryYaml({ groups: { cluster_bench_control_plane: { hosts: every }, cluster_bench: { children: ['cluster_bench_control_plane'] } }, vars: { air_gapped: true, registry_mirrors: [], ansible_python_interpreter: '/usr/bin/python3' } }));
    const perCluster = async () => {
      const control = mkdtempSync(path.join(os.tmpdir(), 'onb-ssh-'));
      for (let round = 0; round < 2; round++) {
        await run('ansible-playbook', ['-i', whole, '-e', `@${vars}`, '--private-key', rig.privateKeyFile, '--forks', String(count), playbook], {
          env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: 'True', ANSIBLE_SSH_ARGS: `-o ControlMaster=auto -o ControlPersist=120s -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${rig.knownHostsFile}`, ANSIBLE_SSH_CONTROL_PATH_DIR: control, ANSIBLE_PIPELINING: 'True', ANSIBLE_NOCOLOR: '1' },
          maxBuffer: 64 * 1024 * 1024,
        });
      }
      await run('sh', ['-c', 'for socket in "$1"/*; do [ -S "$socket" ] && ssh -O exit -o ControlPath="$socket" x 2>/dev/null; done; true', 'stop', control]);
    };
    const defaults = await timed(() => playbooks(false));
    const onboarder = await timed(() => playbooks(true));
    const cluster = await timed(perCluster);
    return {
      hosts: count,
      defaultsSeconds: defaults.seconds,
      onboarderSeconds: onboarder.seconds,
      defaultsCpuSeconds: defaults.cpuSeconds,
      onboarderCpuSeconds: onboarder.cpuSeconds,
      perClusterSeconds: cluster.seconds,
      perClusterCpuSeconds: cluster.cpuSeconds,
    };
  } finally {
    await rig.stop();
    rmSync(directory, { recursive: true, force: true });
  }
}
