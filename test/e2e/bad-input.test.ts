import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FixtureProject, withTimeout, type CliResult } from '../helpers/project.js';

/** Every configuration error: one line on stderr, exit code 2, no stack trace. */
function assertOneLineError(result: CliResult, pattern: RegExp | string) {
  assert.is(result.code, 2, result.stdout + result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.is(lines.length, 1, result.stderr);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, pattern);
  assert.not.match(result.stderr, '    at ');
}

test('a cycle is reported with its path and definition sites', withTimeout(30_000, async () => {
  const project = FixtureProject.copy('cycle');
  try {
    const result = await project.run(['golden-image']);
    assertOneLineError(result, /tasks\.ts:5: dependency cycle golden-image -> packer-config -> golden-image: remove one of these dependencies \(golden-image at tasks\.ts:5, packer-config at tasks\.ts:4\)/);
  } finally {
    project.remove();
  }
}));

test('an unknown target suggests the nearest name', withTimeout(30_000, async () => {
  const project = FixtureProject.copy('basic');
  try {
    assertOneLineError(await project.run(['osdx']), "unknown task 'osdx': did you mean 'osdc'?");
    assertOneLineError(await project.run(['copy-ssh-key']), "did you mean 'node-prep:copy-ssh-key'?");
    assertOneLineError(await project.run(['osdc', '--skip', 'dsn']), "unknown task 'dsn': did you mean 'dns'?");
  } finally {
    project.remove();
  }
}));

test('an unknown flag, a bad value and a missing target are usage errors', withTimeout(30_000, async () => {
  const project = FixtureProject.copy('basic');
  try {
    assertOneLineError(await project.run(['osdc', '--forse', 'dns']), "unknown option '--forse': did you mean '--force'?");
    assertOneLineError(await project.run(['osdc', '--concurrency', 'many']), "--concurrency 'many' is not a positive whole number");
    assertOneLineError(await project.run([]), 'no target given');
    assertOneLineError(await project.run(['osdc', '--env', 'prod']), "unknown environment 'prod': choose one of test");
  } finally {
    project.remove();
  }
}));

test('a task naming an undeclared pool is refused with a suggestion', withTimeout(30_000, async () => {
  const project = FixtureProject.copy('basic');
  try {
    const tasks = readFileSync(project.path('tasks.ts'), 'utf8');
    writeFileSync(project.path('tasks.ts'), tasks.replace("pool: 'api',", "pool: 'apo',"));
    assertOneLineError(await project.run(['osdc']), /tasks\.ts:\d+: task 'deploy-cluster' uses pool 'apo', which is not declared: did you mean 'api'\? \(pools are declared in deploy\.ts\)/);
  } finally {
    project.remove();
  }
}));

test('a corrupt state file is a clear error and is kept as it was', withTimeout(30_000, async () => {
  const project = FixtureProject.copy('basic');
  try {
    mkdirSync(project.path('.cache', 'state', 'test'), { recursive: true });
    writeFileSync(project.path('.cache', 'state', 'test', 'state.json'), '{"version": 1, "tasks": {');
    const result = await project.run(['osdc']);
    assertOneLineError(result, /state file .*state\.json is not valid JSON .*: it was left untouched; repair it, move it away, or run --reset-state/);
    const status = await project.run(['--status']);
    assert.is(status.code, 2);
  } finally {
    project.remove();
  }
}));

test('--summary before any run says so', withTimeout(30_000, async () => {
  const project = FixtureProject.copy('basic');
  try {
    assertOneLineError(await project.run(['--summary']), 'no run has been recorded for this environment yet: run a target first');
  } finally {
    project.remove();
  }
}));

test('--reset-state without a terminal and without --yes refuses', withTimeout(30_000, async () => {
  const project = FixtureProject.copy('basic');
  try {
    const result = await project.run(['--reset-state']);
    assert.is(result.code, 2);
    assert.match(result.stderr, '--reset-state needs confirmation');
  } finally {
    project.remove();
  }
}));

test("an environment whose loader throws (a corrupt file it parses) is a configuration error where it threw", withTimeout(30_000, async () => {
  const project = FixtureProject.copy('basic');
  try {
    writeFileSync(project.path('config.json'), '{"broken');
    assertOneLineError(await project.run(['--status']), /^error: environment test: deploy\.ts:\d+: loading it threw: .*JSON.*: fix the file it reads/);
  } finally {
    project.remove();
  }
}));

test('a project module that throws while loading: one line with its file and line, exit 2', withTimeout(30_000, async () => {
  const project = FixtureProject.copy('basic');
  try {
    const tasks = project.path('tasks.ts');
    writeFileSync(tasks, `${readFileSync(tasks, 'utf8')}\nthrow new Error('inventory.yml is not valid YAML');\n`);
    assertOneLineError(await project.run(['osdc']), /^error: tasks\.ts:\d+: loading the project threw Error: inventory\.yml is not valid YAML: fix that module \(run with --verbose/);
    const verbose = await project.run(['osdc', '--verbose']);
    assert.is(verbose.code, 2);
    assert.match(verbose.stderr, '    at ');
  } finally {
    project.remove();
  }
}));

test.run();
