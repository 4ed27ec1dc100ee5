// The golden image's build VM (tasks/golden-image): its network card and address, which packer gives it
// through cloud-init, for a site whose VM networks have no DHCP.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { buildDownloads, buildNetwork } from '../../tasks/golden-image/index.js';
import { repositoryRoot } from '../helpers/project.js';

const withBuildAddress = (buildAddress: string | undefined, change: (environment: any) => void = () => undefined) => {
  const environment = structuredClone(example) as any;
  if (buildAddress) environment.proxmox.templates.buildAddress = buildAddress;
  change(environment);
  return environmentSchema.parse(environment) as Environment;
};

test('with buildAddress: that address on its network, tagged with its VLAN, its gateway and the site\'s DNS servers', () => {
  assert.equal(buildNetwork(withBuildAddress('192.0.2.250')), { bridge: 'vmbr0', vlan_tag: '20', build_address: '192.0.2.250/24', build_gateway: '192.0.2.1', nameserver: '198.51.100.11 198.51.100.12' });
  assert.equal(buildNetwork(withBuildAddress('203.0.113.250')).vlan_tag, '30', "the data network's VLAN");
});

test('without it: DHCP, untagged', () => {
  assert.equal(buildNetwork(withBuildAddress(undefined)), { bridge: 'vmbr0', vlan_tag: '', build_address: 'dhcp', build_gateway: '', nameserver: '' });
});

test('an address on none of the VMs\' networks, or one a machine has, is refused on load', () => {
  const refused = (buildAddress: string) => {
    const parsed = environmentSchema.safeParse({ ...structuredClone(example), proxmox: { ...structuredClone(example.proxmox), templates: { baseVmId: 9002, goldenVmId: 9001, buildAddress } } });
    assert.not.ok(parsed.success);
    return parsed.success ? '' : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('\n');
  };
  assert.match(refused('198.51.100.250'), "proxmox.templates.buildAddress: 198.51.100.250 is on none of the VMs' networks (clusters 192.0.2.0/24, data 203.0.113.0/24)");
  assert.match(refused('192.0.2.31'), 'proxmox.templates.buildAddress: 192.0.2.31 is already the address of clusters.osms.controlPlane[0].address');
});

test('the packer template takes each of them as a variable, on its network card and its cloud-init address', () => {
  const template = readFileSync(path.join(repositoryRoot, 'tasks', 'golden-image', 'ubuntu-golden.pkr.hcl'), 'utf8');
  for (const name of Object.keys(buildNetwork(withBuildAddress('192.0.2.250')))) assert.match(template, `variable "${name}" {`);
  assert.match(template, /network_adapters \{\s+model\s+= "virtio"\s+bridge\s+= var\.bridge\s+vlan_tag = var\.vlan_tag\s+\}/);
  assert.match(template, /ipconfig \{\s+ip\s+= var\.build_address\s+gateway = var\.build_gateway\s+\}/);
});

test("the build downloads through the site's proxy (no cluster's networks: none runs yet) and its upstream mirrors, which the template takes as variables", () => {
  const context = (change: (environment: any) => void) => ({ config: withBuildAddress(undefined, change), root: repositoryRoot, secret: (value: string) => value }) as never;
  assert.equal(buildDownloads(context(() => undefined)), { http_proxy: '', https_proxy: '', no_proxy: '', apt_mirrors: JSON.stringify({ apt_mirrors: [], apt_mirror_hosts: [], apt_mirror_cas: [] }) });
  const downloads = buildDownloads(context((environment) => {
    environment.proxy = { http: 'http://proxy.corp.example:3128' };
    environment.upstreamMirrors = [{ prefix: 'http://archive.ubuntu.com/ubuntu/', mirror: 'http://apt.site.example/ubuntu/' }, { prefix: 'quay.io/', mirror: 'harbor.site.example/quay/' }];
  }));
  assert.is(downloads.http_proxy, 'http://proxy.corp.example:3128/');
  assert.is(downloads.https_proxy, 'http://proxy.corp.example:3128/');
  assert.match(downloads.no_proxy, /^localhost,127\.0\.0\.1,\S+,\.svc,\.cluster\.local$/);
  assert.not.match(downloads.no_proxy, 'undefined');
  assert.equal(JSON.parse(downloads.apt_mirrors).apt_mirrors, [{ prefix: 'http://archive.ubuntu.com/ubuntu/', mirror: 'http://apt.site.example/ubuntu/' }]);
  const template = readFileSync(path.join(repositoryRoot, 'tasks', 'golden-image', 'ubuntu-golden.pkr.hcl'), 'utf8');
  for (const name of Object.keys(downloads)) assert.match(template, `variable "${name}" {`);
  assert.match(template, 'sudo -E python3 /tmp/onboarder-apt-mirrors.py');
});

test.run();
