// Every playbook, packer template and tofu configuration of the catalog, checked by its real tool.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { glob } from 'tinyglobby';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repositoryRoot, withTimeout } from '../helpers/project.js';

const run = promisify(execFile);

test('every playbook passes ansible-playbook --syntax-check', withTimeout(300_000, async () => {
  const playbooks = await glob('tasks/**/playbooks/*.yml', { cwd: repositoryRoot });
  assert.ok(playbooks.length >= 8, `found ${playbooks.length} playbooks`);
  for (const playbook of playbooks) {
    await run('ansible-playbook', ['--syntax-check', '-i', 'localhost,', '-e', 'cluster_name=osdc', '-e', 'cluster_group=cluster_osdc', playbook], { cwd: repositoryRoot, env: { ...process.env, ANSIBLE_NOCOLOR: '1' } }).catch((error: { stderr: string }) => {
      throw new Error(`${playbook}: ${error.stderr}`);
    });
  }
}));

test('every playbook passes ansible-lint in the production profile (.ansible-lint, no rule skipped)', withTimeout(300_000, async () => {
  // The playbooks and the task files they import (playbooks/includes/).
  const playbooks = await glob('tasks/**/playbooks/**/*.yml', { cwd: repositoryRoot });
  const result = await run('ansible-lint', ['--nocolor', ...playbooks], { cwd: repositoryRoot, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 << 20 }).catch((error: { stdout: string; stderr: string }) => {
    throw new Error(`ansible-lint failed:\n${error.stdout}\n${error.stderr}`);
  });
  assert.match(result.stdout + result.stderr, `Passed with production profile: 0 failure(s), 0 warning(s) on ${playbooks.length} files`);
}));

test('every packer template passes packer validate (packer 1.6.6 here)', withTimeout(120_000, async () => {
  const templates = await glob('tasks/**/*.pkr.hcl', { cwd: repositoryRoot });
  assert.ok(templates.length >= 1);
  const vars = ['proxmox_url=https://192.0.2.10:8006/api2/json', 'proxmox_username=packer@pve', 'proxmox_password=x', 'proxmox_node=pve1', 'base_vm_id=9002', 'golden_vm_id=9001'];
  for (const template of templates) {
    await run('packer', ['validate', ...vars.flatMap((value) => ['-var', value]), template], { cwd: repositoryRoot, env: { ...process.env, CHECKPOINT_DISABLE: '1' } }).catch((error: { stdout: string; stderr: string }) => {
      throw new Error(`${template}: ${error.stdout}${error.stderr}`);
    });
    await run('packer', ['fmt', '-check', template], { cwd: repositoryRoot, env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
  }
}));

test('every tofu configuration passes terraform fmt -check (validate needs providers, not downloadable here)', withTimeout(60_000, async () => {
  const directories = [...new Set((await glob('tasks/**/*.tf', { cwd: repositoryRoot })).map((file) => path.dirname(file)))];
  assert.ok(directories.length >= 1);
  const home = mkdtempSync(path.join(os.tmpdir(), 'onboarder-tf-'));
  try {
    for (const directory of directories) {
      await run('terraform', ['fmt', '-check', '-diff', directory], { cwd: repositoryRoot, env: { ...process.env, HOME: home, CHECKPOINT_DISABLE: '1' } }).catch((error: { stdout: string }) => {
        throw new Error(`${directory} is not formatted:\n${error.stdout}`);
      });
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}));

test.run();
