// base:opnsense against a FAKE OPNsense API (test/fixtures/fake-opnsense: no OPNsense runs here) served over
// HTTPS on loopback with a certificate from a CA the test makes: aliases, VLANs and the clusters' rules made
// once, a second run changes nothing, drift is set back, what the environment drops is deleted, what
// Onboarder does not manage is left alone, and a wrong key pair or an unknown CA fails with one clear line.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { loopbackCertificates } from '../helpers/certificates.js';
import { withTimeout } from '../helpers/project.js';
import { addEnvironment, copyProject, logsAndRecords, runDeploy } from '../helpers/project-copy.js';
import { FakeOpnsense } from '../fixtures/fake-opnsense/server.js';

interface Context {
  directory: string;
  remove: () => void;
  firewall: FakeOpnsense;
}
const test = suite<Context>('OPNsense through its API, against a FAKE OPNsense');
const secrets = { OPN_KEY: 'key-7f3a9c', OPN_SECRET: 'secret-51d0e2b8a4' };

function environmentFile(port: number): string {
  return `import { lab } from './lab.js';
import { defineEnvironment } from './schema.js';

/** A site with one firewall, whose API is a FAKE on loopback. */
export const fwLab = defineEnvironment({
  name: 'fw-lab',
  site: { name: 'Firewall test', domain: 'fw.openspace.test' },
  ssh: { knownHosts: '.cache/known_hosts', user: 'root' },
  infrastructure: 'existing',
  managementHosts: [{ name: 'kvm1', address: '10.254.254.1' }],
  networks: [
    { name: 'mgmt', vlan: 10, cidr: '10.10.0.0/24', gateway: '10.10.0.1' },
    { name: 'data', vlan: 20, cidr: '10.20.0.0/24', gateway: '10.20.0.1' },
  ],
  firewalls: [{ name: 'fw1', address: '127.0.0.1', port: ${port}, caFile: 'ca.pem', apiKey: { env: 'OPN_KEY' }, apiSecret: { env: 'OPN_SECRET' }, vlanParent: 'vtnet1' }],
  clusters: {
    mcm: { role: 'mcm', distribution: 'rke2', controlPlane: [{ name: 'mcm-cp1', address: '10.10.0.21', vmId: 2101 }], apiAddress: '10.10.0.20', podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16' },
    osdc: { role: 'osdc', distribution: 'kubeadm', controlPlane: [{ name: 'osdc-cp1', address: '10.20.0.31', vmId: 3101 }], workers: [{ name: 'osdc-w1', address: '10.20.0.41', vmId: 3111 }], apiAddress: '10.20.0.30', podCidr: '10.44.0.0/16', serviceCidr: '10.45.0.0/16' },
  },
  dns: { server: { name: 'kvm1', address: '10.254.254.1' }, zone: 'fw.openspace.test', forwarders: ['10.10.0.1'] },
  versions: lab.versions,
});
`;
}

test.before(async (context) => {
  Object.assign(context, copyProject());
  const files = loopbackCertificates(context.directory, 'fw');
  const [ca, key, cert] = [files.ca, readFileSync(files.key, 'utf8'), readFileSync(files.cert, 'utf8')];
  writeFileSync(path.join(context.directory, 'ca.pem'), readFileSync(ca));
  context.firewall = await FakeOpnsense.start({ key, cert, apiKey: secrets.OPN_KEY, apiSecret: secrets.OPN_SECRET });
  addEnvironment(context.directory, 'fw-lab', 'fwLab', environmentFile(context.firewall.port));
});

test.after(async (context) => {
  await context.firewall?.stop();
  context.remove();
});

const cli = (context: Context, env: Record<string, string> = secrets) => runDeploy(context.directory, ['--env', 'fw-lab', '--only', 'base:opnsense', '--force', 'base:opnsense'], env);

