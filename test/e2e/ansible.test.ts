import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TestHostRig } from '../../lib/lab/test-hosts.js';
import { runPlaybook, type PlaybookResult } from '../../lib/tools/ansible.js';
import type { Inventory } from '../../lib/tools/inventory.js';
import { renderFailure } from '../../lib/reporter/render-failure.js';
import { repositoryRoot, withTimeout } from '../helpers/project.js';
import { failureOf, runBody } from '../helpers/run-body.js';

interface Rig {
  rig: TestHostRig;
  directory: string;
}
const test = suite<Rig>('ansible over SSH against namespace hosts');
const playbook = path.join(repositoryRoot, 'test', 'fixtures', 'ansible', 'site.yml');

test.before(async (context) => {
  context.directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-rig-'));
  context.rig = await TestHostRig.start({ count: 2, directory: context.directory });
});

test.after(async (context) => {
  await context.rig?.stop();
  rmSync(context.directory, { recursive: true, force: true });
});

function inventory(rig: TestHostRig): Inventory {
  return {
    groups: {
      testhosts: {
        hosts: Object.fromEntries(rig.hosts.map((host) => [host.name, { address: host.address, port: host.port, user: rig.user }])),
      },
    },
  };
}

async function play(rig: TestHostRig, extra: { check?: boolean; diff?: boolean; marker: string }) {
  let result: PlaybookResult | undefined;
  const run = await runBody(async (context) => {
    result = await runPlaybook(context, {
      playbook,
      inventory: inventory(rig),
      extraVars: { marker_text: extra.marker },
      privateKey: rig.privateKeyFile,
      knownHostsFile: rig.knownHostsFile,
      ...(extra.check ? { check: true } : {}),
      ...(extra.diff ? { diff: true } : {}),
    });
  });
  return { ...run, result };
}

test('a playbook creates a user and a file on each host; a second run reports changed=0', withTimeout(180_000, async ({ rig }: Rig) => {
  const first = await play(rig, { marker: 'one' });
  assert.is(first.record.outcome, 'succeeded', first.output);
  for (const host of rig.hosts) {
    assert.ok(first.result!.recap[host.name]!.changed >= 2, `${host.name} changed`);
    assert.is(readFileSync(path.join(host.directory, 'etc', 'onboarder-marker'), 'utf8'), 'one\n');
    assert.match(readFileSync(path.join(host.directory, 'etc', 'passwd'), 'utf8'), /^deploy:/m);
  }
  assert.not.match(readFileSync('/etc/passwd', 'utf8'), /^deploy:/m, 'the real machine is untouched');
  assert.match(first.output, 'PLAY RECAP', 'output streamed into the task');
  assert.match(first.output, 'ansible-playbook [core', 'the tool version is reported');

  const second = await play(rig, { marker: 'one' });
  assert.is(second.record.outcome, 'succeeded');
  assert.is(second.result!.changed, false);
  for (const host of rig.hosts) assert.is(second.result!.recap[host.name]!.changed, 0);
}));

test('check mode with diff reports the change without making it', withTimeout(120_000, async ({ rig }: Rig) => {
  const checked = await play(rig, { marker: 'two', check: true, diff: true });
  assert.is(checked.record.outcome, 'succeeded', checked.output);
  assert.is(checked.result!.recap[rig.hosts[0]!.name]!.changed, 1);
  assert.match(checked.output, '-one');
  assert.match(checked.output, '+two');
  assert.is(readFileSync(path.join(rig.hosts[0]!.directory, 'etc', 'onboarder-marker'), 'utf8'), 'one\n');
}));

test('a host whose key changed fails clearly', withTimeout(120_000, async ({ rig }: Rig) => {
  await rig.replaceHostKey(rig.hosts[1]!);
  const run = await play(rig, { marker: 'one' });
  assert.is(run.record.outcome, 'failed');
  const failure = failureOf(run.record)!;
  assert.is(failure.reason, 'exit-non-zero');
  assert.match(renderFailure(failure), `host key verification failed for ${rig.hosts[1]!.name}`);
  assert.match(renderFailure(failure), 'ssh-keygen -R');
}));

test.run();
