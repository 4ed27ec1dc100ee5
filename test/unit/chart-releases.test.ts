// The platform releases' values (tasks/shared/chart-releases.ts) on the bundled environments: Proxmox CSI
// and Velero get what they need from the site, and a site without it does not get them, with the reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { lab } from '../../environments/lab.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { chartSource } from '../../tasks/shared/chart-source.js';
import { csrApproverRelease, everyRelease, platformReleases, veleroCredentialsFile, type ReleaseTarget } from '../../tasks/shared/chart-releases.js';

const release = (name: string) => platformReleases.find((each) => each.release === name)!;
const target = (config: Environment): ReleaseTarget => ({ config, cluster: 'osdc-a', veleroCredentials: veleroCredentialsFile('id', 'key'), proxmoxCsiToken: { tokenId: 'kubernetes-csi@pve!csi', token: 't' } });

test('on Proxmox, CSI talks to the site API with its own token, in the region the nodes are labelled with, and makes the default StorageClass on the pool', () => {
  const config = environmentSchema.parse(example) as Environment;
  assert.is(release('proxmox-csi-plugin').notInstalledBecause?.(config, 'osdc-a'), false);
  const values = release('proxmox-csi-plugin').values(target(config)) as { config: { clusters: unknown[] }; storageClass: { storage: string; annotations: Record<string, string> }[] };
  assert.equal(values.config.clusters, [{ url: 'https://198.51.100.20:8006/api2/json', insecure: false, token_id: 'kubernetes-csi@pve!csi', token_secret: 't', region: 'example' }]);
  assert.is(values.storageClass[0]!.storage, 'rbd-vms');
  assert.is(values.storageClass[0]!.annotations['storageclass.kubernetes.io/is-default-class'], 'true');
});

test('Velero writes under the cluster\'s prefix in the site\'s bucket, with the plugin, the credentials file and the schedule', () => {
  const config = environmentSchema.parse(example) as Environment;
  const values = release('velero').values(target(config)) as Record<string, any>;
  assert.equal(values.configuration.backupStorageLocation[0].prefix, 'osdc-a');
  assert.equal(values.configuration.backupStorageLocation[0].config, { region: 'minio', s3ForcePathStyle: 'true', s3Url: 'https://minio.example.openspace.test:9000' });
  assert.is(values.credentials.secretContents.cloud, '[default]\naws_access_key_id=id\naws_secret_access_key=key\n');
  assert.is(values.snapshotsEnabled, false);
});

