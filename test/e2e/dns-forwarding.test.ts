// The site's DNS as the dns step configures it (tasks/dns/dns-records.ts), served by a real dnsmasq on
// loopback: the zone from its hosts file, every other name forwarded to the site's forwarder (a second real
// dnsmasq here), a name of the zone that the site does not declare never forwarded. Stopped by PID.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { dnsmasqConfig, dnsmasqHosts } from '../../tasks/dns/dns-records.js';
import { waitFor, withTimeout } from '../helpers/project.js';
import { imageRegistries } from '../../images/manifest.js';

const run = promisify(execFile);
// Addresses of the loopback network no other suite uses: the site's DNS and its forwarder.
const siteDns = '127.53.0.1';
const forwarder = '127.53.0.2';

interface Servers {
  directory: string;
  started: ChildProcess[];
}
const test = suite<Servers>("the site's DNS forwards what is outside its zone (real dnsmasq)");

test.before((context) => {
  context.directory = mkdtempSync(path.join(tmpdir(), 'onboarder-dns-'));
  context.started = [];
});

test.after((context) => {
  for (const child of context.started) if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
  rmSync(context.directory, { recursive: true, force: true });
});

/** The example site with its DNS on loopback, forwarding to `forwarders`. */
function site(forwarders: string[], airGapped: boolean): Environment {
  // An air-gapped site pulls every image through a mirror (or a site registry): one for each registry.
  const registryMirrors = airGapped ? imageRegistries(example.versions).map((registry) => ({ registry, mirror: 'https://registry.example.openspace.test' })) : example.registryMirrors;
  return environmentSchema.parse({ ...example, site: { ...example.site, airGapped }, registryMirrors, dns: { ...example.dns, servers: [{ name: 'kvm1', address: siteDns }], forwarders } }) as Environment;
}

/** Starts dnsmasq in the foreground on `configFile`; resolves once it answers on `address`. */
async function dnsmasq(context: Servers, name: string, config: string, address: string): Promise<ChildProcess> {
  const configFile = path.join(context.directory, `${name}.conf`);
  writeFileSync(configFile, config);
  const child = spawn('dnsmasq', ['--keep-in-foreground', `--conf-file=${configFile}`, `--pid-file=${path.join(context.directory, `${name}.pid`)}`, '--user=root', `--log-facility=${path.join(context.directory, `${name}.log`)}`], { stdio: 'ignore' });
  context.started.push(child);
  let answering = false;
  const probe = setInterval(() => {
    run('dig', ['+time=1', '+tries=1', `@${address}`, 'version.bind', 'CH', 'TXT']).then(() => (answering = true), () => undefined);
  }, 200);
  try {
    await waitFor(() => answering || child.exitCode !== null, 10_000);
  } finally {
    clearInterval(probe);
  }
  assert.is(child.exitCode, null, `dnsmasq ${name} exited at once: ${readFileSync(path.join(context.directory, `${name}.log`), 'utf8')}`);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid!, 'SIGTERM');
  await exited;
}

/** The answer section and the status of one query to the site's DNS. */
async function ask(name: string): Promise<{ status: string; answers: string[] }> {
  const { stdout } = await run('dig', ['+time=2', '+tries=1', `@${siteDns}`, name, 'A']);
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? 'none';
  const answers = (await run('dig', ['+short', '+time=2', '+tries=1', `@${siteDns}`, name, 'A'])).stdout.trim().split('\n').filter(Boolean);
  return { status, answers };
}

test('the zone is answered, other names come from the forwarder, an undeclared name of the zone is never asked upstream', withTimeout(60_000, async (context: Servers) => {
  const upstream = await dnsmasq(context, 'upstream', ['no-resolv', 'no-hosts', 'bind-interfaces', `listen-address=${forwarder}`, 'log-queries', 'address=/pkgs.outside.test/203.0.113.7', ''].join('\n'), forwarder);
  const config = site([forwarder], false);
  const hostsFile = path.join(context.directory, 'hosts');
  writeFileSync(hostsFile, dnsmasqHosts(config));
  const served = await dnsmasq(context, 'site', dnsmasqConfig(config, hostsFile, siteDns), siteDns);

  assert.equal(await ask('osdc-a-cp1.example.openspace.test'), { status: 'NOERROR', answers: ['192.0.2.41'] });
  assert.equal(await ask('registry.example.openspace.test'), { status: 'NOERROR', answers: ['198.51.100.30'] });
  assert.equal(await ask('pkgs.outside.test'), { status: 'NOERROR', answers: ['203.0.113.7'] }, 'forwarded');
  assert.is((await ask('nothing-here.example.openspace.test')).status, 'NXDOMAIN');
  const asked = readFileSync(path.join(context.directory, 'upstream.log'), 'utf8');
  assert.match(asked, 'query[A] pkgs.outside.test');
  assert.not.match(asked, 'nothing-here', 'the zone is local: its unknown names stay at the site');
  assert.not.match(asked, 'osdc-a-cp1', 'nor are its known ones asked upstream');
  await stop(served);
  await stop(upstream);
}));

test('an air-gapped site answers its zone alone and refuses the rest at once', withTimeout(60_000, async (context: Servers) => {
  const config = site([], true);
  const hostsFile = path.join(context.directory, 'hosts-air-gapped');
  writeFileSync(hostsFile, dnsmasqHosts(config));
  const served = await dnsmasq(context, 'air-gapped', dnsmasqConfig(config, hostsFile, siteDns), siteDns);
  assert.equal(await ask('api.osms.example.openspace.test'), { status: 'NOERROR', answers: ['192.0.2.30'] });
  assert.is((await ask('pkgs.outside.test')).status, 'REFUSED');
  await stop(served);
}));

test.run();
