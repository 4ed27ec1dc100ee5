// The registries the nodes' containerd and RKE2 pull through (tasks/shared/kit.ts, siteInventory's vars):
// each mirror with the CA that signed its certificate, the site registry's own on an air-gapped site, and
// the hosts RKE2's registries.yaml configures.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { clustersOf, siteInventory } from '../../tasks/shared/kit.js';
import { imageRegistries } from '../../images/manifest.js';

const registryVars = (change: (environment: any) => void, root: string) => {
  const environment = structuredClone(example) as any;
  change(environment);
  const config = environmentSchema.parse(environment) as Environment;
  const cluster = clustersOf(config, 'osdc')[0]!;
  const { registry_mirrors, registry_cas, registry_hosts, site_registry } = siteInventory(config, { cluster, controlPlane: cluster.controlPlane, workers: [] }, root).vars as Record<string, any>;
  return { registry_mirrors, registry_cas, registry_hosts, site_registry };
};

function withCas(body: (root: string) => void): void {
  const root = mkdtempSync(path.join(os.tmpdir(), 'onboarder-registry-cas-'));
  try {
    writeFileSync(path.join(root, 'harbor-ca.pem'), 'the harbor CA\n');
    writeFileSync(path.join(root, 'site-ca.pem'), 'the site registry CA\n');
    body(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test("a connected site's mirror with its own CA: the CA goes to the node under the mirror's host, containerd and RKE2 name it", () => {
  withCas((root) => {
    const vars = registryVars((environment) => (environment.registryMirrors = [{ registry: 'docker.io', mirror: 'https://harbor.corp.example:8443/v2/dockerhub', caFile: 'harbor-ca.pem' }, { registry: 'quay.io', mirror: 'https://quay-proxy.corp.example' }]), root);
    assert.equal(vars, {
      registry_mirrors: [
        { registry: 'docker.io', mirror: 'https://harbor.corp.example:8443/v2/dockerhub', ca_file: '/etc/onboarder/registry-ca/harbor.corp.example_8443.crt' },
        { registry: 'quay.io', mirror: 'https://quay-proxy.corp.example', ca_file: '' },
      ],
      registry_cas: [{ file: '/etc/onboarder/registry-ca/harbor.corp.example_8443.crt', pem: 'the harbor CA\n' }],
      registry_hosts: [{ host: 'harbor.corp.example:8443', ca_file: '/etc/onboarder/registry-ca/harbor.corp.example_8443.crt' }],
      site_registry: '',
    });
  });
});

test("an air-gapped site's registry: its CA for every registry it mirrors, and its host configured for RKE2 (credentials); a mirror of the site's own keeps its CA", () => {
  withCas((root) => {
    const vars = registryVars((environment) => {
      environment.site.airGapped = true;
      environment.dns.forwarders = [];
      environment.siteRegistry = { address: 'registry.example.openspace.test:5000', caFile: 'site-ca.pem', username: 'pull', password: { env: 'UNUSED' } };
      environment.registryMirrors = [{ registry: 'docker.io', mirror: 'https://harbor.corp.example', caFile: 'harbor-ca.pem' }];
    }, root);
    const site = '/etc/onboarder/registry-ca/registry.example.openspace.test_5000.crt';
    assert.equal(vars.registry_mirrors[0], { registry: 'docker.io', mirror: 'https://harbor.corp.example', ca_file: '/etc/onboarder/registry-ca/harbor.corp.example.crt' });
    for (const registry of imageRegistries(example.versions).filter((each) => each !== 'docker.io')) assert.ok(vars.registry_mirrors.some((entry: any) => entry.registry === registry && entry.mirror === 'https://registry.example.openspace.test:5000' && entry.ca_file === site), registry);
    assert.equal(vars.registry_cas, [{ file: '/etc/onboarder/registry-ca/harbor.corp.example.crt', pem: 'the harbor CA\n' }, { file: site, pem: 'the site registry CA\n' }]);
    assert.equal(vars.registry_hosts, [{ host: 'harbor.corp.example', ca_file: '/etc/onboarder/registry-ca/harbor.corp.example.crt' }, { host: 'registry.example.openspace.test:5000', ca_file: site }]);
    assert.is(vars.site_registry, 'registry.example.openspace.test:5000');
  });
});

test('a site registry with credentials and no CA (a certificate the system trusts) is still configured for RKE2, for its login', () => {
  withCas((root) => {
    const vars = registryVars((environment) => {
      environment.site.airGapped = true;
      environment.dns.forwarders = [];
      environment.siteRegistry = { address: 'registry.example.openspace.test', username: 'pull', password: { env: 'UNUSED' } };
    }, root);
    assert.equal(vars.registry_cas, []);
    assert.equal(vars.registry_hosts, [{ host: 'registry.example.openspace.test', ca_file: '' }]);
  });
});

test.run();
