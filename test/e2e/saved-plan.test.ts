// Plan, review, apply exactly that plan (issue 20, part 1), as Terraform's saved plans: --dry-run --out
// saves it; --apply runs just its tasks, and refuses, naming what changed, when the configuration, the
// state or the task code changed since.
import { readFileSync, writeFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withProject, withTimeout } from '../helpers/project.js';

const test = suite('saved plans');

test('a saved plan applies exactly its tasks, once; a changed configuration is named and nothing runs', withTimeout(90_000, () =>
  withProject('basic', async (project) => {
    const planned = await project.run(['osdc', '--dry-run', '--out', 'plan.json']);
    assert.is(planned.code, 0, planned.stderr);
    assert.match(planned.stderr, 'plan saved to plan.json: apply it with `tsx deploy.ts --apply plan.json`');
    const saved = JSON.parse(readFileSync(project.path('plan.json'), 'utf8')) as { kind: string; command: string[]; tasks: { task: string; action: string }[] };
    assert.is(saved.kind, 'saved-plan');
    assert.equal(saved.command, ['osdc']);
    const runs = saved.tasks.filter((step) => step.action === 'run').map((step) => step.task).sort();
    assert.equal(project.takeTrace(), [], 'planning runs nothing');

    const applied = await project.run(['--apply', 'plan.json']);
    assert.is(applied.code, 0, applied.stdout + applied.stderr);
    assert.equal(project.takeTrace().map((line) => line.split(' ')[0]), runs.filter((task) => task !== 'osdc'));
    // Applied once: the state it was computed from has changed.
    const again = await project.run(['--apply', 'plan.json']);
    assert.is(again.code, 2);
    assert.match(again.stderr, /^error: the plan plan\.json is out of date: state changed for .*another run since the plan\?/m);

    // A configuration changed after the review: named by its path, and nothing runs.
    assert.is((await project.run(['osdc', '--dry-run', '--out', 'plan.json'])).code, 0);
    const config = JSON.parse(readFileSync(project.path('config.json'), 'utf8'));
    config.clusters.osdc.nodes = 5;
    writeFileSync(project.path('config.json'), JSON.stringify(config));
    project.takeTrace();
    const changed = await project.run(['--apply', 'plan.json']);
    assert.is(changed.code, 2);
    assert.match(changed.stderr, /^error: the plan plan\.json is out of date: configuration changed at clusters\.osdc\.nodes; .*review a new one \(--dry-run --out\) and apply that$/m);
    assert.equal(project.takeTrace(), []);
  }),
));

test('task code or a source file changed since the plan is named; a file that is not a plan, and --out without --dry-run, are one line each', withTimeout(90_000, () =>
  withProject('basic', async (project) => {
    assert.is((await project.run(['validate'])).code, 0);
    // A task that never ran has no stamp to compare: the files it declares as sources are (its playbook).
    assert.is((await project.run(['osdc', '--dry-run', '--out', 'plan.json'])).code, 0);
    writeFileSync(project.path('files', 'key.pub'), 'ssh-ed25519 AAAA-another-key reviewer@elsewhere\n');
    project.takeTrace();
    const source = await project.run(['--apply', 'plan.json']);
    assert.is(source.code, 2);
    assert.match(source.stderr, /^error: the plan plan\.json is out of date: source files changed for node-prep:copy-ssh-key/m, source.stderr);
    assert.equal(project.takeTrace(), []);
    assert.is((await project.run(['osdc', '--dry-run', '--out', 'plan.json'])).code, 0);
    writeFileSync(project.path('tasks.ts'), readFileSync(project.path('tasks.ts'), 'utf8').replace("description: 'Deploy the data cluster',", "description: 'Deploy the data cluster',\n  retries: 1,"));
    const code = await project.run(['--apply', 'plan.json']);
    assert.is(code.code, 2);
    assert.match(code.stderr, /^error: the plan plan\.json is out of date: task code changed for osdc/m);
    writeFileSync(project.path('not-a-plan.json'), '{"hello": 1}');
    const notPlan = await project.run(['--apply', 'not-a-plan.json']);
    assert.is(notPlan.code, 2);
    assert.match(notPlan.stderr, /^error: not-a-plan\.json is not a plan saved by --dry-run --out \(at version: /m);
    const missing = await project.run(['--apply', 'nowhere.json']);
    assert.match(missing.stderr, /^error: nowhere\.json is not a plan saved by --dry-run --out \(no such file\)/m);
    const outAlone = await project.run(['osdc', '--out', 'plan.json']);
    assert.is(outAlone.code, 2);
    assert.match(outAlone.stderr, /^error: --out goes with --dry-run/m);
  }),
));

test.run();
