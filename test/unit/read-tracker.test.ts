// Tracking what the process reads (lib/stamps/read-tracker.ts) and the file signatures the up-to-date cache
// compares. Tracking patches this process's fs, child_process and net for good: this file runs alone.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, promises as fsPromises, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signatures, unchanged } from '../../lib/cli/up-to-date-cache.js';
import { fileSignature } from '../../lib/stamps/file-signature.js';
import { startTrackingReads } from '../../lib/stamps/read-tracker.js';

const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-reads-'));
const tracker = startTrackingReads();

test('reads through named imports, the fs object and fs/promises are seen, as absolute paths', async () => {
  writeFileSync(path.join(directory, 'a.json'), '{}');
  writeFileSync(path.join(directory, 'b.txt'), 'b');
  readFileSync(path.join(directory, 'a.json'), 'utf8');
  await readFile(path.join(directory, 'b.txt'));
  await fsPromises.stat(path.join(directory, 'missing')).catch(() => undefined);
  readdirSync(directory);
  statSync(path.relative(process.cwd(), path.join(directory, 'a.json')));
  closeSync(openSync(path.join(directory, 'a.json'), 'r'));
  closeSync(openSync(path.join(directory, 'written.log'), 'a'));
  for (const file of ['a.json', 'b.txt', 'missing', '.']) assert.ok(tracker.paths.has(path.join(directory, file)), file);
  assert.not.ok(tracker.paths.has(path.join(directory, 'written.log')), 'opened to write, not read');
  assert.is(startTrackingReads().paths, tracker.paths, 'one tracker per process');
  assert.is(tracker.untrackable, undefined);
});

test('a program started, or a connection opened, makes what was read unable to describe the result', async () => {
  execFileSync('true');
  assert.is(tracker.untrackable, 'started a program');
  const server = net.createServer().listen(path.join(directory, 'socket'));
  await new Promise((resolve) => server.once('listening', resolve));
  const socket = net.connect({ path: path.join(directory, 'socket') });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.destroy();
  server.close();
  assert.is(tracker.untrackable, 'started a program, opened a network connection');
});

test('a signature changes with the contents (same size), a new entry in a directory, and a file appearing', async () => {
  const file = path.join(directory, 'c.txt');
  writeFileSync(file, 'one');
  const absent = path.join(directory, 'later.txt');
  // Just written: racy (its times may not move if it changes again this instant), so it matches nothing.
  const racy = signatures([file]);
  assert.is(racy[file], 'racy');
  assert.not.ok(unchanged(racy));
  await new Promise((resolve) => setTimeout(resolve, 150));
  const before = signatures([file, directory, absent]);
  assert.ok(unchanged(before));
  assert.match(before[absent]!, /^missing:ENOENT$/);
  await new Promise((resolve) => setTimeout(resolve, 5));
  writeFileSync(file, 'two');
  assert.is.not(fileSignature(file), before[file]);
  assert.not.ok(unchanged(before));
  const second = signatures([directory]);
  writeFileSync(absent, '');
  assert.is.not(fileSignature(directory), second[directory]);
  assert.is.not(fileSignature(absent), before[absent]);
});

test.after(() => rmSync(directory, { recursive: true, force: true }));

test.run();
