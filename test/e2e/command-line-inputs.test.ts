// Two engine mechanisms issue 19 needed: a task whose inputs are free values (a file to load, a path to
// write) is named on the command line with them, in any key order, and validated by its schemas; a task
// that throws a PermanentFailure is not retried.
import { readFileSync, writeFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FixtureProject, withProject, withTimeout } from '../helpers/project.js';

const test = suite('tasks named with free inputs on the command line; failures no retry can mend');

/** The basic fixture with a task that takes a path and a count, and one that fails permanently. */
function withExtraTasks(project: FixtureProject): void {
  const file = project.path('tasks.ts');
  const text = readFileSync(file, 'utf8')
    .replace("import { z } from 'zod';", "import { z } from 'zod';\nimport { PermanentFailure } from '../../../lib/dsl/command-failure.js';")
    .replace(
      'export const catalog = [',
      `export const copyTo = tasks.task({
  name: 'copy-to',
  inputs: { target: z.string().min(1), count: z.number().int().positive().optional() },
  commandLineInputs: true,
  policy: 'always',
  run: ({ id, inputs }) => trace(\`\${id} \${inputs.target} \${inputs.count ?? 1}\`),
});
export const refused = tasks.task({
  name: 'refused',
  retries: 3,
  retryDelay: '5s',
  run: ({ id }) => {
    trace(id);
    throw new PermanentFailure('the key was refused: check it');
  },
});
export const restoreCluster = tasks.task({
  name: 'restore-cluster',
  inputs: { cluster: z.string().min(1), from: z.string().min(1).optional() },
  instances: (config) => Object.keys(config.clusters).map((cluster) => ({ cluster })),
  commandLineInputs: true,
  policy: 'always',
  run: ({ id }) => trace(id),
});
export const catalog = [copyTo, refused, restoreCluster, `,
    );
  writeFileSync(file, text);
}

test('a free-input task runs with the inputs as typed, keys in any order; a bad value is one usage line', withTimeout(60_000, () =>
  withProject('basic', async (project) => {
    withExtraTasks(project);
    const run = await project.run(['copy-to[target=/media/site.tar,count=2]']);
    assert.is(run.code, 0, run.stdout + run.stderr);
    assert.equal(project.takeTrace(), ['copy-to[count=2,target=/media/site.tar] /media/site.tar 2']);
    const bad = await project.run(['copy-to[count=zero,target=/x]']);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /^error: copy-to\[count=zero,target=\/x\]: input count: .*task 'copy-to' takes target, count \(tasks\.ts:\d+\)/m);
    // A task without commandLineInputs has only the instances the catalog makes: another is unknown.
    const undeclared = await project.run(['deploy-cluster[cluster=nowhere]']);
    assert.is(undeclared.code, 2, undeclared.stdout + undeclared.stderr);
    assert.match(undeclared.stderr, /^error: unknown task 'deploy-cluster\[cluster=nowhere\]': did you mean 'deploy-cluster\[cluster=os(dc|ms)\]'\?/m);
  }),
));

test('free inputs added to an instance the environment declares: its declared inputs must be one of its instances, also in a --only list', withTimeout(60_000, () =>
  withProject('basic', async (project) => {
    withExtraTasks(project);
    const run = await project.run(['--only', 'restore-cluster[cluster=osdc,from=a.db],copy-to[target=/x]']);
    assert.is(run.code, 0, run.stdout + run.stderr);
    assert.equal(project.takeTrace().sort(), ['copy-to[target=/x] /x 1', 'restore-cluster[cluster=osdc,from=a.db]']);
    // Keys typed in another order than the id's sorted one: the same instance, in --only and --force too.
    const reordered = await project.run(['--only', 'restore-cluster[from=b.db,cluster=osdc]', '--force', 'restore-cluster[from=b.db,cluster=osdc]']);
    assert.is(reordered.code, 0, reordered.stdout + reordered.stderr);
    assert.equal(project.takeTrace(), ['restore-cluster[cluster=osdc,from=b.db]']);
    const planned = await project.run(['--dry-run', '--only', 'restore-cluster[from=c.db,cluster=osms]']);
    assert.is(planned.code, 0, planned.stdout + planned.stderr);
    assert.match(planned.stdout, /restore-cluster\[cluster=osms,from=c\.db\]\s+run/);
    const alone = await project.run(['restore-cluster[cluster=osms]']);
    assert.is(alone.code, 0, alone.stdout + alone.stderr);
    const undeclared = await project.run(['restore-cluster[cluster=nowhere,from=a.db]']);
    assert.is(undeclared.code, 2, undeclared.stdout + undeclared.stderr);
    assert.match(undeclared.stderr, /^error: restore-cluster\[cluster=nowhere,from=a\.db\] is not one of the instances of task 'restore-cluster' this environment declares: its instances: restore-cluster\[cluster=osdc\], restore-cluster\[cluster=osms\] \(with the other inputs added\)$/m);
    assert.equal(project.takeTrace(), ['restore-cluster[cluster=osms]'], 'nothing ran for the undeclared one');
  }),
));

test("the whole environment's --status: an instance that runs only when named is 'on request', not pending, and no change for --detailed-exitcode", withTimeout(60_000, () =>
  withProject('basic', async (project) => {
    withExtraTasks(project);
    const status = await project.run(['--status', '--json']);
    assert.is(status.code, 0, status.stdout + status.stderr);
    const rows = (JSON.parse(status.stdout) as { tasks: { task: string; state: string; detail: string }[] }).tasks;
    assert.equal(
      rows.filter((row) => row.task.startsWith('restore-cluster')),
      [
        { task: 'restore-cluster[cluster=osdc]', state: 'on request', detail: "runs only when named: tsx deploy.ts 'restore-cluster[cluster=osdc]'", lastRun: null, durationMs: null },
        { task: 'restore-cluster[cluster=osms]', state: 'on request', detail: "runs only when named: tsx deploy.ts 'restore-cluster[cluster=osms]'", lastRun: null, durationMs: null },
      ],
    );
    // A catalog of the SSH key step and the restore: once the step ran, the environment is up to date,
    // though no restore ever ran.
    const file = project.path('tasks.ts');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^export const catalog = \[copyTo, refused, restoreCluster, .*$/m, 'export const catalog = [restoreCluster, copySshKey];'));
    const deployed = await project.run(['node-prep:copy-ssh-key']);
    assert.is(deployed.code, 0, deployed.stdout + deployed.stderr);
    const detailed = await project.run(['--status', '--detailed-exitcode']);
    assert.is(detailed.code, 0, detailed.stdout + detailed.stderr);
    // Named, it is what it is: one that would run.
    const named = await project.run(['--status', 'restore-cluster[cluster=osms]', '--detailed-exitcode']);
    assert.is(named.code, 2, named.stdout + named.stderr);
  }),
));

test('a PermanentFailure fails at once: its retries are not used', withTimeout(60_000, () =>
  withProject('basic', async (project) => {
    withExtraTasks(project);
    const run = await project.run(['refused']);
    assert.is(run.code, 1);
    assert.equal(project.takeTrace(), ['refused'], 'one attempt');
    assert.match(run.stdout, 'the key was refused: check it');
    assert.not.match(run.stdout, /retrying/);
  }),
));

test.run();
