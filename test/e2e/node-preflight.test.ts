// The node preflight node-prep runs first (tasks/node-prep/playbooks/includes/node-preflight.yml), by real
// ansible-playbook on this machine: it passes on a machine that is what a node must be, and each shortfall
// stops it with one line naming what the node has and what it needs.
import { execFile } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repositoryRoot, withTimeout } from '../helpers/project.js';

const run = promisify(execFile);
/** This machine's own IPv4 address (not loopback), as a node's address in the environment. */
const ownAddress = Object.values(networkInterfaces()).flat().find((entry) => entry && entry.family === 'IPv4' && !entry.internal)!.address;

async function preflight(vars: Record<string, unknown>): Promise<{ code: number; output: string }> {
  const extraVars = { catalog: repositoryRoot, node_address: ownAddress, control_plane: true, cilium: true, ...vars };
  try {
    const { stdout } = await run('ansible-playbook', ['-i', 'localhost,', '-c', 'local', '-e', JSON.stringify(extraVars), path.join(repositoryRoot, 'test', 'fixtures', 'ansible', 'node-preflight.yml')], {
      env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false', ANSIBLE_NOCOLOR: '1' },
    });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, output: failed.stdout };
  }
}

/** The assertion's message, as Ansible reports it. */
const message = (output: string) => /"msg": "(.*)"/.exec(output)?.[1] ?? output;

test('a machine that is what a control-plane node must be passes', withTimeout(60_000, async () => {
  const result = await preflight({});
  assert.is(result.code, 0, result.output);
}));

test('an address the node does not have is named with the ones it has', withTimeout(60_000, async () => {
  const result = await preflight({ node_address: '192.0.2.99' });
  assert.is(result.code, 2, result.output);
  assert.match(message(result.output), new RegExp(`^localhost: has no address 192\\.0\\.2\\.99 \\(it has [^)]*${ownAddress.replace(/\./g, '\\.')}[^)]*\\): the kubelet would register an address that is not its own: give the node's own address in the environment$`));
}));

test("a kernel older than Cilium's minimum stops a Cilium node only", withTimeout(60_000, async () => {
  const old = await preflight({ node_minimum_kernel: '99.0' });
  assert.is(old.code, 2, old.output);
  assert.match(message(old.output), /^localhost: runs Linux \S+, and Cilium needs 99\.0 or later: upgrade its kernel \(or its golden image\)$/);
  // As the include's caller templates it: a string.
  const canal = await preflight({ node_minimum_kernel: '99.0', cilium: 'False' });
  assert.is(canal.code, 0, canal.output);
}));

test('too few processors or too little memory, each with what it has and needs', withTimeout(60_000, async () => {
  const processors = await preflight({ node_minimum_processors: 512 });
  assert.is(processors.code, 2, processors.output);
  assert.match(message(processors.output), /^localhost: has \d+ processor\(s\), and a control-plane node needs 512: give its VM more cores$/);
  const memory = await preflight({ node_minimum_memory_mib: 100_000_000, control_plane: false });
  assert.is(memory.code, 2, memory.output);
  assert.match(message(memory.output), /^localhost: has \d+ MiB of memory, and a node needs 100000000 MiB: give its VM more memory$/);
}));

test.run();