test("an OCI chart comes from its registry on a connected site, at an air-gapped one from the site registry, or else through the mirror the site names for that registry", () => {
  const csi = release('proxmox-csi-plugin');
  const sourceOf = (change: (environment: any) => void) => {
    const environment = structuredClone(example) as any;
    change(environment);
    return chartSource({ config: environmentSchema.parse(environment) as Environment, root: '/site' } as never, csi, '0.2.8', 'install');
  };
  assert.equal(sourceOf(() => undefined), { chart: 'oci://ghcr.io/sergelogvinov/charts/proxmox-csi-plugin' });
  const airGapped = (environment: any) => ((environment.site.airGapped = true), (environment.dns.forwarders = []));
  assert.equal(sourceOf((environment) => (airGapped(environment), (environment.siteRegistry = { address: 'registry.example.openspace.test:5000' }))), { chart: 'oci://registry.example.openspace.test:5000/sergelogvinov/charts/proxmox-csi-plugin', registry: { host: 'registry.example.openspace.test:5000' } });
  const mirrors = (ghcr: string) => (environment: any) => (airGapped(environment), (environment.registryMirrors = [{ registry: 'ghcr.io', mirror: ghcr }, ...['docker.io', 'quay.io', 'registry.k8s.io'].map((registry) => ({ registry, mirror: 'https://harbor.example.openspace.test' }))]));
  assert.equal(sourceOf(mirrors('https://harbor.example.openspace.test/ghcr-proxy/')), { chart: 'oci://harbor.example.openspace.test/ghcr-proxy/sergelogvinov/charts/proxmox-csi-plugin', registry: { host: 'harbor.example.openspace.test' } });
  assert.equal(sourceOf(mirrors('http://10.0.0.5:5000')), { chart: 'oci://10.0.0.5:5000/sergelogvinov/charts/proxmox-csi-plugin', registry: { host: '10.0.0.5:5000', plainHttp: true } });
  const withCa = (environment: any) => (mirrors('https://harbor.example.openspace.test/ghcr-proxy/')(environment), (environment.registryMirrors[0].caFile = 'certs/harbor-ca.pem'));
  assert.equal(sourceOf(withCa).registry, { host: 'harbor.example.openspace.test', caFile: '/site/certs/harbor-ca.pem' });
  // Through an upstream mirror (connected): verified with the CA the environment names for it, or not at all where it says insecure.
  const upstream = (entry: object) => (environment: any) => (environment.upstreamMirrors = [{ prefix: 'ghcr.io/', mirror: 'nexus.corp.example:8443/ghcr/', ...entry }]);
  assert.equal(sourceOf(upstream({ caFile: 'certs/corp-ca.pem' })), { chart: 'oci://nexus.corp.example:8443/ghcr/sergelogvinov/charts/proxmox-csi-plugin', registry: { host: 'nexus.corp.example:8443', caFile: '/site/certs/corp-ca.pem' } });
  assert.equal(sourceOf(upstream({ insecure: true })).registry, { host: 'nexus.corp.example:8443', insecureSkipTlsVerify: true });
  // Where a bundle is made (online), never the site's.
  const environment = structuredClone(example) as any;
  mirrors('https://harbor.example.openspace.test')(environment);
  assert.equal(chartSource({ config: environmentSchema.parse(environment) as Environment, root: '/site' } as never, csi, '0.2.8', 'bundle'), { chart: 'oci://ghcr.io/sergelogvinov/charts/proxmox-csi-plugin' });
});

test('nodes that are not Proxmox VMs get no Proxmox CSI; a site without an S3 store gets no Velero; each says why', () => {
  const config = environmentSchema.parse(lab) as Environment;
  assert.match(String(release('proxmox-csi-plugin').notInstalledBecause?.(config, 'osdc-a')), "the nodes are not Proxmox VMs (infrastructure: 'existing')");
  assert.match(String(release('velero').notInstalledBecause?.(config, 'osdc-a')), 'the environment names no S3 store for its backups');
});

test("metrics-server is kubeadm's first platform service, after the serving-certificate approver (its own step); RKE2 brings both itself and says so", () => {
  const config = environmentSchema.parse(example) as Environment;
  assert.is(platformReleases[0]!.release, 'metrics-server');
  assert.equal(everyRelease.map((each) => each.release), ['kubelet-csr-approver', ...platformReleases.map((each) => each.release)]);
  for (const each of [csrApproverRelease, release('metrics-server')]) assert.is(each.notInstalledBecause?.(config, 'osdc-a'), false);
  assert.match(String(csrApproverRelease.notInstalledBecause?.(config, 'mcm')), "RKE2 signs its kubelets' serving certificates itself");
  assert.match(String(release('metrics-server').notInstalledBecause?.(config, 'mcm')), 'RKE2 runs its own (rke2-metrics-server)');
  // metrics-server verifies the kubelets: nothing turns the chart's TLS checks off.
  assert.not.match(JSON.stringify(release('metrics-server').values(target(config))), 'insecure');
});

test("the approver signs a node's own name and its own address in the environment (each node alone), without DNS", () => {
  const config = environmentSchema.parse(example) as Environment;
  const values = csrApproverRelease.values(target(config)) as { providerRegex: string; providerIpPrefixes: string[] };
  const nodes = [...config.clusters['osdc-a']!.controlPlane, ...config.clusters['osdc-a']!.workers];
  assert.equal(values, { providerRegex: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', providerIpPrefixes: nodes.map((node) => `${node.address}/32`), allowedDnsNames: 1, bypassDnsResolution: true });
  assert.ok(new RegExp(values.providerRegex).test('osdc-a-w1'));
  assert.not.ok(new RegExp(values.providerRegex).test('osdc-a-w1.evil.example'));
});

test.run();
