import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { TestHostRig } from '../../lib/lab/test-hosts.js';
import { renderFailure } from '../../lib/reporter/render-failure.js';
import { closeSshConnections, sshConnectionCount, sshDownload, sshExec, sshUpload, type SshTarget } from '../../lib/tools/ssh.js';
import { withTimeout } from '../helpers/project.js';
import { failureOf, runBody } from '../helpers/run-body.js';

interface Rig {
  rig: TestHostRig;
  directory: string;
}
const test = suite<Rig>('ssh helper (node-ssh) against namespace hosts');

test.before(async (context) => {
  context.directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-ssh-'));
  context.rig = await TestHostRig.start({ count: 2, directory: path.join(context.directory, 'rig') });
});

test.after(async (context) => {
  await closeSshConnections();
  await context.rig?.stop();
  rmSync(context.directory, { recursive: true, force: true });
});

const target = (rig: TestHostRig, index: number, extra: Partial<SshTarget> = {}): SshTarget => ({
  host: rig.hosts[index]!.address,
  port: rig.hosts[index]!.port,
  user: rig.user,
  privateKey: rig.privateKeyFile,
  knownHostsFile: rig.knownHostsFile,
  ...extra,
});

test('exec returns output and exit codes; arguments are quoted one by one; one pooled connection per host', withTimeout(60_000, async ({ rig }: Rig) => {
  const before = sshConnectionCount();
  let hostname = '';
  let quoted = '';
  let exitCode = -1;
  const run = await runBody(async (context) => {
    hostname = (await sshExec(context, target(rig, 0), ['hostname'])).stdout.trim();
    quoted = (await sshExec(context, target(rig, 0), ['printf', '%s|', 'a b', '$HOME', "it's; rm -rf /"])).stdout;
    exitCode = (await sshExec(context, target(rig, 0), ['sh', '-c', 'exit 3'], { okExitCodes: [3] })).exitCode;
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.is(hostname, rig.hosts[0]!.name);
  assert.is(quoted, "a b|$HOME|it's; rm -rf /|");
  assert.is(exitCode, 3);
  assert.is(sshConnectionCount() - before, 1);
  assert.match(run.output, `$ ssh root@${rig.hosts[0]!.address} -- hostname`);
}));

test('a failing command fails the task with the command line, exit code and output tail', withTimeout(60_000, async ({ rig }: Rig) => {
  const run = await runBody(async (context) => {
    await sshExec(context, target(rig, 0), ['sh', '-c', 'echo something broke >&2; exit 5']);
  });
  const failure = failureOf(run.record)!;
  assert.is(failure.reason, 'exit-non-zero');
  if (failure.reason !== 'exit-non-zero') return;
  assert.is(failure.exitCode, 5);
  assert.match(failure.outputTail, 'something broke');
}));

test('output streams live, before the command ends', withTimeout(60_000, async ({ rig }: Rig) => {
  const run = await runBody(async (context) => {
    await sshExec(context, target(rig, 1), ['sh', '-c', 'echo first; sleep 1.5; echo second']);
  });
  const firstAt = run.times[run.events.findIndex((event) => event.type === 'task-output' && event.line === 'first')]!;
  const endAt = run.times[run.events.findIndex((event) => event.type === 'task-command-finished')]!;
  assert.ok(endAt - firstAt >= 1000, `first line arrived ${endAt - firstAt} ms before the end`);
}));

test('upload and download files and directories', withTimeout(60_000, async ({ rig, directory }: Rig) => {
  const local = path.join(directory, 'upload');
  mkdirSync(path.join(local, 'nested'), { recursive: true });
  writeFileSync(path.join(local, 'a.txt'), 'alpha');
  writeFileSync(path.join(local, 'nested', 'b.txt'), 'beta');
  const run = await runBody(async (context) => {
    await sshUpload(context, target(rig, 0), path.join(local, 'a.txt'), '/root/a.txt');
    await sshUpload(context, target(rig, 0), local, '/root/tree');
    await sshDownload(context, target(rig, 0), '/root/a.txt', path.join(directory, 'a-back.txt'));
    await sshDownload(context, target(rig, 0), '/root/tree', path.join(directory, 'tree-back'), { directory: true });
  });
  assert.is(run.record.outcome, 'succeeded', JSON.stringify(failureOf(run.record)));
  assert.is(readFileSync(path.join(rig.hosts[0]!.directory, 'root', 'a.txt'), 'utf8'), 'alpha');
  assert.is(readFileSync(path.join(rig.hosts[0]!.directory, 'root', 'tree', 'nested', 'b.txt'), 'utf8'), 'beta');
  assert.is(readFileSync(path.join(directory, 'a-back.txt'), 'utf8'), 'alpha');
  assert.is(readFileSync(path.join(directory, 'tree-back', 'nested', 'b.txt'), 'utf8'), 'beta');
}));

test('a timeout kills the remote command', withTimeout(60_000, async ({ rig }: Rig) => {
  const marker = `41.${process.pid}`;
  const run = await runBody(async (context) => {
    await sshExec(context, target(rig, 1), ['sleep', marker], { timeoutMs: 500 });
  });
  const failure = failureOf(run.record)!;
  assert.match(renderFailure(failure), 'timed out after 500 ms; the remote command was killed');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const left = await rig.exec(rig.hosts[1]!, ['sh', '-c', `pgrep -f "[s]leep ${marker}" || true`]);
  assert.is(left.trim(), '');
}));

test('a jump host reaches a host through another', withTimeout(60_000, async ({ rig }: Rig) => {
  let hostname = '';
  const run = await runBody(async (context) => {
    hostname = (await sshExec(context, target(rig, 1, { jump: target(rig, 0) }), ['hostname'])).stdout.trim();
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.is(hostname, rig.hosts[1]!.name);
}));

test('asRoot runs a command as root: through sudo for a user allowed to, as it is for root', withTimeout(60_000, async ({ rig }: Rig) => {
  const host = rig.hosts[0]!;
  await rig.addUser(host, 'deploy', { sudo: true });
  let plain = '';
  let elevated = '';
  let root = '';
  const run = await runBody(async (context) => {
    plain = (await sshExec(context, target(rig, 0, { user: 'deploy' }), ['id', '-un'])).stdout.trim();
    elevated = (await sshExec(context, target(rig, 0, { user: 'deploy' }), ['id', '-un'], { asRoot: true })).stdout.trim();
    root = (await sshExec(context, target(rig, 0), ['id', '-un'], { asRoot: true })).stdout.trim();
  });
  assert.is(run.record.outcome, 'succeeded', run.output + JSON.stringify(failureOf(run.record)));
  assert.is(plain, 'deploy');
  assert.is(elevated, 'root');
  assert.match(run.output, /ssh deploy@\S+ -- sudo -n -- id -un/);
  assert.is(root, 'root');
  assert.match(run.output, /ssh root@\S+ -- id -un/, 'root needs no sudo');
}));

test('the loopback fallback: sshd on 127.0.0.1 with its own port and pinned key', withTimeout(60_000, async ({ directory }: Rig) => {
  const loopback = await TestHostRig.start({ count: 1, directory: path.join(directory, 'loopback'), loopback: true });
  try {
    const host = loopback.hosts[0]!;
    assert.is(host.address, '127.0.0.1');
    assert.is.not(host.port, 22);
    let name = '';
    const run = await runBody(async (context) => {
      name = (await sshExec(context, { host: host.address, port: host.port, user: loopback.user, privateKey: loopback.privateKeyFile, knownHostsFile: loopback.knownHostsFile }, ['cat', '/etc/hostname'])).stdout.trim();
    });
    assert.is(run.record.outcome, 'succeeded', run.output);
    assert.is(name, host.name);
  } finally {
    await closeSshConnections();
    await loopback.stop();
  }
}));

test('connecting retries with backoff when the host refuses, then fails with the cause', withTimeout(60_000, async ({ rig }: Rig) => {
  const started = Date.now();
  const run = await runBody(async (context) => {
    await sshExec(context, target(rig, 0, { port: 2, connectRetries: 2, user: 'nobody-retry' }), ['true']);
  });
  const elapsed = Date.now() - started;
  assert.is(run.record.outcome, 'failed');
  assert.match(renderFailure(failureOf(run.record)!), 'ECONNREFUSED');
  assert.ok(elapsed >= 700, `two retries back off 250 + 500 ms, took ${elapsed} ms`);
}));

test('an unknown or changed host key is refused with what to do', withTimeout(60_000, async ({ rig, directory }: Rig) => {
  const empty = path.join(directory, 'empty_known_hosts');
  writeFileSync(empty, '');
  const unknown = await runBody(async (context) => {
    await sshExec(context, target(rig, 0, { knownHostsFile: empty, user: 'nobody-unknown' }), ['true']);
  });
  assert.match(renderFailure(failureOf(unknown.record)!), /host key of [\d.]+ is not in .*empty_known_hosts: add it after checking its fingerprint: ssh-keyscan/);

  const wrong = path.join(directory, 'wrong_known_hosts');
  const otherKey = readFileSync(rig.knownHostsFile, 'utf8').split('\n')[1]!.split(' ').slice(1).join(' ');
  writeFileSync(wrong, `${rig.hosts[0]!.address} ${otherKey}\n`);
  const changed = await runBody(async (context) => {
    await sshExec(context, target(rig, 0, { knownHostsFile: wrong, user: 'nobody-changed' }), ['true']);
  });
  assert.match(renderFailure(failureOf(changed.record)!), /host key of [\d.]+ does not match .*wrong_known_hosts line 1: if the host was rebuilt, remove the old key \(ssh-keygen -R/);
}));

test.run();
