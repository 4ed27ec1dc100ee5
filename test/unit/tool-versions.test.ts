import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ToolVersions, toolVersion, versionArgumentsOf } from '../../lib/stamps/tool-versions.js';

test('versions are remembered across runs while the executable on PATH is the same file, and asked again when it changes', async () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-tool-versions-'));
  const savedPath = process.env.PATH;
  const asked = path.join(directory, 'asked');
  // A program of this test's own that counts how often it is asked for its version.
  const install = (version: string) => {
    const staged = path.join(directory, 'staged');
    writeFileSync(staged, `#!/bin/sh\necho asked >> ${asked}\necho "probe-tool ${version} $*"\n`);
    chmodSync(staged, 0o755);
    renameSync(staged, path.join(directory, 'bin', 'probe-tool'));
  };
  const timesAsked = () => readFileSync(asked, 'utf8').split('\n').filter(Boolean).length;
  try {
    const bin = path.join(directory, 'bin');
    mkdirSync(bin);
    install('1.0');
    process.env.PATH = `${bin}:${savedPath}`;
    const cacheFile = path.join(directory, 'cache', 'tool-versions.json');

    const first = new ToolVersions();
    await first.load(cacheFile);
    assert.is(await first.version('probe-tool', ['--version']), 'probe-tool 1.0 --version');
    assert.is(await first.version('probe-tool', ['--version']), 'probe-tool 1.0 --version');
    assert.is(timesAsked(), 1, 'asked once per process');
    await first.save();
    assert.is(statSync(cacheFile).mode & 0o777, 0o600);

    const second = new ToolVersions();
    await second.load(cacheFile);
    assert.is(await second.version('probe-tool', ['--version']), 'probe-tool 1.0 --version');
    assert.is(timesAsked(), 1, 'the next run takes the remembered answer');
    assert.is(await second.version('probe-tool', ['version']), 'probe-tool 1.0 version', 'other arguments are another question');
    assert.is(timesAsked(), 2);

    install('2.0');
    const upgraded = new ToolVersions();
    await upgraded.load(cacheFile);
    assert.is(await upgraded.version('probe-tool', ['--version']), 'probe-tool 2.0 --version', 'a replaced executable is asked again');
    assert.is(timesAsked(), 3);
    assert.is(await upgraded.version('probe-tool', ['--version'], { fresh: true }), 'probe-tool 2.0 --version');
    assert.is(timesAsked(), 4, '--versions asks afresh');

    assert.is(await upgraded.version('onboarder-no-such-tool', ['--version']), 'not installed');
  } finally {
    process.env.PATH = savedPath;
    rmSync(directory, { recursive: true, force: true });
  }
});

test('tools that reject --version are asked the way they understand (real dig and ssh)', async () => {
  assert.equal(versionArgumentsOf('dig'), ['-v']);
  assert.equal(versionArgumentsOf('/usr/bin/kubectl'), ['version', '--client']);
  assert.equal(versionArgumentsOf('ansible-playbook'), ['--version']);
  assert.match(await toolVersion('dig'), /^DiG \d/);
  assert.match(await toolVersion('ssh'), /^OpenSSH_/);
});

test.run();