test('the first run adds every alias, VLAN and rule, and applies each collection once', withTimeout(120_000, async (context: Context) => {
  const run = await cli(context);
  assert.is(run.code, 0, run.stdout + run.stderr);
  const fw = context.firewall;
  assert.equal(fw.items('firewall/alias').map((item) => `${item.name}=${item.content}`).sort(), [
    'onb_api_mcm=10.10.0.20',
    'onb_api_osdc=10.20.0.30',
    'onb_dns_server=10.254.254.1',
    'onb_net_data=10.20.0.0/24',
    'onb_net_mgmt=10.10.0.0/24',
    'onb_nodes_mcm=10.10.0.21',
    'onb_nodes_osdc=10.20.0.31\n10.20.0.41',
  ]);
  assert.equal(fw.items('interfaces/vlan_settings').map((item) => `${item.if}.${item.tag} ${item.descr}`), ['vtnet1.10 onboarder: mgmt', 'vtnet1.20 onboarder: data']);
  assert.equal(fw.items('firewall/filter').map((item) => `${item.description}: ${item.protocol} -> ${item.destination_net}:${item.destination_port} on ${item.interface}`), [
    'onboarder: mcm API: TCP -> onb_api_mcm:6443 on lan',
    'onboarder: mcm RKE2 supervisor: TCP -> onb_api_mcm:9345 on lan',
    'onboarder: mcm node ports: TCP/UDP -> onb_nodes_mcm:30000-32767 on lan',
    'onboarder: mcm ingress HTTP: TCP -> onb_nodes_mcm:80 on lan',
    'onboarder: mcm ingress HTTPS: TCP -> onb_nodes_mcm:443 on lan',
    'onboarder: osdc API: TCP -> onb_api_osdc:6443 on lan',
    'onboarder: osdc node ports: TCP/UDP -> onb_nodes_osdc:30000-32767 on lan',
    'onboarder: osdc ingress HTTP: TCP -> onb_nodes_osdc:80 on lan',
    'onboarder: osdc ingress HTTPS: TCP -> onb_nodes_osdc:443 on lan',
    'onboarder: DNS: TCP/UDP -> onb_dns_server:53 on lan',
  ]);
  // The firewall's resolver forwards the site's zone to its DNS server: the operators' machines resolve it.
  assert.equal(fw.items('unbound/settings'), [{ enabled: '1', type: 'forward', domain: 'fw.openspace.test', server: '10.254.254.1', port: '53', description: 'onboarder: zone fw.openspace.test from kvm1' }]);
  const applies = fw.writes().filter((call) => /reconfigure|\/apply$/.test(call));
  assert.equal(applies, ['POST /api/firewall/alias/reconfigure', 'POST /api/interfaces/vlan_settings/reconfigure', 'POST /api/firewall/filter/apply', 'POST /api/unbound/service/reconfigure']);
  assert.match(run.stdout, 'fw1: added alias onb_net_mgmt, onb_net_data');
  assert.not.match(run.stdout + run.stderr + logsAndRecords(context.directory, 'fw-lab'), secrets.OPN_SECRET);
}));

test('a second run changes nothing and says so', withTimeout(120_000, async (context: Context) => {
  const before = context.firewall.calls.length;
  const run = await cli(context);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.equal(context.firewall.calls.slice(before).filter((call) => call.method === 'POST'), [], 'no add, set, delete or apply');
  assert.match(run.stdout, 'fw1: up to date (7 aliases, 2 VLANs, 10 rules, 1 DNS forward), nothing changed');
}));

test("the pass rules on several interfaces (the operators' LAN and a VLAN whose clusters reach MCM): one rule each, listing them; a second run reads the firewall's own order as the same and changes nothing", withTimeout(120_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'fw-lab.ts');
  const original = readFileSync(file, 'utf8');
  writeFileSync(file, original.replace("vlanParent: 'vtnet1' }", "vlanParent: 'vtnet1', ruleInterface: ['opt2', 'lan'] }"));
  try {
    const fw = context.firewall;
    let before = fw.calls.length;
    const run = await cli(context);
    assert.is(run.code, 0, run.stdout + run.stderr);
    const rules = fw.items('firewall/filter');
    assert.is(rules.length, 10);
    assert.ok(rules.every((rule) => rule.interface === 'lan,opt2'), JSON.stringify(rules.map((rule) => rule.interface)));
    const writes = fw.calls.slice(before).filter((call) => call.method === 'POST').map((call) => call.path.replace(/\/[0-9a-f-]{36}$/, '/<uuid>'));
    assert.equal(writes, [...Array(10).fill('/api/firewall/filter/setRule/<uuid>'), '/api/firewall/filter/apply']);
    before = fw.calls.length;
    const again = await cli(context);
    assert.is(again.code, 0, again.stdout + again.stderr);
    assert.equal(fw.calls.slice(before).filter((call) => call.method === 'POST'), [], 'no add, set, delete or apply');
    // Back on the LAN alone.
    writeFileSync(file, original);
    const back = await cli(context);
    assert.is(back.code, 0, back.stdout + back.stderr);
    assert.ok(fw.items('firewall/filter').every((rule) => rule.interface === 'lan'));
  } finally {
    writeFileSync(file, original);
  }
}));

