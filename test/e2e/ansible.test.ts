import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
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

test('the playbooks of one run share SSH masters, which stop when the run ends', withTimeout(180_000, async ({ rig }: Rig) => {
  // A temp directory of this test's own (short: it holds sockets): other suites running beside it make
  // control directories in /tmp too.
  const sharedTmp = process.env.TMPDIR;
  process.env.TMPDIR = mkdtempSync('/tmp/ob-');
  try {
    await sharedMasters(rig);
  } finally {
    rmSync(process.env.TMPDIR, { recursive: true, force: true });
    if (sharedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = sharedTmp;
  }
}));

async function sharedMasters(rig: TestHostRig): Promise<void> {
  const masters = () => readdirSync(os.tmpdir()).filter((name) => name.startsWith('onb-ssh-'));
  const before = masters();
  let during: string[] = [];
  const run = await runBody(async (context) => {
    for (const marker of ['one', 'two']) {
      await runPlaybook(context, { playbook, inventory: inventory(rig), extraVars: { marker_text: marker }, privateKey: rig.privateKeyFile, knownHostsFile: rig.knownHostsFile });
    }
    during = masters().filter((name) => !before.includes(name));
    const sockets = during.flatMap((name) => readdirSync(path.join(os.tmpdir(), name)));
    context.log.info(`sockets: ${sockets.length}`);
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.is(during.length, 1, 'one control directory for the run');
  assert.match(run.output, `sockets: ${rig.hosts.length}`, 'one master per host, used by both playbooks');
  assert.equal(masters().filter((name) => !before.includes(name)), [], 'stopped and removed when the run ended');
  const { stdout } = await promisify(execFile)('pgrep', ['-f', `ControlPath=${path.join(os.tmpdir(), during[0]!)}`]).catch(() => ({ stdout: '' }));
  assert.is(stdout.trim(), '', 'no SSH master outlives the run');
}

test('a host SSH cannot reach is named with how it was reached and what SSH said', withTimeout(120_000, async ({ rig }: Rig) => {
  const host = rig.hosts[0]!;
  const run = await runBody(async (context) => {
    await runPlaybook(context, {
      playbook,
      inventory: { groups: { testhosts: { hosts: { [host.name]: { address: host.address, port: 1, user: rig.user } } } } },
      extraVars: { marker_text: 'x' },
      privateKey: rig.privateKeyFile,
      knownHostsFile: rig.knownHostsFile,
    });
  });
  assert.is(run.record.outcome, 'failed');
  const message = renderFailure(failureOf(run.record)!);
  assert.match(message, `unreachable: ${host.name} (${rig.user}@${host.address}:1`, message);
  assert.match(message, `unreachable: ${host.name} (${rig.user}@${host.address}:1, key ${rig.privateKeyFile}): connect to host ${host.address} port 1: Connection refused`, message);
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
