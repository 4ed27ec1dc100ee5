// The site's DNS as the dns task serves it (tasks/dns/dns-records.ts): each cluster's applications name
// answered by the nodes ingress-nginx runs on, as dnsmasq options.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { lab } from '../../environments/lab.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { dnsmasqConfig, ingressRecords } from '../../tasks/dns/dns-records.js';

const parse = (definition: unknown) => environmentSchema.parse(definition) as Environment;

test("a kubeadm cluster's applications name is its workers; an RKE2 cluster's, every node", () => {
  const config = parse(example);
  const byName = Object.fromEntries(ingressRecords(config).map((record) => [record.name, record.addresses]));
  assert.equal(byName['apps.osdc-a'], config.clusters['osdc-a']!.workers.map((node) => node.address));
  assert.equal(byName['apps.mcm'], [...config.clusters.mcm!.controlPlane, ...config.clusters.mcm!.workers].map((node) => node.address));
  const served = dnsmasqConfig(config, '/etc/openspace/hosts', config.dns.servers[0]!.address);
  for (const address of byName['apps.osdc-a']!) assert.match(served, `address=/apps.osdc-a.${config.dns.zone}/${address}\n`);
});

test('a kubeadm cluster without workers answers with its control plane; a node tainted NoSchedule or NoExecute is left out', () => {
  const config = parse(lab);
  const byName = Object.fromEntries(ingressRecords(config).map((record) => [record.name, record.addresses]));
  assert.equal(byName['apps.osms'], [config.clusters.osms!.controlPlane[0]!.address]);
  const tainted = parse({
    ...lab,
    clusters: {
      ...lab.clusters,
      osdc: { ...lab.clusters.osdc, workers: [{ ...lab.clusters.osdc!.workers![0]!, taints: [{ key: 'openspace.io/dedicated', value: 'data', effect: 'NoSchedule' }] }] },
    },
  });
  assert.not.ok(ingressRecords(tainted).some((record) => record.name === 'apps.osdc'), 'its only worker runs no ingress pod: no name');
});

test.run();