test('drift is set back, what the environment drops is deleted, and what Onboarder does not manage is left alone', withTimeout(120_000, async (context: Context) => {
  const fw = context.firewall;
  const aliases = fw.store['firewall/alias']!;
  const [uuid, mgmt] = [...aliases].find(([, item]) => item.name === 'onb_net_mgmt')!;
  aliases.set(uuid, { ...mgmt, content: '10.99.0.0/24' });
  aliases.set('00000000-0000-4000-8000-000000000001', { enabled: '1', name: 'office_net', type: 'network', content: '192.168.1.0/24', description: 'the office' });
  // The zone's forward pointed elsewhere by hand, and a forward of the site's own beside it.
  const forwards = fw.store['unbound/settings']!;
  const [forwardUuid, forward] = [...forwards][0]!;
  forwards.set(forwardUuid, { ...forward, server: '10.99.0.1' });
  forwards.set('00000000-0000-4000-8000-000000000002', { enabled: '1', type: 'forward', domain: 'corp.example', server: '192.168.1.53', port: '53', description: 'the office resolver' });
  const file = path.join(context.directory, 'environments', 'fw-lab.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace("    { name: 'data', vlan: 20, cidr: '10.20.0.0/24', gateway: '10.20.0.1' },\n", ''));
  const before = fw.calls.length;
  const run = await cli(context);
  assert.is(run.code, 0, run.stdout + run.stderr);
  const writes = fw.calls.slice(before).filter((call) => call.method === 'POST').map((call) => call.path.replace(/\/[0-9a-f-]{36}$/, '/<uuid>'));
  assert.equal(writes, ['/api/firewall/alias/setItem/<uuid>', '/api/firewall/alias/delItem/<uuid>', '/api/firewall/alias/reconfigure', '/api/interfaces/vlan_settings/delItem/<uuid>', '/api/interfaces/vlan_settings/reconfigure', '/api/unbound/settings/setForward/<uuid>', '/api/unbound/service/reconfigure']);
  assert.is(forwards.get(forwardUuid)!.server, '10.254.254.1');
  assert.is(forwards.get('00000000-0000-4000-8000-000000000002')!.domain, 'corp.example', 'not ours: left alone');
  assert.is(aliases.get(uuid)!.content, '10.10.0.0/24');
  assert.is(aliases.get('00000000-0000-4000-8000-000000000001')!.name, 'office_net', 'not ours: left alone');
  assert.match(run.stdout, 'fw1: changed alias onb_net_mgmt; deleted alias onb_net_data; deleted VLAN onboarder: data; changed DNS forward onboarder: zone fw.openspace.test from kvm1');
}));

test('a firewall older than Query Forwarding (OPNsense 23.7) keeps its aliases, VLANs and rules, and says to forward the zone by hand', withTimeout(120_000, async (context: Context) => {
  const fw = context.firewall;
  fw.missing.add('unbound/settings');
  try {
    const run = await cli(context);
    assert.is(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, 'fw1 has no Unbound query forwarding API (OPNsense 23.7 and later): forward the zone fw.openspace.test to 10.254.254.1 there by hand, or update it');
    assert.match(run.stdout, /fw1: up to date \(\d+ aliases, \d+ VLANs?, \d+ rules, 1 DNS forward\), nothing changed/);
  } finally {
    fw.missing.delete('unbound/settings');
  }
}));

test('a wrong key pair fails with the firewall, the call and the status, the secret not shown', withTimeout(120_000, async (context: Context) => {
  const wrong = { ...secrets, OPN_SECRET: 'not-the-secret-93e1' };
  const run = await cli(context, wrong);
  assert.is(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout + run.stderr, 'OPNsense fw1: GET /api/firewall/alias/searchItem answered HTTP 401 (check the API key and secret)');
  assert.not.match(run.stdout + run.stderr, wrong.OPN_SECRET);
  // Another attempt cannot mend a refused key: the task's retries are not used (a PermanentFailure).
  assert.not.match(run.stdout, /retrying|attempt 2/);
}));

test("a firewall whose certificate the CA does not vouch for is refused (the certificate is verified)", withTimeout(120_000, async (context: Context) => {
  const file = path.join(context.directory, 'environments', 'fw-lab.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace("caFile: 'ca.pem', ", ''));
  const run = await cli(context);
  assert.is(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout + run.stderr, /OPNsense fw1: GET https:\/\/127\.0\.0\.1:\d+\/api\/firewall\/alias\/searchItem failed: (self-signed certificate in certificate chain|unable to verify the first certificate|unable to get local issuer certificate)/);
}));

test.run();
