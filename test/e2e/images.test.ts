import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withTimeout, type CliResult } from '../helpers/project.js';
import { copyProject, runDeploy } from '../helpers/project-copy.js';

interface Context {
  directory: string;
  remove: () => void;
  server: http.Server;
}
const test = suite<Context>('images: fetched online, verified air-gapped');
const content = Buffer.from('pretend this is a multi-GB cloud image\n'.repeat(1000));
const digest = createHash('sha256').update(content).digest('hex');

test.before(async (context) => {
  Object.assign(context, copyProject());
  context.server = http.createServer((request, response) => {
    if (request.url === '/cloud.img') response.end(content);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => context.server.listen(0, '127.0.0.1', resolve));
  const port = (context.server.address() as AddressInfo).port;
  // The manifest of this copy points the cloud image at a server on loopback, with the digest of what it serves.
  const manifest = path.join(context.directory, 'images', 'manifest.ts');
  const text = readFileSync(manifest, 'utf8')
    .replace(/url: 'https:\/\/cloud-images[^']+'/, `url: 'http://127.0.0.1:${port}/cloud.img'`)
    .replace(/sha256: '0e25[^']+'/, `sha256: '${digest}'`);
  writeFileSync(manifest, text);
});
test.after((context) => {
  context.server.close();
  context.remove();
});

const cli = runDeploy;

const setAirGapped = (directory: string, airGapped: boolean) => {
  const file = path.join(directory, 'environments', 'example.ts');
  const text = readFileSync(file, 'utf8').replace(/site: \{ name: 'Example site', domain: 'example\.openspace\.test'(, airGapped: (true|false))? \}/, `site: { name: 'Example site', domain: 'example.openspace.test', airGapped: ${airGapped} }`);
  writeFileSync(file, text);
};

test('online: a missing image is downloaded and verified; a re-run skips it', withTimeout(120_000, async ({ directory }: Context) => {
  const fetched = await cli(directory, ['images:fetch[image=ubuntu-cloud]']);
  assert.is(fetched.code, 0, fetched.stdout + fetched.stderr);
  assert.match(fetched.stdout, /\$ download http:\/\/127\.0\.0\.1:\d+\/cloud\.img -> images\/noble-server-cloudimg-amd64\.img/);
  assert.ok(readFileSync(path.join(directory, 'images', 'noble-server-cloudimg-amd64.img')).equals(content));
  const again = await cli(directory, ['images:fetch[image=ubuntu-cloud]']);
  assert.match(again.stdout, '[images:fetch[image=ubuntu-cloud]] up to date');
}));

test('air-gapped: a corrupt image fails with the expected and found digest; a missing one says where it should be', withTimeout(120_000, async ({ directory }: Context) => {
  setAirGapped(directory, true);
  const file = path.join(directory, 'images', 'noble-server-cloudimg-amd64.img');
  writeFileSync(file, 'truncated');
  const corrupt = await cli(directory, ['images:fetch[image=ubuntu-cloud]', '--force', 'images:fetch[image=ubuntu-cloud]']);
  assert.is(corrupt.code, 1);
  const found = createHash('sha256').update('truncated').digest('hex');
  assert.match(corrupt.stdout, `image images/noble-server-cloudimg-amd64.img is corrupt: expected sha256 ${digest}, found ${found}`);
  writeFileSync(file, '');
  (await import('node:fs')).rmSync(file);
  const missing = await cli(directory, ['images:fetch[image=ubuntu-cloud]']);
  assert.is(missing.code, 1);
  assert.match(missing.stdout, 'image ubuntu-cloud is missing at images/noble-server-cloudimg-amd64.img (air-gapped site): copy it from the transfer media');
  assert.not.ok(existsSync(file));
}));

test.run();
