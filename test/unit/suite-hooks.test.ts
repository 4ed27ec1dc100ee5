// test/helpers/suite.ts: a suite whose `before` hook throws says why (uvu alone prints only "(0 / 1)").
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repositoryRoot } from '../helpers/project.js';

test("a before hook's error is printed with the suite's name, and the suite still fails", () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-suite-'));
  try {
    const file = path.join(directory, 'failing-hook.test.ts');
    const helper = path.join(repositoryRoot, 'test', 'helpers', 'suite.ts');
    writeFileSync(file, `import { suite } from ${JSON.stringify(helper)};\nconst test = suite('rig');\ntest.before(() => { throw new Error('subnet 10.77.0.0/24 is already in use'); });\ntest('never runs', () => undefined);\ntest.run();\n`);
    const result = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: repositoryRoot, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.match(result.stderr, 'rig: its before hook failed: Error: subnet 10.77.0.0/24 is already in use');
    assert.match(result.stdout, /Passed:\s+0/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test.run();
