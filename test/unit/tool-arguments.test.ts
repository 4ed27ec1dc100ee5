import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import { parseRecap, PlaybookFailure, playbookArguments } from '../../lib/tools/ansible.js';
import { membersFailedBy } from '../../tasks/shared/kit.js';
import type { TaskId } from '../../lib/dsl/ids.js';
import { formatCommand } from '../../lib/tools/command.js';
import { inventoryYaml } from '../../lib/tools/inventory.js';
import { KnownHosts, pinHostKey } from '../../lib/tools/known-hosts.js';
import { createHmac } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';

test('ansible-playbook arguments: every option, extra vars and inventory through files', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'onboarder-args-'));
  try {
    const args = playbookArguments(
      {
        playbook: 'site.yml',
        inventory: { groups: { mcm: { hosts: { cp1: { address: '10.0.0.1', user: 'ubuntu' } }, vars: { rke2_version: 'v1.30' } } } },
        limit: ['cp1', 'cp2'],
        tags: ['packages'],
        skipTags: ['reboot'],
        extraVars: { token: "it's secret; rm -rf /" },
        check: true,
        diff: true,
        become: true,
        forks: 10,
        vaultPasswordFile: '/run/secrets/vault',
        verbosity: 2,
        privateKey: '/keys/id',
      },
      scratch,
    );
    assert.equal(args, [
      '-i', path.join(scratch, 'inventory.yml'),
      '--limit', 'cp1,cp2',
      '--tags', 'packages',
      '--skip-tags', 'reboot',
      '-e', `@${path.join(scratch, 'extra-vars.json')}`,
      '--check', '--diff', '--become',
      '--forks', '10',
      '--vault-password-file', '/run/secrets/vault',
      '--private-key', '/keys/id',
      '-vv',
      'site.yml',
    ]);
    assert.equal(JSON.parse(readFileSync(path.join(scratch, 'extra-vars.json'), 'utf8')), { token: "it's secret; rm -rf /" });
    const inventory = YAML.parse(readFileSync(path.join(scratch, 'inventory.yml'), 'utf8'));
    assert.equal(inventory.all.children.mcm, { hosts: { cp1: { ansible_host: '10.0.0.1', ansible_user: 'ubuntu' } }, vars: { rke2_version: 'v1.30' } });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('forks cover every host of a typed inventory (Ansible would run 5 at a time), up to 50', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'onboarder-args-'));
  try {
    const hosts = (count: number, prefix: string) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`${prefix}${index}`, { address: `10.0.0.${index}` }]));
    const forks = (inventory: Parameters<typeof playbookArguments>[0]['inventory']) => {
      const args = playbookArguments({ playbook: 'site.yml', inventory }, scratch);
      return args.includes('--forks') ? args[args.indexOf('--forks') + 1] : undefined;
    };
    // A host in two groups counts once.
    assert.is(forks({ groups: { cp: { hosts: hosts(3, 'cp') }, workers: { hosts: hosts(17, 'w') }, all_nodes: { hosts: hosts(3, 'cp') } } }), '20');
    assert.is(forks({ groups: { one: { hosts: hosts(1, 'n') } } }), '1');
    assert.is(forks({ groups: { many: { hosts: hosts(80, 'n') } } }), '50');
    assert.is(forks('inventory.ini'), undefined, 'a file inventory keeps ansible.cfg or the default');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('PLAY RECAP is parsed per host', () => {
  const output = `PLAY [all] ***\n\nPLAY RECAP *********\nhost1                      : ok=3    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0\nhost2 : ok=0 changed=0 unreachable=1 failed=0 skipped=0 rescued=0 ignored=0\n`;
  assert.equal(parseRecap(output), {
    host1: { ok: 3, changed: 1, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 },
    host2: { ok: 0, changed: 0, unreachable: 1, failed: 0, skipped: 0, rescued: 0, ignored: 0 },
  });
});

test("a batch's playbook fails only the nodes its recap says failed or were unreachable, when the others finished", () => {
  const line = (host: string, failed: number, unreachable = 0) => `${host} : ok=3 changed=1 unreachable=${unreachable} failed=${failed} skipped=0 rescued=0 ignored=0`;
  const failure = (...lines: string[]) => new PlaybookFailure('ansible-playbook node-prep.yml', 2, '', 'a host failed', parseRecap(`PLAY RECAP ***\n${lines.join('\n')}\n`));
  const members = ['w1', 'w2', 'w3'].map((name) => ({ id: `node-prep[node=${name}]` as TaskId, node: { name } }));
  const some = membersFailedBy(failure(line('w1', 0), line('w2', 1), line('w3', 0, 1)), members);
  assert.equal(some?.members, ['node-prep[node=w2]', 'node-prep[node=w3]']);
  assert.is(some?.cause.message, 'a host failed');
  // A member the recap does not name never finished.
  assert.equal(membersFailedBy(failure(line('w1', 0), line('w2', 1)), members)?.members, ['node-prep[node=w2]', 'node-prep[node=w3]']);
  // Every member failed, a host outside the batch failed, no recap, or another error: they all fail.
  assert.is(membersFailedBy(failure(line('w1', 1), line('w2', 1), line('w3', 1)), members), undefined);
  assert.is(membersFailedBy(failure(line('cp1', 1), line('w1', 0), line('w2', 0), line('w3', 0)), members), undefined);
  assert.is(membersFailedBy(failure(), members), undefined);
  assert.is(membersFailedBy(new Error('ansible-playbook: not found'), members), undefined);
});

