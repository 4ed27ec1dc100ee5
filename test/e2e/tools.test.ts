import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { CommandFailure } from '../../lib/dsl/command-failure.js';
import { TestHostRig } from '../../lib/lab/test-hosts.js';
import { renderFailure } from '../../lib/reporter/render-failure.js';
import { helmTemplate, helmUpgradeInstall, kubectlApply, kubectlGet, kubectlRolloutStatus } from '../../lib/tools/kubernetes.js';
import { runCommand } from '../../lib/tools/command.js';
import { runMake } from '../../lib/tools/make.js';
import { packerBuild, packerPluginDirectory, packerValidate, parseMachineLine, supportsInit, type PackerArtifact } from '../../lib/tools/packer.js';
import { tofuApply, tofuBinary, tofuInit, tofuOutput, tofuPlan, tofuProviderMirror, tofuWorkspace, tofuWorkspaceDelete, type TofuOutput, tofuPlannedChanges, tofuStateList, type PlannedChanges } from '../../lib/tools/tofu.js';
import { processesMatching, repositoryRoot, withTimeout } from '../helpers/project.js';
import { failureOf, runBody } from '../helpers/run-body.js';

interface Context {
  directory: string;
  rig?: TestHostRig;
}
const test = suite<Context>('tool helpers with the real tools');
const fixtures = path.join(repositoryRoot, 'test', 'fixtures', 'tools');

test.before((context) => {
  context.directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-tools-'));
});

test.after(async (context) => {
  await context.rig?.stop();
  rmSync(context.directory, { recursive: true, force: true });
});

