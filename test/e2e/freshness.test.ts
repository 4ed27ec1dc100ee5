import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FixtureProject, withTimeout } from '../helpers/project.js';

// osdc itself has no body, so it leaves no trace.
const osdcTasks = ['deploy-cluster[cluster=osdc]', 'dns', 'node-prep:copy-ssh-key', 'template', 'validate'];

async function deployedProject(): Promise<FixtureProject> {
  const project = FixtureProject.copy('basic');
  const first = await project.run(['osdc']);
  assert.is(first.code, 0, first.stderr);
  assert.equal(project.takeTrace(), osdcTasks);
  return project;
}

test('a full run, then a re-run skips everything but the always task', withTimeout(60_000, async () => {
  const project = await deployedProject();
  try {
    const second = await project.run(['osdc']);
    assert.is(second.code, 0);
    assert.equal(project.takeTrace(), ['dns']);
    assert.match(second.stdout, '[validate] up to date');
    assert.match(second.stdout, '[dns] run: always runs');
    assert.match(second.stdout, 'succeeded: 1 ran, 5 skipped, 0 failed, 0 blocked');
  } finally {
    project.remove();
  }
}));

test('a changed config value re-runs exactly the task that read it and its dependents', withTimeout(60_000, async () => {
  const project = await deployedProject();
  try {
    const config = JSON.parse(readFileSync(project.path('config.json'), 'utf8'));
    config.clusters.osdc.nodes = 5;
    config.clusters.osms.nodes = 9; // not read by any osdc task
    writeFileSync(project.path('config.json'), JSON.stringify(config));
    const rerun = await project.run(['osdc']);
    assert.is(rerun.code, 0, rerun.stderr);
    assert.equal(project.takeTrace(), ['deploy-cluster[cluster=osdc]', 'dns']);
    assert.match(rerun.stdout, '[deploy-cluster[cluster=osdc]] run: config clusters.osdc.nodes changed');
    assert.match(rerun.stdout, '[osdc] run: dependency deploy-cluster[cluster=osdc] changed');
  } finally {
    project.remove();
  }
}));

test('a changed source file re-runs its task and dependents', withTimeout(60_000, async () => {
  const project = await deployedProject();
  try {
    writeFileSync(project.path('files', 'key.pub'), 'ssh-ed25519 BBBB rotated\n');
    const rerun = await project.run(['osdc']);
    assert.is(rerun.code, 0, rerun.stderr);
    assert.equal(project.takeTrace(), ['deploy-cluster[cluster=osdc]', 'dns', 'node-prep:copy-ssh-key']);
    assert.match(rerun.stdout, '[node-prep:copy-ssh-key] run: source files/key.pub changed');
  } finally {
    project.remove();
  }
}));

test('a changed task body re-runs that task and its dependents only', withTimeout(60_000, async () => {
  const project = await deployedProject();
  try {
    const tasks = readFileSync(project.path('tasks.ts'), 'utf8');
    writeFileSync(project.path('tasks.ts'), tasks.replace("check: ({ config }) => (config.drift ?", "check: ({ config }) => (config.drift === true ?"));
    const rerun = await project.run(['osdc']);
    assert.is(rerun.code, 0, rerun.stderr);
    assert.equal(project.takeTrace(), ['dns', 'template']);
    assert.match(rerun.stdout, '[template] run: definition changed');
    assert.match(rerun.stdout, '[osdc] run: dependency template changed');
    assert.match(rerun.stdout, '[node-prep:copy-ssh-key] up to date');
  } finally {
    project.remove();
  }
}));

test('a drift check that finds drift re-runs its task and says so', withTimeout(60_000, async () => {
  const project = await deployedProject();
  try {
    const config = JSON.parse(readFileSync(project.path('config.json'), 'utf8'));
    writeFileSync(project.path('config.json'), JSON.stringify({ ...config, drift: true }));
    const rerun = await project.run(['osdc']);
    assert.is(rerun.code, 0, rerun.stderr);
    assert.equal(project.takeTrace(), ['dns', 'template']);
    assert.match(rerun.stdout, '[template] run: drift: template 9002 is not a template');
  } finally {
    project.remove();
  }
}));

test('--force, --force-all, --skip, --only and --reset', withTimeout(90_000, async () => {
  const project = await deployedProject();
  try {
    let result = await project.run(['osdc', '--force', 'validate']);
    assert.is(result.code, 0, result.stderr);
    assert.equal(project.takeTrace(), ['dns', 'validate'], 'a forced task with an unchanged fingerprint does not re-run dependents');

    result = await project.run(['osdc', '--force-all']);
    assert.equal(project.takeTrace(), osdcTasks);

    writeFileSync(project.path('files', 'key.pub'), 'changed\n');
    result = await project.run(['osdc', '--skip', 'node-prep:copy-ssh-key,dns']);
    assert.is(result.code, 0, result.stderr);
    assert.equal(project.takeTrace(), []);
    assert.match(result.stdout, '[node-prep:copy-ssh-key] skipped (--skip)');

    result = await project.run(['osdc', '--only', 'template']);
    assert.equal(project.takeTrace(), []);
    assert.match(result.stderr, 'dependencies are assumed done');

    result = await project.run(['--reset', 'template']);
    assert.is(result.code, 0, result.stderr);
    result = await project.run(['osdc', '--skip', 'node-prep:copy-ssh-key']);
    assert.equal(project.takeTrace(), ['dns', 'template']);
  } finally {
    project.remove();
  }
}));

test('a stamp of a task the project no longer has shows as orphaned in --status; --reset forgets it', withTimeout(90_000, async () => {
  const project = await deployedProject();
  try {
    const file = project.path('tasks.ts');
    writeFileSync(file, readFileSync(file, 'utf8').replace("name: 'template',", "name: 'golden-template',"));
    let status = await project.run(['--status']);
    assert.is(status.code, 0, status.stderr);
    assert.match(status.stdout, /\ntemplate +orphaned .*not declared any more: --reset forgets it/);
    const reset = await project.run(['--reset', 'template']);
    assert.is(reset.code, 0, reset.stderr);
    status = await project.run(['--status']);
    assert.not.match(status.stdout, 'orphaned');
  } finally {
    project.remove();
  }
}));

test.run();
