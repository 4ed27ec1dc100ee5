import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FixtureProject, withProject, withTimeout, type CliResult } from '../helpers/project.js';

/** Every configuration error: one line on stderr, exit code 2, no stack trace. */
function assertOneLineError(result: CliResult, pattern: RegExp | string) {
  assert.is(result.code, 2, result.stdout + result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.is(lines.length, 1, result.stderr);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, pattern);
  assert.not.match(result.stderr, '    at ');
}

test('a cycle is reported with its path and definition sites', withTimeout(30_000, () => withProject('cycle', async (project) => {
  const result = await project.run(['golden-image']);
  assertOneLineError(result, /tasks\.ts:5: dependency cycle golden-image -> packer-config -> golden-image: remove one of these dependencies \(golden-image at tasks\.ts:5, packer-config at tasks\.ts:4\)/);
})));

test('an unknown target suggests the nearest name', withTimeout(30_000, () => withProject('basic', async (project) => {
  assertOneLineError(await project.run(['osdx']), "unknown task 'osdx': did you mean 'osdc'?");
  assertOneLineError(await project.run(['copy-ssh-key']), "did you mean 'node-prep:copy-ssh-key'?");
  // A task with inputs named without them: which input, and the instances to choose from.
  assertOneLineError(await project.run(['deploy-cluster']), "task 'deploy-cluster' needs its input cluster: name one instance, deploy-cluster[cluster=osdc], deploy-cluster[cluster=osms] (see --list)");
  assertOneLineError(await project.run(['osdc', '--force', 'deploy-cluster']), "task 'deploy-cluster' needs its input cluster");
  assertOneLineError(await project.run(['osdc', '--skip', 'dsn']), "unknown task 'dsn': did you mean 'dns'?");
})));

test('an unknown flag, a bad value and a missing target are usage errors', withTimeout(30_000, () => withProject('basic', async (project) => {
  assertOneLineError(await project.run(['osdc', '--forse', 'dns']), "unknown option '--forse': did you mean '--force'?");
  assertOneLineError(await project.run(['osdc', '--concurrency', 'many']), "--concurrency 'many' is not a positive whole number");
  assertOneLineError(await project.run(['osdc', '-j', '-1']), "option '-j' is missing its value, or its value starts with '-': write a value starting with '-' as --concurrency=<value>");
  assertOneLineError(await project.run(['osdc', '--concurrency=-1']), "--concurrency '-1' is not a positive whole number");
  assertOneLineError(await project.run(['osdc', '--on-failure', 'sometimes']), "--on-failure 'sometimes' is not known: use one of no-new, continue, kill");
  assertOneLineError(await project.run(['osdc', '-k', '--on-failure', 'kill']), '--keep-going and --on-failure kill cannot be combined');
  assertOneLineError(await project.run([]), 'no target given');
  assertOneLineError(await project.run(['osdc', '--env', 'prod']), "unknown environment 'prod': choose one of test");
})));

test('a task naming an undeclared pool is refused with a suggestion', withTimeout(30_000, () => withProject('basic', async (project) => {
  const tasks = readFileSync(project.path('tasks.ts'), 'utf8');
  writeFileSync(project.path('tasks.ts'), tasks.replace("pool: 'api',", "pool: 'apo',"));
  assertOneLineError(await project.run(['osdc']), /tasks\.ts:\d+: task 'deploy-cluster' uses pool 'apo', which is not declared: did you mean 'api'\? \(pools are declared in deploy\.ts\)/);
})));

test('a corrupt state file is a clear error and is kept as it was', withTimeout(30_000, () => withProject('basic', async (project) => {
  mkdirSync(project.path('.cache', 'state', 'test'), { recursive: true });
  writeFileSync(project.path('.cache', 'state', 'test', 'state.json'), '{"version": 1, "tasks": {');
  const result = await project.run(['osdc']);
  assertOneLineError(result, /state file .*state\.json is not valid JSON .*: it was left untouched; repair it, move it away, or run --reset-state/);
  const status = await project.run(['--status']);
  assert.is(status.code, 2);
})));

test('--summary before any run says so', withTimeout(30_000, () => withProject('basic', async (project) => {
  assertOneLineError(await project.run(['--summary']), 'no run has been recorded for this environment yet: run a target first');
})));

test('--reset-state without a terminal and without --yes refuses', withTimeout(30_000, () => withProject('basic', async (project) => {
  const result = await project.run(['--reset-state']);
  assert.is(result.code, 2);
  assert.match(result.stderr, '--reset-state needs confirmation');
})));

test("an environment whose loader throws (a corrupt file it parses) is a configuration error where it threw", withTimeout(30_000, () => withProject('basic', async (project) => {
  writeFileSync(project.path('config.json'), '{"broken');
  assertOneLineError(await project.run(['--status']), /^error: environment test: project\.ts:\d+: loading it threw: .*JSON.*: fix the file it reads/);
})));

