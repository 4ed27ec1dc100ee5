// The VMs' drives (tasks/infrastructure/terraform/main.tf): every one the provider makes is on the
// environment's storage, never on a default a site may lack.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repositoryRoot } from '../helpers/project.js';

/** The body of each top-level block of a resource named `name` (`disk`, `initialization`): up to its closing brace. */
function blocks(source: string, name: string): string[] {
  return [...source.matchAll(new RegExp(`^  ${name} \\{\\n([\\s\\S]*?)^  \\}`, 'gm'))].map((match) => match[1]!);
}

test("the system disk and the cloud-init drive are on the environment's storage (bpg's default for the cloud-init drive is local-lvm, which a node on ZFS lacks)", () => {
  const mainTf = readFileSync(path.join(repositoryRoot, 'tasks', 'infrastructure', 'terraform', 'main.tf'), 'utf8');
  for (const name of ['disk', 'initialization']) {
    const found = blocks(mainTf, name);
    assert.is(found.length, 1, `one ${name} block`);
    assert.match(found[0]!, /^\s+datastore_id\s+= var\.storage$/m, `${name} names its datastore`);
  }
});

test.run();
