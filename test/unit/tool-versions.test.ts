import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ToolVersions, toolVersion, versionArgumentsOf } from '../../lib/stamps/tool-versions.js';
import { settled } from '../helpers/settle.js';

test('versions are remembered across runs while the executable on PATH is the same file, and asked again when it changes', async () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-tool-versions-'));
  const savedPath = process.env.PATH;
  const asked = path.join(directory, 'asked');
  // A program of this test's own that counts how often it is asked for its version.
  const executable = path.join(directory, 'bin', 'probe-tool');
  // Installed whole (a new file renamed into place, as a package manager does), and left to settle: an
  // executable changed just now is not remembered (see the next test).
  const install = async (version: string) => {
    const staged = path.join(directory, 'staged');
    writeFileSync(staged, `#!/bin/sh\necho asked >> ${asked}\necho "probe-tool ${version} $*"\n`);
    chmodSync(staged, 0o755);
    renameSync(staged, executable);
    await settled(executable);
  };
  const timesAsked = () => readFileSync(asked, 'utf8').split('\n').filter(Boolean).length;
  try {
    const bin = path.join(directory, 'bin');
    mkdirSync(bin);
    await install('1.0');
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

    await install('2.0');
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

test('an executable changed just before it was asked (or dated ahead of the clock) is asked again next run', async () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-tool-versions-'));
  const savedPath = process.env.PATH;
  const asked = path.join(directory, 'asked');
  try {
    const bin = path.join(directory, 'bin');
    mkdirSync(bin);
    const executable = path.join(bin, 'racy-tool');
    writeFileSync(executable, `#!/bin/sh\necho asked >> ${asked}\necho "racy-tool 1.0"\n`);
    chmodSync(executable, 0o755);
    const ahead = new Date(Date.now() + 3_600_000);
    utimesSync(executable, ahead, ahead);
    process.env.PATH = `${bin}:${savedPath}`;
    const cacheFile = path.join(directory, 'tool-versions.json');
    const timesAsked = () => readFileSync(asked, 'utf8').split('\n').filter(Boolean).length;
    for (const expected of [1, 2]) {
      const run = new ToolVersions();
      await run.load(cacheFile);
      assert.is(await run.version('racy-tool', ['--version']), 'racy-tool 1.0');
      assert.is(timesAsked(), expected);
      await run.save();
    }
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