test('inventory YAML nests children groups', () => {
  const yaml = YAML.parse(inventoryYaml({ groups: { k8s: { children: ['osdc', 'osms'] }, osdc: { hosts: { w1: { address: '10.0.1.5', port: 2222 } } } }, vars: { ansible_python_interpreter: '/usr/bin/python3' } }));
  assert.equal(yaml.all.children.k8s, { children: { osdc: {}, osms: {} } });
  assert.equal(yaml.all.children.osdc.hosts.w1, { ansible_host: '10.0.1.5', ansible_port: 2222 });
  assert.is(yaml.all.vars.ansible_python_interpreter, '/usr/bin/python3');
});

test('known_hosts: plain, ports, hashed names, wildcards, changed and revoked keys', () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-kh-'));
  try {
    const key = Buffer.from('key-one');
    const other = Buffer.from('key-two');
    const salt = Buffer.from('0123456789abcdef0123');
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('hashed.example').digest('base64')}`;
    const file = path.join(directory, 'known_hosts');
    writeFileSync(
      file,
      [
        `10.0.0.1 ssh-ed25519 ${key.toString('base64')}`,
        `[10.0.0.2]:2222 ssh-ed25519 ${key.toString('base64')}`,
        `${hashed} ssh-ed25519 ${key.toString('base64')}`,
        `*.lab.test,!evil.lab.test ssh-ed25519 ${key.toString('base64')}`,
        `@revoked * ssh-ed25519 ${other.toString('base64')}`,
        '',
      ].join('\n'),
    );
    const knownHosts = KnownHosts.read(file);
    assert.equal(knownHosts.verify('10.0.0.1', 22, key), { kind: 'match' });
    assert.equal(knownHosts.verify('10.0.0.2', 2222, key), { kind: 'match' });
    assert.equal(knownHosts.verify('10.0.0.2', 22, key), { kind: 'unknown' });
    assert.equal(knownHosts.verify('hashed.example', 22, key), { kind: 'match' });
    assert.equal(knownHosts.verify('node1.lab.test', 22, key), { kind: 'match' });
    assert.equal(knownHosts.verify('evil.lab.test', 22, key), { kind: 'unknown' });
    assert.equal(knownHosts.verify('10.0.0.1', 22, Buffer.from('key-three')), { kind: 'changed', line: 1 });
    assert.equal(knownHosts.verify('10.0.0.1', 22, other), { kind: 'revoked', line: 5 });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("a VM's own host key is pinned: the lines naming that host alone are replaced, every other line kept, a revoked key refused", async () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-pin-'));
  try {
    const file = path.join(directory, 'known_hosts');
    // A key blob as SSH has it: its type as a length-prefixed string, then (here) a name for the key.
    const base64 = (text: string) => Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from(text)]).toString('base64');
    const blob = (text: string) => Buffer.from(base64(text), 'base64');
    const salt = Buffer.from('0123456789abcdef0123');
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('10.0.0.5').digest('base64')}`;
    const lines = ['# the site', `10.0.0.5 ssh-ed25519 ${base64('old')}`, `${hashed} ssh-ed25519 ${base64('old-hashed')}`, `10.0.0.5,node5 ssh-ed25519 ${base64('old')}`, `10.0.0.6 ssh-ed25519 ${base64('six')}`, `@revoked * ssh-ed25519 ${base64('stolen')}`];
    writeFileSync(file, lines.join('\n'));
    assert.is(await pinHostKey(file, '10.0.0.7', 22, `ssh-ed25519 ${base64('seven')} root@node7`), 'added');
    assert.is(await pinHostKey(file, '10.0.0.5', 22, `ssh-ed25519 ${base64('new')}`), 'replaced');
    assert.is(await pinHostKey(file, '10.0.0.5', 22, `ssh-ed25519 ${base64('new')}`), 'unchanged');
    assert.equal(readFileSync(file, 'utf8').split('\n'), [lines[0], lines[3], lines[4], lines[5], `10.0.0.7 ssh-ed25519 ${base64('seven')}`, `10.0.0.5 ssh-ed25519 ${base64('new')}`, '']);
    const known = KnownHosts.read(file);
    assert.equal(known.verify('10.0.0.5', 22, blob('new')), { kind: 'match' });
    assert.equal(known.verify('10.0.0.7', 22, blob('seven')), { kind: 'match' });
    // In parallel (the clusters' VM steps): both land.
    await Promise.all([pinHostKey(file, '10.0.0.8', 2222, `ssh-ed25519 ${base64('eight')}`), pinHostKey(file, '10.0.0.9', 22, `ssh-ed25519 ${base64('nine')}`)]);
    assert.match(readFileSync(file, 'utf8'), `\n[10.0.0.8]:2222 ssh-ed25519 ${base64('eight')}\n10.0.0.9 ssh-ed25519 ${base64('nine')}\n`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const refusal = (pin: () => Promise<unknown>) => pin().then(() => 'pinned', (error: Error) => error.message);
    assert.match(await refusal(() => pinHostKey(file, '10.0.0.10', 22, `ssh-ed25519 ${base64('stolen')}`)), /is revoked in .*known_hosts \(line 4\)/);
    assert.match(await refusal(() => pinHostKey(file, '10.0.0.10', 22, `ssh-rsa ${base64('mislabelled')}`)), /is not an SSH public key/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('command lines are shown quoted', () => {
  assert.is(formatCommand(['ansible-playbook', '-e', "a b", "it's"]), `ansible-playbook -e 'a b' 'it'\\''s'`);
});

test.run();
