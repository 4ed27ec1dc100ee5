// lib/lab/test-hosts.ts: a package mirror a killed run left on a rig's address is stopped before the new
// rig serves its own there (it would answer in its place, serving a mirror that may have been deleted).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stopLeftoverMirrors } from '../../lib/lab/test-hosts.js';
import { freePort } from '../helpers/free-port.js';


const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });

test('a leftover mirror on the address and port is stopped and named; one on another port is left alone', async () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-mirror-'));
  const [port, other] = [await freePort(), await freePort()];
  const start = (on: number) => spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', directory, String(on)], { detached: true, stdio: 'ignore' });
  const leftover = start(port);
  const unrelated = start(other);
  try {
    for (let tries = 0; !((await answers(port)) && (await answers(other))) && tries < 200; tries++) await new Promise((resolve) => setTimeout(resolve, 50));
    // The killed run's mirror served a folder since deleted.
    rmSync(directory, { recursive: true, force: true });
    assert.equal(await stopLeftoverMirrors('127.0.0.1', port), [leftover.pid]);
    assert.is(await answers(port), false);
    assert.is(await answers(other), true);
    assert.ok(existsSync(`/proc/${unrelated.pid}`));
    assert.equal(await stopLeftoverMirrors('127.0.0.1', port), []);
  } finally {
    leftover.kill('SIGKILL');
    unrelated.kill('SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  }
});

test.run();
