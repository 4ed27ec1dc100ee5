// base:packages on a management host that is also a Proxmox node (the site's KVM hosts run Proxmox VE):
// Debian's qemu-kvm and libvirt would conflict with Proxmox's own QEMU, so they are left out there. Real
// ansible-playbook and apt on this machine, in check mode (nothing is installed or changed).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repositoryRoot, withTimeout } from '../helpers/project.js';
import { aptMirrorVars } from '../../tasks/shared/apt-mirrors.js';

const run = promisify(execFile);

/** What the package step would do on this machine, as a management host listed in proxmox_hosts or not. */
async function installStep(proxmoxHosts: readonly string[]): Promise<string> {
  const directory = mkdtempSync(path.join(tmpdir(), 'onboarder-management-'));
  try {
    const inventory = path.join(directory, 'inventory');
    writeFileSync(inventory, '[management]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n');
    // qemu-kvm is not installed here: a step that would install it reports a change.
    // As base:packages passes them, with a site that names no upstream mirrors.
    const vars = { management_packages: ['python3', 'qemu-kvm'], ntp_servers: [], proxmox_hosts: proxmoxHosts, ...aptMirrorVars({ upstreamMirrors: [] }, repositoryRoot) };
    const { stdout } = await run('ansible-playbook', ['-i', inventory, '--check', '-e', JSON.stringify(vars), path.join(repositoryRoot, 'tasks', 'base', 'playbooks', 'packages.yml')], {
      env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'false' },
    });
    return /TASK \[Install packages\][^\n]*\n(\w+): \[localhost\]/.exec(stdout)?.[1] ?? stdout;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test("a management host that is a Proxmox node is not given Debian's QEMU and libvirt; another one is", withTimeout(120_000, async () => {
  assert.is(await installStep(['localhost']), 'ok');
  assert.is(await installStep([]), 'changed');
}));

test.run();