test('packer: validate, then a null build with a shell-local provisioner; vars go through a file', withTimeout(120_000, async ({ directory }: Context) => {
  const marker = path.join(directory, 'packer-marker');
  let artifacts: PackerArtifact[] = [];
  const run = await runBody(async (context) => {
    const options = { template: path.join(fixtures, 'packer', 'null.pkr.hcl'), vars: { greeting: 'hello, packer', marker } };
    await packerValidate(context, options);
    ({ artifacts } = await packerBuild(context, options));
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.is(readFileSync(marker, 'utf8'), 'hello, packer, world\n');
  assert.equal(artifacts.map((artifact) => [artifact.build, artifact.id]), [['null.local', 'Null']]);
  assert.match(run.output, "Running local shell script");
  assert.not.match(run.output, /^\d+,,ui,/m, 'machine-readable lines are shown as text');
  assert.not.match(run.output, 'hello, packer, world >', 'vars are not on the command line');
}));

test('packer: a JSON template validates and builds too', withTimeout(120_000, async ({ directory }: Context) => {
  const marker = path.join(directory, 'json-marker');
  const run = await runBody(async (context) => {
    const options = { template: path.join(fixtures, 'packer', 'null.json'), vars: { marker } };
    await packerValidate(context, options);
    await packerBuild(context, options);
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.is(readFileSync(marker, 'utf8'), 'json template\n');
}));

test('packer: a failing build fails the task with packer\'s error', withTimeout(120_000, async () => {
  const run = await runBody(async (context) => {
    await packerBuild(context, { template: path.join(fixtures, 'packer', 'null.pkr.hcl'), vars: { greeting: 'x', marker: '/nonexistent-dir/marker' } });
  });
  assert.is(run.record.outcome, 'failed');
  assert.match(renderFailure(failureOf(run.record)!), 'packer build failed');
}));

test('packer: an ssh communicator provisions a test host', withTimeout(120_000, async (context: Context) => {
  context.rig = await TestHostRig.start({ count: 1, directory: path.join(context.directory, 'rig') });
  const host = context.rig.hosts[0]!;
  const run = await runBody(async (task) => {
    await packerBuild(task, { template: path.join(fixtures, 'packer', 'ssh.pkr.hcl'), vars: { host: host.address, private_key_file: context.rig!.privateKeyFile } });
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.is(readFileSync(path.join(host.directory, 'root', 'packer-was-here'), 'utf8').trim(), host.name);
}));

test('packer: machine-readable parsing and init support by version', () => {
  assert.equal(parseMachineLine('1600,null.x,artifact,0,string,a%!(PACKER_COMMA) b\\nc'), { timestamp: '1600', target: 'null.x', type: 'artifact', data: ['0', 'string', 'a, b\nc'] });
  assert.is(parseMachineLine('not machine readable'), undefined);
  assert.is(supportsInit('Packer v1.6.6'), false);
  assert.is(supportsInit('Packer v1.11.2'), true);
});

test('terraform (for tofu): plan reports changes, apply, then plan reports none; outputs parsed, sensitive ones redacted', withTimeout(180_000, async ({ directory }: Context) => {
  const dir = path.join(directory, 'terraform');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'main.tf'), readFileSync(path.join(fixtures, 'terraform', 'main.tf')));
  const planFile = path.join(dir, 'plan.out');
  const vars = { cluster: 'osdc', token: 'tf-secret-token-123' };
  let first = { changed: false };
  let second = { changed: true };
  let outputs: Record<string, TofuOutput> = {};
  let inWorkspace = false;
  const run = await runBody(async (context) => {
    await tofuInit(context, { dir });
    await tofuWorkspace(context, { dir, name: 'lab' });
    first = await tofuPlan(context, { dir, workspace: 'lab', out: planFile, vars, lockTimeout: '30s' });
    await tofuApply(context, { dir, workspace: 'lab', planFile, lockTimeout: '30s' });
    second = await tofuPlan(context, { dir, workspace: 'lab', out: planFile, vars });
    outputs = await tofuOutput(context, { dir, workspace: 'lab' });
    context.log.info(`token is ${outputs.token!.value as string}`);
    inWorkspace = existsSync(path.join(dir, 'terraform.tfstate.d', 'lab', 'terraform.tfstate'));
    // A decommission: everything destroyed, then the workspace itself deleted.
    const destroy = await tofuPlan(context, { dir, workspace: 'lab', out: planFile, vars, destroy: true });
    if (destroy.changed) await tofuApply(context, { dir, workspace: 'lab', planFile });
    await tofuWorkspaceDelete(context, { dir, name: 'lab' });
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.is(first.changed, true);
  assert.is(second.changed, false);
  assert.is(outputs.cluster!.value, 'osdc');
  assert.is(outputs.token!.sensitive, true);
  assert.match(run.output, 'creating VMs for osdc');
  assert.match(run.output, 'token is ***');
  assert.not.match(run.output, 'tf-secret-token-123');
  assert.ok(inWorkspace, 'state in the workspace');
  assert.match(run.output, /Deleted workspace "lab"/);
  assert.not.ok(existsSync(path.join(dir, 'terraform.tfstate.d', 'lab')), 'the workspace is gone with its state');
}));

test("terraform (for tofu): a saved plan's changes, from show -json: a resource replaced for a change it cannot make in place, with the attribute and its values, one destroyed, one created where none was, with its values; state list names what the state holds", withTimeout(120_000, async ({ directory }: Context) => {
  const dir = path.join(directory, 'terraform-replace');
  mkdirSync(dir);
  // terraform_data is built in (no provider to download): triggers_replace forces a replacement, as a VM's node_name does.
  writeFileSync(path.join(dir, 'main.tf'), 'variable "nodes" {\n  type = map(string)\n}\n\nresource "terraform_data" "node" {\n  for_each         = var.nodes\n  triggers_replace = each.value\n}\n');
  const planFile = path.join(dir, 'plan.out');
  let changes: PlannedChanges = { deletions: [], creations: [] };
  let held: string[] = [];
  const run = await runBody(async (context) => {
    await tofuInit(context, { dir });
    await tofuPlan(context, { dir, out: planFile, vars: { nodes: { 'osdc-cp1': 'pve1', 'osdc-w1': 'pve1' } } });
    await tofuApply(context, { dir, planFile });
    held = await tofuStateList(context, { dir });
    await tofuPlan(context, { dir, out: planFile, vars: { nodes: { 'osdc-cp1': 'pve2', 'osdc-w2': 'pve1' } } });
    changes = await tofuPlannedChanges(context, { dir }, planFile);
  });
  assert.equal(held, ['terraform_data.node["osdc-cp1"]', 'terraform_data.node["osdc-w1"]']);
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.equal(changes.deletions, [
    { address: 'terraform_data.node["osdc-cp1"]', type: 'terraform_data', key: 'osdc-cp1', replaced: true, because: ['triggers_replace "pve1" -> "pve2"'] },
    { address: 'terraform_data.node["osdc-w1"]', type: 'terraform_data', key: 'osdc-w1', replaced: false, because: [] },
  ]);
  // The new one (a VM added), with the values it is made with; the replaced one is not among them.
  assert.equal(changes.creations.map((each) => [each.address, each.key, each.values.triggers_replace]), [['terraform_data.node["osdc-w2"]', 'osdc-w2', 'pve1']]);
}));

test("terraform (for tofu) installs a provider from the verified package alone: the module's exact version from the mirror, no registry asked; a version the mirror lacks fails init", withTimeout(120_000, async ({ directory }: Context) => {
  const base = path.join(directory, 'provider-mirror');
  const dir = path.join(base, 'module');
  mkdirSync(dir, { recursive: true });
  // A FAKE provider package (no real one can be downloaded here), packed as its publisher releases it.
  const packages = path.join(base, 'images');
  mkdirSync(packages);
  const binary = path.join(packages, 'terraform-provider-proxmox_v0.69.0');
  writeFileSync(binary, '#!/bin/sh\n# FAKE provider, for tests only\nexit 1\n', { mode: 0o755 });
  const zip = path.join(packages, 'terraform-provider-proxmox_0.69.0_linux_amd64.zip');
  execFileSync('python3', ['-m', 'zipfile', '-c', zip, path.basename(binary)], { cwd: packages });
  const requiring = (version: string) => `terraform {\n  required_providers {\n    proxmox = {\n      source  = "bpg/proxmox"\n      version = "${version}"\n    }\n  }\n}\n`;
  writeFileSync(path.join(dir, 'main.tf'), requiring('0.69.0'));
  let env: Readonly<Record<string, string>> = {};
  const run = await runBody(async (context) => {
    env = await tofuProviderMirror(context, path.join(base, 'providers'), [{ source: 'bpg/proxmox', file: zip }]);
    await tofuInit(context, { dir, env });
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.match(run.output, /Installing bpg\/proxmox v0\.69\.0/);
  assert.match(run.output, /Installed bpg\/proxmox v0\.69\.0 \(unauthenticated\)/, 'from the mirror: a registry would have authenticated it');
  const installed = path.join(dir, '.terraform', 'providers', 'registry.terraform.io', 'bpg', 'proxmox', '0.69.0', 'linux_amd64');
  assert.equal(readdirSync(installed), ['terraform-provider-proxmox_v0.69.0']);
  assert.match(readFileSync(env.TF_CLI_CONFIG_FILE!, 'utf8'), 'include = ["registry.opentofu.org/bpg/proxmox","registry.terraform.io/bpg/proxmox"]');
  // Another version than the verified one: init fails, nothing fetched from a registry.
  writeFileSync(path.join(dir, 'main.tf'), requiring('0.70.0'));
  const other = await runBody(async (context) => {
    await tofuInit(context, { dir, env, upgrade: true });
  });
  assert.is(other.record.outcome, 'failed', other.output);
  assert.match(other.output, 'no available releases match the given constraints 0.70.0');
  // The catalog moves to 0.70.0 and its package is verified: the lock file's 0.69.0 holds a plain init back,
  // -upgrade (as cluster-vms inits) takes the new one.
  const newer = path.join(packages, 'terraform-provider-proxmox_0.70.0_linux_amd64.zip');
  writeFileSync(path.join(packages, 'terraform-provider-proxmox_v0.70.0'), '#!/bin/sh\n# FAKE provider, for tests only\nexit 1\n', { mode: 0o755 });
  execFileSync('python3', ['-m', 'zipfile', '-c', newer, 'terraform-provider-proxmox_v0.70.0'], { cwd: packages });
  const held = await runBody(async (context) => {
    // Twice at once, as cluster-vms of two clusters may: each changes the mirror in place.
    env = (await Promise.all([0, 1].map(() => tofuProviderMirror(context, path.join(base, 'providers'), [{ source: 'bpg/proxmox', file: newer }]))))[0]!;
    await tofuInit(context, { dir, env });
  });
  assert.equal(readdirSync(path.join(base, 'providers', 'mirror', 'registry.terraform.io', 'bpg', 'proxmox')), [path.basename(newer)], 'the older package is gone from the mirror');
  assert.is(held.record.outcome, 'failed', held.output);
  assert.match(held.output, 'locked provider registry.terraform.io/bpg/proxmox 0.69.0 does not match');
  const moved = await runBody(async (context) => {
    await tofuInit(context, { dir, env, upgrade: true });
  });
  assert.is(moved.record.outcome, 'succeeded', moved.output);
  assert.match(moved.output, /Installed bpg\/proxmox v0\.70\.0/);
  assert.match(readFileSync(path.join(dir, '.terraform.lock.hcl'), 'utf8'), 'version     = "0.70.0"');
  // No package at all (the step run without its fetch): one line that says which file and what places it.
  const absent = path.join(packages, 'terraform-provider-proxmox_9.9.9_linux_amd64.zip');
  const missing = await runBody(async (context) => {
    await tofuProviderMirror(context, path.join(base, 'providers'), [{ source: 'bpg/proxmox', file: absent }]);
  });
  assert.is(missing.record.outcome, 'failed');
  assert.match(renderFailure(failureOf(missing.record)!), `the bpg/proxmox provider package ${absent} is not there: images:fetch fetches and verifies it`);
}));

test("packer's plugin directory from a release zip: the binary under its source beside the SHA256SUM packer checks; unpacked once; a zip without it refused", withTimeout(60_000, async ({ directory }: Context) => {
  const base = path.join(directory, 'packer-plugins');
  mkdirSync(base, { recursive: true });
  // A FAKE plugin release (no real one can be downloaded here), zipped as HashiCorp releases it.
  const name = 'packer-plugin-proxmox_v1.2.2_x5.0_linux_amd64';
  writeFileSync(path.join(base, name), '#!/bin/sh\n# FAKE packer plugin, for tests only\n', { mode: 0o755 });
  const zip = path.join(base, `${name}.zip`);
  execFileSync('python3', ['-m', 'zipfile', '-c', zip, name], { cwd: base });
  const pluginPath = path.join(base, 'plugins');
  let env: Readonly<Record<string, string>> = {};
  const first = await runBody(async (context) => {
    env = await packerPluginDirectory(context, pluginPath, [{ source: 'github.com/hashicorp/proxmox', file: zip }]);
  });
  assert.is(first.record.outcome, 'succeeded', first.output);
  assert.equal(env, { PACKER_PLUGIN_PATH: pluginPath });
  const installed = path.join(pluginPath, 'github.com', 'hashicorp', 'proxmox');
  assert.equal(readdirSync(installed).sort(), [name, `${name}_SHA256SUM`]);
  assert.is(readFileSync(path.join(installed, `${name}_SHA256SUM`), 'utf8'), createHash('sha256').update(readFileSync(path.join(base, name))).digest('hex'));
  assert.ok((statSync(path.join(installed, name)).mode & 0o111) !== 0, 'executable');
  const again = await runBody(async (context) => {
    await packerPluginDirectory(context, pluginPath, [{ source: 'github.com/hashicorp/proxmox', file: zip }]);
  });
  assert.not.match(again.output, 'zipfile', 'installed already: not unpacked again');
  // A zip that is not the plugin's release.
  const wrong = path.join(base, 'packer-plugin-proxmox_v1.2.3_x5.0_linux_amd64.zip');
  execFileSync('python3', ['-m', 'zipfile', '-c', wrong, name], { cwd: base });
  const refused = await runBody(async (context) => {
    await packerPluginDirectory(context, pluginPath, [{ source: 'github.com/hashicorp/proxmox', file: wrong }]);
  });
  assert.is(refused.record.outcome, 'failed');
  assert.match(renderFailure(failureOf(refused.record)!), `${wrong} holds no packer-plugin-proxmox_v1.2.3_x5.0_linux_amd64: it is not the plugin's release zip`);
  // No zip at all (the step run without its fetch): one line that says which file and what places it.
  const absent = path.join(base, 'packer-plugin-proxmox_v9.9.9_x5.0_linux_amd64.zip');
  const missing = await runBody(async (context) => {
    await packerPluginDirectory(context, pluginPath, [{ source: 'github.com/hashicorp/proxmox', file: absent }]);
  });
  assert.is(missing.record.outcome, 'failed');
  assert.match(renderFailure(failureOf(missing.record)!), `the github.com/hashicorp/proxmox plugin's release zip ${absent} is not there: images:fetch fetches and verifies it`);
}));

/** A fake binary (named as such): records its argv, one JSON line per call, and prints canned output. */
function fakeBinary(directory: string, name: string, stdout = ''): string {
  const bin = path.join(directory, 'fake-bin');
  mkdirSync(bin, { recursive: true });
  const file = path.join(bin, name);
  writeFileSync(
    file,
    `#!/usr/bin/env node\n// FAKE ${name}: no real one can run here. Records argv for the tests.\nconst fs = require('fs');\nfs.appendFileSync(${JSON.stringify(path.join(bin, `${name}.calls`))}, JSON.stringify(process.argv.slice(2)) + '\\n');\nif (process.argv[2] === 'version' || process.argv[2] === '--version') console.log('fake ${name} 0.0');\nelse process.stdout.write(${JSON.stringify(stdout)});\n`,
  );
  chmodSync(file, 0o755);
  return bin;
}

function calls(bin: string, name: string): string[][] {
  return readFileSync(path.join(bin, `${name}.calls`), 'utf8').trim().split('\n').map((line) => JSON.parse(line)).filter((argv: string[]) => argv[0] !== '--version' && argv[0] !== 'version');
}

test('tofu is preferred when installed (FAKE tofu)', withTimeout(30_000, async ({ directory }: Context) => {
  const bin = fakeBinary(path.join(directory, 'tofu-case'), 'tofu');
  const original = process.env.PATH;
  process.env.PATH = `${bin}:${original}`;
  try {
    assert.is(tofuBinary(), 'tofu');
    assert.not.ok(existsSync(path.join(bin, 'tofu.calls')), 'found on PATH, not by running it (a dry run starts no process)');
    assert.is(tofuBinary('/opt/terraform'), '/opt/terraform');
    const run = await runBody(async (context) => {
      await tofuInit(context, { dir: directory, backendConfig: { path: 'state/x.tfstate' } });
    });
    assert.is(run.record.outcome, 'succeeded', run.output);
    assert.equal(calls(bin, 'tofu'), [['init', '-input=false', '-no-color', '-backend-config=path=state/x.tfstate']]);
  } finally {
    process.env.PATH = original;
  }
}));

test('kubectl and helm arguments and parsing (FAKE kubectl and helm: no Kubernetes API server runs here)', withTimeout(30_000, async ({ directory }: Context) => {
  const base = path.join(directory, 'kube-case');
  const bin = fakeBinary(base, 'kubectl', JSON.stringify({ kind: 'List', items: [{ metadata: { name: 'cilium' } }] }));
  fakeBinary(base, 'helm', 'kind: ConfigMap\n');
  const original = process.env.PATH;
  process.env.PATH = `${bin}:${original}`;
  let pods: { items: { metadata: { name: string } }[] } = { items: [] };
  let manifests = '';
  try {
    const run = await runBody(async (context) => {
      const kube = { kubeconfig: '/etc/k/osdc.conf', namespace: 'kube-system' };
      await kubectlApply(context, { ...kube, kustomize: 'manifests/cilium', files: ['a.yaml'] });
      await kubectlRolloutStatus(context, { ...kube, resource: 'daemonset/cilium', timeout: '5m' });
      pods = await kubectlGet(context, { ...kube, resource: 'pods', selector: 'k8s-app=cilium' });
      await helmUpgradeInstall(context, { ...kube, release: 'ingress', chart: 'ingress-nginx/ingress-nginx', version: '4.11.0', values: { controller: { replicaCount: 2 } }, wait: true, atomic: true, timeout: '10m' });
      manifests = await helmTemplate(context, { release: 'x', chart: './chart' });
    });
    assert.is(run.record.outcome, 'succeeded', run.output);
  } finally {
    process.env.PATH = original;
  }
  assert.equal(calls(bin, 'kubectl'), [
    ['--kubeconfig=/etc/k/osdc.conf', '--namespace=kube-system', 'apply', '--server-side', '--field-manager=onboarder', '-f', 'a.yaml', '-k', 'manifests/cilium'],
    ['--kubeconfig=/etc/k/osdc.conf', '--namespace=kube-system', 'rollout', 'status', 'daemonset/cilium', '--timeout=5m'],
    ['--kubeconfig=/etc/k/osdc.conf', '--namespace=kube-system', 'get', 'pods', '-o', 'json', '--selector=k8s-app=cilium'],
  ]);
  assert.equal(pods.items[0]!.metadata.name, 'cilium');
  const helm = calls(bin, 'helm');
  assert.equal(helm[0]!.slice(0, 8), ['upgrade', '--install', 'ingress', 'ingress-nginx/ingress-nginx', '--kubeconfig=/etc/k/osdc.conf', '--namespace=kube-system', '--values', helm[0]![7]!]);
  assert.match(helm[0]!.join(' '), '--version 4.11.0 --wait --atomic --timeout 10m');
  assert.is(manifests, 'kind: ConfigMap\n');
}));

test('make: targets and variables as separate arguments', withTimeout(30_000, async ({ directory }: Context) => {
  const dir = path.join(directory, 'make-case');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'Makefile'), 'greet:\n\t@echo "hello $(WHO)" > out.txt\n');
  const run = await runBody(async (context) => {
    await runMake(context, { directory: dir, targets: ['greet'], variables: { WHO: "world; rm -rf /" } });
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.is(readFileSync(path.join(dir, 'out.txt'), 'utf8'), 'hello world; rm -rf /\n');
}));

test('runCommand with stdoutIsSecret: a token a program prints is never shown, logged or kept in a failure, and is redacted from then on', withTimeout(30_000, async () => {
  let token = '';
  const run = await runBody(async (context) => {
    token = (await runCommand(context, ['sh', '-c', 'echo "tok-$$-5f1d2c"'], { stdoutIsSecret: true })).stdout.trim();
    context.log.info(`created ${token}`);
    await runCommand(context, ['echo', `using ${token}`]);
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.match(token, /^tok-\d+-5f1d2c$/, 'the task gets the value');
  assert.not.ok(run.output.includes(token), run.output);
  assert.not.ok(JSON.stringify(run.events).includes(token));
  assert.match(run.output, 'using ***');

  const failing = await runBody(async (context) => {
    await runCommand(context, ['sh', '-c', 'echo "secret-4242-value"; echo "vault: permission denied" >&2; exit 2'], { stdoutIsSecret: true });
  });
  const failure = failureOf(failing.record)!;
  assert.not.ok(JSON.stringify(failure).includes('secret-4242-value'), JSON.stringify(failure));
  assert.match(JSON.stringify(failure), 'permission denied', 'stderr still explains the failure');
}));

test('runCommand: no shell between the arguments and the program; input, exit codes and a missing program', withTimeout(30_000, async ({ directory }: Context) => {
  const marker = path.join(directory, 'injected');
  const results: string[] = [];
  const run = await runBody(async (context) => {
    // Shell syntax in an argument reaches the program as text: nothing expands or runs.
    results.push((await runCommand(context, ['printf', '%s|', `$(touch ${marker})`, '*', '; echo no'])).stdout);
    results.push((await runCommand(context, ['cat'], { input: 'from stdin\n' })).stdout);
    results.push((await runCommand(context, ['sh', '-c', 'echo "$GREETING"'], { env: { GREETING: 'hi there' } })).stdout);
    results.push(String((await runCommand(context, ['sh', '-c', 'exit 2'], { okExitCodes: [2] })).exitCode));
    const shown = await runCommand(context, ['printf', 'a\\nskip\\nb'], { displayLine: (line) => (line === 'skip' ? undefined : line.toUpperCase()) });
    results.push(shown.stdout);
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.equal(results, [`$(touch ${marker})|*|; echo no|`, 'from stdin\n', 'hi there\n', '2', 'a\nskip\nb']);
  assert.not.ok(existsSync(marker), 'no shell ran the argument');
  assert.match(run.output, "$ printf '%s|' '$(touch");
  assert.match(run.output, 'A\nB', 'displayLine rewrites and drops lines of the live output');
  assert.not.match(run.output, 'SKIP');

  const failing = await runBody(async (context) => {
    await runCommand(context, ['sh', '-c', 'echo partial output; echo oops >&2; exit 3']);
  });
  const failure = failureOf(failing.record);
  assert.is(renderFailure(failure!), "body: command failed with exit code 3: sh -c 'echo partial output; echo oops >&2; exit 3'");
  assert.ok(failure?.reason === 'exit-non-zero' && failure.outputTail === 'partial output\noops', JSON.stringify(failure));

  const missing = await runBody(async (context) => {
    await runCommand(context, ['onboarder-no-such-program', '--flag']);
  });
  assert.match(renderFailure(failureOf(missing.record)!), "'onboarder-no-such-program' was not found (is it installed and on PATH");
}));

test('the context $ is bound to the task: project root as cwd, output as events, .sync and option calls too', withTimeout(30_000, async ({ directory }: Context) => {
  const seen: string[] = [];
  const run = await runBody(async ({ $ }) => {
    seen.push((await $`pwd`).stdout.trim());
    seen.push($.sync`echo synchronously`.stdout.trim());
    seen.push((await $({ cwd: '/' })`pwd`).stdout.trim());
  }, { root: directory });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.equal(seen, [directory, 'synchronously', '/']);
  assert.match(run.output, '$ echo synchronously\nsynchronously');
}));

/**
 * The process that forks this task's programs: $PPID of a program is its parent, a spawner once one has
 * booted (the first programs are spawned directly meanwhile), else this engine process after 2 s of trying.
 */
test("runCommand and zx's $ start their programs as the engine's own children, with the engine's environment", withTimeout(30_000, async () => {
  const parents: number[] = [];
  let nodeOptions = '';
  const savedNodeOptions = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = '--no-deprecation';
  const run = await runBody(async (context) => {
    parents.push(Number((await runCommand(context, ['sh', '-c', 'echo $PPID'])).stdout));
    parents.push(Number((await context.$`echo $PPID`).stdout));
    nodeOptions = (await runCommand(context, ['sh', '-c', 'echo "$NODE_OPTIONS"'])).stdout.trim();
  });
  if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = savedNodeOptions;
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.equal(parents, [process.pid, process.pid]);
  assert.is(nodeOptions, '--no-deprecation');
}));

test("runCommand keepOutput 'tail' returns each stream's last MiB; the default all of it; a failure shows its last lines", withTimeout(60_000, async () => {
  const script = 'seq 1 400000; seq 1 1000 >&2';
  const results: { stdout: string; stderr: string }[] = [];
  let failure: unknown;
  const run = await runBody(async (context) => {
    results.push(await runCommand(context, ['sh', '-c', script]));
    results.push(await runCommand(context, ['sh', '-c', script], { keepOutput: 'tail' }));
    await runCommand(context, ['sh', '-c', `${script}; echo last words >&2; exit 3`]).catch((error: unknown) => (failure = error));
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  const [all, kept] = results as [{ stdout: string; stderr: string }, { stdout: string; stderr: string }];
  assert.is(all.stdout.split('\n').length, 400001, 'all 400,000 lines (2.6 MB)');
  assert.is(kept.stdout.length, 1024 * 1024);
  assert.ok(kept.stdout.endsWith('399999\n400000\n') && all.stdout.endsWith(kept.stdout));
  assert.is(kept.stderr, all.stderr, 'a stream under the limit is whole');
  assert.ok(failure instanceof CommandFailure);
  assert.is(failure.exitCode, 3);
  assert.is(failure.outputTail.split('\n').slice(-3).join('|'), '999|1000|last words', "the failure's output tail is the end of both streams");
}));

test('a program that leaves something running with its output open ends when it exits, with a note; the task stops what it left', withTimeout(60_000, async () => {
  const markers = { argv: `600.${process.pid}1`, zx: `600.${process.pid}2` };
  const results: { stdout: string; exit?: unknown }[] = [];
  const run = await runBody(async (context) => {
    // Without the drain limit each of these would wait for its sleep: ten minutes, past this test's limit.
    results.push(await runCommand(context, ['sh', '-c', `sleep ${markers.argv} & echo started`]));
    const zx = await context.$`sleep ${markers.zx} & echo started too`;
    results.push({ stdout: zx.stdout });
    assert.ok(processesMatching(`sleep ${markers.argv}`).length === 1, 'still running while the task is');
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.equal(results.map((result) => result.stdout), ['started\n', 'started too\n']);
  assert.match(run.output, /sh exited, but a process it left running kept its output open: no longer read/);
  assert.match(run.output, /bash exited, but a process it left running kept its output open/);
  assert.equal(processesMatching(`sleep ${markers.argv}`), [], 'stopped when the task ended');
  assert.equal(processesMatching(`sleep ${markers.zx}`), []);
}));

test('zx $ commands behave as zx promises: stdin, input, exit codes, pipes, kill, timeout', withTimeout(30_000, async () => {
  const seen: Record<string, unknown> = {};
  const marker = `30.${process.pid}`;
  const run = await runBody(async ({ $ }) => {
    const cat = $`cat`;
    cat.stdin.write('streamed ');
    cat.stdin.end('input');
    seen.streamed = (await cat).stdout;
    seen.input = (await $({ input: 'given' })`cat`).stdout;
    seen.exitCode = (await $`echo to stderr >&2; exit 3`.nothrow()).exitCode;
    seen.stderr = (await $`echo to stderr >&2`).stderr;
    seen.piped = (await $`printf 'x\\ny\\n'`.pipe($`wc -l`)).stdout.trim();
    const sleeping = $`sleep ${marker}1`;
    while (sleeping.pid === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    await sleeping.kill();
    seen.killed = (await sleeping.nothrow()).signal;
    seen.timedOut = (await $({ timeout: '100ms', nothrow: true })`sleep ${marker}2`).signal;
  });
  assert.is(run.record.outcome, 'succeeded', run.output);
  assert.equal(seen, {
    streamed: 'streamed input',
    input: 'given',
    exitCode: 3,
    stderr: 'to stderr\n',
    piped: '2',
    killed: 'SIGTERM',
    timedOut: 'SIGTERM',
  });
  assert.equal(processesMatching(`sleep ${marker}`), []);
}));

test.run();
