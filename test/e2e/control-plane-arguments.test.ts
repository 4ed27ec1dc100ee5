// The control plane's arguments in a kubeadm cluster's ClusterConfiguration (the include
// tasks/kubernetes/playbooks/includes/control-plane-arguments.yml, run by real ansible-playbook on this
// machine): kubeadm's v1beta3 keeps extraArgs as a map, v1beta4 (kubeadm 1.31 and later) as a list; what
// Onboarder does not set is kept, and a configuration that has them all is left as it is.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import { apiServerArguments, etcdArguments, metricsArguments } from '../helpers/control-plane-arguments.js';
import { repositoryRoot, withTimeout } from '../helpers/project.js';

const run = promisify(execFile);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'onboarder-cp-arguments-'));

interface Result {
  readonly configuration: Record<string, any>;
  readonly differs: boolean;
}

async function withArguments(configuration: object): Promise<Result> {
  const given = path.join(scratch, 'given.yaml');
  const result = path.join(scratch, 'result.json');
  writeFileSync(given, YAML.stringify(configuration));
  const extraVars = { catalog: repositoryRoot, given, result, api_audit: { max_age: 30, max_backup: 10, max_size: 100 } };
  await run('ansible-playbook', ['-i', 'localhost,', '-c', 'local', '-e', JSON.stringify(extraVars), path.join(repositoryRoot, 'test', 'fixtures', 'ansible', 'control-plane-arguments.yml')], {
    env: { ...process.env, ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false' },
  });
  return JSON.parse(readFileSync(result, 'utf8')) as Result;
}

const [apiServer, components, etcd] = [apiServerArguments, metricsArguments, etcdArguments];
const listed = (map: Record<string, string>) => Object.entries(map).map(([name, value]) => ({ name, value }));

test("v1beta3 without them: every component's arguments and the API server's volumes added, the rest kept", withTimeout(60_000, async () => {
  const { configuration, differs } = await withArguments({ apiVersion: 'kubeadm.k8s.io/v1beta3', kind: 'ClusterConfiguration', apiServer: { certSANs: ['10.0.0.1'] }, networking: { podSubnet: '10.46.0.0/16' } });
  assert.ok(differs);
  assert.equal(configuration.apiServer.extraArgs, apiServer);
  assert.equal(configuration.apiServer.certSANs, ['10.0.0.1']);
  assert.equal(configuration.apiServer.extraVolumes.map((volume: { name: string }) => volume.name), ['onboarder-audit-policy', 'onboarder-audit-log']);
  assert.equal([configuration.controllerManager.extraArgs, configuration.scheduler.extraArgs, configuration.etcd.local.extraArgs], [components, components, etcd]);
  assert.equal(configuration.networking, { podSubnet: '10.46.0.0/16' });
}));

test('v1beta3 with them all and arguments of its own: left as it is', withTimeout(60_000, async () => {
  const first = await withArguments({ apiVersion: 'kubeadm.k8s.io/v1beta3', kind: 'ClusterConfiguration', apiServer: { extraArgs: { 'oidc-issuer-url': 'https://sso.example' } } });
  const again = await withArguments(first.configuration);
  assert.not.ok(again.differs);
  assert.is(again.configuration.apiServer.extraArgs['oidc-issuer-url'], 'https://sso.example');
}));

test('v1beta4 (lists of name and value): one missing is added, its own kept, the order of those present does not count', withTimeout(60_000, async () => {
  const own = { name: 'oidc-issuer-url', value: 'https://sso.example' };
  const withoutProfiling = { ...apiServer } as Record<string, string>;
  delete withoutProfiling.profiling;
  const given = {
    apiVersion: 'kubeadm.k8s.io/v1beta4',
    kind: 'ClusterConfiguration',
    apiServer: { extraArgs: [own, ...listed(withoutProfiling).reverse()] },
    controllerManager: { extraArgs: listed(components).reverse() },
    scheduler: { extraArgs: listed(components) },
    etcd: { local: { extraArgs: listed(etcd), dataDir: '/var/lib/etcd' } },
  };
  const { configuration, differs } = await withArguments(given);
  assert.ok(differs, 'the API server lacks profiling=false');
  assert.equal(new Set(configuration.apiServer.extraArgs.map((argument: { name: string; value: string }) => `${argument.name}=${argument.value}`)), new Set([own, ...listed(apiServer)].map((argument) => `${argument.name}=${argument.value}`)));
  assert.is(configuration.etcd.local.dataDir, '/var/lib/etcd');
  const again = await withArguments(configuration);
  assert.not.ok(again.differs);
  const reordered = await withArguments({ ...configuration, controllerManager: { extraArgs: listed(components).reverse() } });
  assert.not.ok(reordered.differs, 'the same arguments in another order');
}));

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test.run();
