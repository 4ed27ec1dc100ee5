// Writing a task as the README says (issue 20, part 7): a new module under tasks/ is in the catalog by being
// there, with no list to edit; a task defined but not exported is named with where it is defined.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyProject, runDeploy } from '../helpers/project-copy.js';
import { withTimeout } from '../helpers/project.js';

const factsModule = `import { runCommand } from '../lib/tools/command.js';
import { tasks } from './shared/kit.js';
import { dns } from './dns/index.js';

const facts = tasks.namespace('facts');

/** Not exported: defined, but not in the catalog. */
const hidden = facts.task({ name: 'hidden', description: 'Forgotten', run: () => undefined });

export const all = facts.task({
  name: 'all',
  description: 'What every host says about itself',
  deps: [dns],
  supportsDryRun: true,
  run: async (context) => {
    await runCommand(context, ['uname', '-a']);
    void hidden;
  },
});
`;

test('a new module under tasks/ is in the catalog with no list to edit; a task it does not export is named with its file and line', withTimeout(120_000, async () => {
  const project = copyProject();
  try {
    writeFileSync(path.join(project.directory, 'tasks', 'facts.ts'), factsModule);
    const list = await runDeploy(project.directory, ['--list']);
    assert.is(list.code, 0, list.stderr);
    assert.match(list.stdout, /^facts\n {2}facts:all +What every host says about itself$/m);
    const plan = await runDeploy(project.directory, ['facts:all', '--dry-run']);
    assert.is(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /facts:all/);
    assert.match(plan.stdout, /\$ uname -a/, plan.stdout);

    const hidden = await runDeploy(project.directory, ['facts:hidden', '--dry-run']);
    assert.is(hidden.code, 2, hidden.stderr);
    assert.match(hidden.stderr, /^error: tasks\/facts\.ts:8: task 'facts:hidden' is defined there but is not in the catalog: export it from its module/m);
  } finally {
    project.remove();
  }
}));

test.run();
