import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { imageRegistries, ubuntuCloudRelease } from '../../images/manifest.js';
import { example } from '../../environments/example.js';
import { loopbackCertificates } from '../helpers/certificates.js';
import { startHttpProxy } from '../helpers/http-proxy.js';
import { withTimeout } from '../helpers/project.js';
import { copyProject, runDeploy } from '../helpers/project-copy.js';

interface Context {
  directory: string;
  remove: () => void;
  server: http.Server;
}
const test = suite<Context>('images: fetched online, verified air-gapped');
const content = Buffer.from('pretend this is a multi-GB cloud image\n'.repeat(1000));
const digest = createHash('sha256').update(content).digest('hex');

const lockFile = (directory: string) => path.join(directory, 'images', 'manifest.lock.json');
const ubuntuKey = `file:ubuntu-cloud@${ubuntuCloudRelease}`;
const lockUbuntu = (directory: string) =>
  writeFileSync(lockFile(directory), JSON.stringify({ version: 1, artifacts: { [ubuntuKey]: { sha256: digest, size: content.length, source: 'the test' } } }));

test.before(async (context) => {
  Object.assign(context, copyProject());
  context.server = http.createServer((request, response) => {
    if (request.url === '/releases/noble/release-20240821/ubuntu-24.04-server-cloudimg-amd64.img') response.end(content);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => context.server.listen(0, '127.0.0.1', resolve));
  const port = (context.server.address() as AddressInfo).port;
  // The example site fetches through an upstream mirror on loopback (as through a proxy such as Artifactory).
  const environment = path.join(context.directory, 'environments', 'example.ts');
  writeFileSync(environment, readFileSync(environment, 'utf8').replace("  name: 'example',\n", `  name: 'example',\n  upstreamMirrors: [{ prefix: 'https://cloud-images.ubuntu.com/', mirror: 'http://127.0.0.1:${port}/' }],\n`));
});
test.after((context) => {
  context.server.close();
  context.remove();
});

const cli = runDeploy;

/** The example's mirror of docker.io alone, and, air-gapped, a mirror for each registry its images come from (which such a site needs). */
const connectedMirrors = "registryMirrors: [{ registry: 'docker.io', mirror: 'https://registry.example.openspace.test' }],";
const airGappedMirrors = `registryMirrors: ${JSON.stringify(imageRegistries(example.versions).map((registry) => ({ registry, mirror: 'https://registry.example.openspace.test' })))},`;

const setAirGapped = (directory: string, airGapped: boolean) => {
  const file = path.join(directory, 'environments', 'example.ts');
  const text = readFileSync(file, 'utf8')
    .replace(/site: \{ name: 'Example site', domain: 'example\.openspace\.test'(, airGapped: (true|false))? \}/, `site: { name: 'Example site', domain: 'example.openspace.test', airGapped: ${airGapped} }`)
    .replace(airGapped ? connectedMirrors : airGappedMirrors, airGapped ? airGappedMirrors : connectedMirrors);
  assert.match(text, airGapped ? airGappedMirrors : connectedMirrors);
  writeFileSync(file, text);
};

test("online: the publisher's pinned digest is checked; a download that does not match it is refused and not kept", withTimeout(120_000, async ({ directory }: Context) => {
  rmSync(lockFile(directory), { force: true });
  const refused = await cli(directory, ['images:fetch[artifact=ubuntu-cloud]']);
  assert.is(refused.code, 1);
  assert.match(refused.stdout, `downloaded ubuntu-cloud from http://127.0.0.1:`);
  assert.match(refused.stdout, `is corrupt: expected sha256 0e25ca6ee9f08ec5d4f9910054b66ae7163c6152e81a3e67689d89bd6e4dfa69 (pinned from lima-vm/lima examples/ubuntu.yaml`);
  assert.match(refused.stdout, `found ${digest}`);
  assert.not.ok(existsSync(path.join(directory, 'images', 'noble-server-cloudimg-amd64.img')));
  assert.not.ok(existsSync(lockFile(directory)), 'nothing was locked');
}));

test('online: a missing image is downloaded and verified against the lock; a re-run skips it', withTimeout(120_000, async ({ directory }: Context) => {
  lockUbuntu(directory);
  const fetched = await cli(directory, ['images:fetch[artifact=ubuntu-cloud]']);
  assert.is(fetched.code, 0, fetched.stdout + fetched.stderr);
  assert.match(fetched.stdout, /\$ download http:\/\/127\.0\.0\.1:\d+\/releases\/noble\/release-20240821\/ubuntu-24\.04-server-cloudimg-amd64\.img -> images\/noble-server-cloudimg-amd64\.img/);
  assert.ok(readFileSync(path.join(directory, 'images', 'noble-server-cloudimg-amd64.img')).equals(content));
  const again = await cli(directory, ['images:fetch[artifact=ubuntu-cloud]']);
  assert.match(again.stdout, '[images:fetch[artifact=ubuntu-cloud]] up to date');
}));

test('behind a proxy: downloads go through the one HTTP_PROXY names, as curl and helm take it', withTimeout(120_000, async (context: Context) => {
  const { directory } = context;
  // The mirror on another loopback address (127.0.0.1 itself is always reached directly), the proxy a real tinyproxy.
  const beyond = http.createServer(context.server.listeners('request')[0] as http.RequestListener);
  await new Promise<void>((resolve) => beyond.listen(0, '127.0.0.2', resolve));
  const proxy = await startHttpProxy('127.0.0.1', '127.0.0.0/8');
  const environment = path.join(directory, 'environments', 'example.ts');
  const before = readFileSync(environment, 'utf8');
  try {
    writeFileSync(environment, before.replace(/mirror: 'http:\/\/127\.0\.0\.1:\d+\/'/, `mirror: 'http://127.0.0.2:${(beyond.address() as AddressInfo).port}/'`));
    lockUbuntu(directory);
    const image = path.join(directory, 'images', 'noble-server-cloudimg-amd64.img');
    rmSync(image, { force: true });
    const fetched = await cli(directory, ['images:fetch[artifact=ubuntu-cloud]', '--force', 'images:fetch[artifact=ubuntu-cloud]'], { HTTP_PROXY: proxy.url });
    assert.is(fetched.code, 0, fetched.stdout + fetched.stderr);
    // undici tunnels every request through the proxy (CONNECT), plain HTTP too.
    assert.equal(proxy.requests(), [`CONNECT 127.0.0.2:${(beyond.address() as AddressInfo).port} HTTP/1.1`]);
    assert.ok(readFileSync(image).equals(content));
    // NO_PROXY names it: reached directly.
    rmSync(image);
    const direct = await cli(directory, ['images:fetch[artifact=ubuntu-cloud]', '--force', 'images:fetch[artifact=ubuntu-cloud]'], { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.2' });
    assert.is(direct.code, 0, direct.stdout + direct.stderr);
    assert.ok(readFileSync(image).equals(content));
    assert.is(proxy.requests().length, 1);
  } finally {
    writeFileSync(environment, before);
    proxy.stop();
    beyond.close();
  }
}));

test("an HTTPS mirror whose certificate the site's CA signed: verified with its caFile, through the proxy too; without it, the certificate is named and caFile suggested; insecure skips the check", withTimeout(120_000, async (context: Context) => {
  const { directory } = context;
  const certificates = loopbackCertificates(directory, 'mirror', ['127.0.0.1', '127.0.0.2']);
  const tls = https.createServer({ cert: readFileSync(certificates.cert), key: readFileSync(certificates.key) }, context.server.listeners('request')[0] as http.RequestListener);
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.2', resolve));
  const proxy = await startHttpProxy('127.0.0.1', '127.0.0.0/8');
  const environment = path.join(directory, 'environments', 'example.ts');
  const before = readFileSync(environment, 'utf8');
  const image = path.join(directory, 'images', 'noble-server-cloudimg-amd64.img');
  const fetch = (trust: string, env: Record<string, string> = {}) => {
    writeFileSync(environment, before.replace(/mirror: 'http:\/\/127\.0\.0\.1:\d+\/'/, `mirror: 'https://127.0.0.2:${(tls.address() as AddressInfo).port}/'${trust}`));
    rmSync(image, { force: true });
    return cli(directory, ['images:fetch[artifact=ubuntu-cloud]', '--force', 'images:fetch[artifact=ubuntu-cloud]'], env);
  };
  try {
    lockUbuntu(directory);
    // The CA's path as an operator writes it: relative to the project.
    const verified = await fetch(`, caFile: '${path.relative(directory, certificates.ca)}'`);
    assert.is(verified.code, 0, verified.stdout + verified.stderr);
    assert.ok(readFileSync(image).equals(content));
    const proxied = await fetch(`, caFile: '${path.relative(directory, certificates.ca)}'`, { HTTP_PROXY: proxy.url });
    assert.is(proxied.code, 0, proxied.stdout + proxied.stderr);
    assert.equal(proxy.requests(), [`CONNECT 127.0.0.2:${(tls.address() as AddressInfo).port} HTTP/1.1`]);
    assert.ok(readFileSync(image).equals(content));
    const unverified = await fetch('');
    assert.is(unverified.code, 1);
    assert.match(unverified.stdout, /fetching https:\/\/127\.0\.0\.2:\d+\/releases\/\S+ failed: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): name the CA that signed the mirror's certificate in its upstreamMirrors entry \(caFile\)/);
    assert.not.ok(existsSync(image));
    const insecure = await fetch(', insecure: true');
    assert.is(insecure.code, 0, insecure.stdout + insecure.stderr);
    assert.ok(readFileSync(image).equals(content));
  } finally {
    writeFileSync(environment, before);
    proxy.stop();
    tls.close();
  }
}));

test('air-gapped: a corrupt image fails with the expected and found digest; a missing one says where it should be; an unlocked one says how to lock it', withTimeout(120_000, async ({ directory }: Context) => {
  setAirGapped(directory, true);
  const file = path.join(directory, 'images', 'noble-server-cloudimg-amd64.img');
  writeFileSync(file, 'truncated');
  const corrupt = await cli(directory, ['images:fetch[artifact=ubuntu-cloud]', '--force', 'images:fetch[artifact=ubuntu-cloud]']);
  assert.is(corrupt.code, 1);
  const found = createHash('sha256').update('truncated').digest('hex');
  assert.match(corrupt.stdout, `images/noble-server-cloudimg-amd64.img is corrupt: expected sha256 ${digest} (the test), found ${found}; load it again from the bundle`);
  rmSync(file);
  const missing = await cli(directory, ['images:fetch[artifact=ubuntu-cloud]']);
  assert.is(missing.code, 1);
  assert.match(missing.stdout, `ubuntu-cloud is missing at images/noble-server-cloudimg-amd64.img (air-gapped site): load it from the bundle (bundle:load); expected sha256 ${digest}, ${content.length} bytes`);
  assert.not.ok(existsSync(file));
  rmSync(lockFile(directory));
  const unlocked = await cli(directory, ['images:fetch[artifact=ubuntu-cloud]', '--force', 'images:fetch[artifact=ubuntu-cloud]']);
  assert.is(unlocked.code, 1);
  assert.match(unlocked.stdout, `${ubuntuKey} is not in images/manifest.lock.json: fetch it once on a connected machine`);
}));

test.run();