test('a project module that throws while loading: one line with its file and line, exit 2', withTimeout(30_000, () => withProject('basic', async (project) => {
  const tasks = project.path('tasks.ts');
  writeFileSync(tasks, `${readFileSync(tasks, 'utf8')}\nthrow new Error('inventory.yml is not valid YAML');\n`);
  assertOneLineError(await project.run(['osdc']), /^error: tasks\.ts:\d+: loading the project threw Error: inventory\.yml is not valid YAML: fix that module \(run with --verbose/);
  const verbose = await project.run(['osdc', '--verbose']);
  assert.is(verbose.code, 2);
  assert.match(verbose.stderr, '    at ');
})));

test('a file where the state, run records or task logs belong, or a directory where the run lock does: one line naming it, exit 2, before anything runs', withTimeout(60_000, async () => {
  const cases: { readonly inTheWay: readonly string[]; readonly message: RegExp }[] = [
    { inTheWay: ['.cache', 'state'], message: /cannot use \S+\/\.cache\/state\/test(\/state\.json)? for the environment's state: part of that path is a file, not a directory \(ENOTDIR\): move the file away$/ },
    { inTheWay: ['.cache', 'state', 'test', 'runs'], message: /cannot use \S+\/\.cache\/state\/test\/runs for run records: something else is in its place \(EEXIST\): move it away$/ },
    { inTheWay: ['.cache', 'logs', 'test'], message: /cannot use \S+\/\.cache\/logs\/test for task logs: something else is in its place \(EEXIST\): move it away$/ },
  ];
  for (const { inTheWay, message } of cases) {
    const project = FixtureProject.copy('basic');
    try {
      mkdirSync(project.path(...inTheWay.slice(0, -1)), { recursive: true });
      writeFileSync(project.path(...inTheWay), 'not a directory\n');
      assertOneLineError(await project.run(['validate']), message);
      assert.equal(project.takeTrace(), [], 'no task ran');
      if (inTheWay.length === 2) assertOneLineError(await project.run(['--status']), message);
      assert.is(readFileSync(project.path(...inTheWay), 'utf8'), 'not a directory\n', 'left as it was');
    } finally {
      project.remove();
    }
  }
  // And a directory where the run lock file belongs.
  const project = FixtureProject.copy('basic');
  try {
    mkdirSync(project.path('.cache', 'state', 'test', 'run.lock'), { recursive: true });
    assertOneLineError(await project.run(['validate']), /cannot use \S+\/run\.lock for the run lock: something else is in its place \(EISDIR\): move it away$/);
    assert.equal(project.takeTrace(), []);
  } finally {
    project.remove();
  }
}));

test('a file in the way of the logs: `latest` is replaced, the log directory itself is refused before anything runs', withTimeout(60_000, () => withProject('basic', async (project) => {
  assert.is((await project.run(['validate'])).code, 0);
  const logs = project.path('.cache', 'logs', 'test');
  // A plain file as `latest`: no problem, it is replaced by the link to the newest run that writes logs.
  rmSync(path.join(logs, 'latest'));
  writeFileSync(path.join(logs, 'latest'), '');
  assert.is((await project.run(['validate', '--force', 'validate'])).code, 0);
  assert.ok(lstatSync(path.join(logs, 'latest')).isSymbolicLink());
  rmSync(logs, { recursive: true });
  writeFileSync(logs, '');
  assertOneLineError(await project.run(['validate']), /cannot use \S+ for task logs/);
})));

test('a cache that cannot be saved is a warning and the command succeeds', withTimeout(60_000, () => withProject('basic', async (project) => {
  assert.is((await project.run(['validate'])).code, 0);
  // The source digests' file replaced by a directory: only a warning.
  const digests = project.path('.cache', 'source-digests.json');
  rmSync(digests, { force: true });
  mkdirSync(digests);
  writeFileSync(project.path('files', 'key.pub'), 'ssh-ed25519 AAAA changed\n');
  const changed = await project.run(['node-prep:copy-ssh-key']);
  assert.is(changed.code, 0, changed.stderr);
  assert.match(changed.stderr, /^warning: could not save the source digests; it is worked out again next time \(E\w+ at \S+\)$/m);
  assert.ok(existsSync(project.path('.cache', 'state', 'test', 'runs')));
  // And the tool versions' file (--versions always asks every tool, then saves what it learnt).
  const versionsFile = project.path('.cache', 'tool-versions.json');
  rmSync(versionsFile, { force: true });
  mkdirSync(versionsFile);
  const versions = await project.run(['--versions']);
  assert.is(versions.code, 0, versions.stderr);
  assert.match(versions.stdout, /^node\s+v20\./m);
  assert.match(versions.stderr, /^warning: could not save the tool versions; it is worked out again next time \(E\w+ at \S+\)$/m);
  assert.not.match(versions.stderr, '    at ');
})));

test.run();
