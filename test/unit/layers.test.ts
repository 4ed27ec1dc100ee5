// Modules follow the pipeline and import one way: each folder of lib/ may import only the folders listed
// for it (lib/failures.ts is for everyone). A new import against the flow fails here with its file.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repositoryRoot } from '../helpers/project.js';

const allowed: Record<string, readonly string[]> = {
  dsl: [],
  fs: [],
  graph: ['dsl'],
  stamps: ['dsl', 'fs'],
  state: ['dsl', 'fs', 'stamps'],
  process: ['dsl', 'fs'],
  scheduler: ['dsl', 'fs', 'graph', 'stamps', 'state', 'process'],
  reporter: ['dsl', 'fs', 'graph', 'stamps', 'state', 'scheduler'],
  tools: ['dsl', 'fs', 'stamps', 'state', 'process'],
  // The lab's rig stops what a killed run left as the engine does (lib/process), as a tool would.
  lab: ['dsl', 'fs', 'state', 'process'],
  container: ['dsl', 'fs'],
  cli: ['dsl', 'fs', 'graph', 'stamps', 'state', 'process', 'scheduler', 'reporter', 'tools', 'container'],
};

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(path.join(directory, entry.name)) : /\.(ts|mts|mjs)$/.test(entry.name) ? [path.join(directory, entry.name)] : [],
  );
}

test('every import inside lib/ goes the way of the pipeline', () => {
  const lib = path.join(repositoryRoot, 'lib');
  const against: string[] = [];
  for (const file of filesUnder(lib)) {
    const folder = path.relative(lib, file).split(path.sep)[0]!;
    if (!(folder in allowed)) {
      if (folder !== 'failures.ts') against.push(`${path.relative(repositoryRoot, file)}: lib/${folder} is not in this test's list`);
      continue;
    }
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const target = path.relative(lib, path.resolve(path.dirname(file), match[1]!)).split(path.sep)[0]!;
      if (target === folder || target === 'failures.js' || allowed[folder]!.includes(target)) continue;
      against.push(`${path.relative(repositoryRoot, file)} imports lib/${target}`);
    }
  }
  assert.equal(against, []);
});

test.run();
