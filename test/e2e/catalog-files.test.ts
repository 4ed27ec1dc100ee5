// Every playbook, packer template and tofu configuration of the catalog, checked by its real tool.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

// The templates need packer >= 1.10 and its proxmox plugin (the runner image's packer 1.11.2): Debian's
// packer 1.6.6 knows neither, and neither can be downloaded here, so 1.6.6 checks their HCL syntax and
// format; golden-image runs `packer init` and `packer validate` before every build.
test('every packer template passes packer fmt -check, and logs in with the packer user\'s API token', withTimeout(120_000, async () => {
  const templates = await glob('tasks/**/*.pkr.hcl', { cwd: repositoryRoot });
  assert.ok(templates.length >= 1);
  for (const template of templates) {
    await run('packer', ['fmt', '-check', '-diff', template], { cwd: repositoryRoot, env: { ...process.env, CHECKPOINT_DISABLE: '1' } }).catch((error: { stdout: string; stderr: string }) => {
      throw new Error(`${template}: ${error.stdout}${error.stderr}`);
    });
    const text = readFileSync(path.join(repositoryRoot, template), 'utf8');
    assert.match(text, /^\s+token\s+= var\.proxmox_token$/m, `${template} authenticates with the token`);
    assert.not.match(text, /password/, `${template} has no password`);
    assert.match(text, /required_plugins \{\s+proxmox = \{/, `${template} names its proxmox plugin for packer init`);
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
