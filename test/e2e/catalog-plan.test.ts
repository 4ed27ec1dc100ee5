// Golden files: the osdc plan and graph on the example environment. UPDATE_GOLDEN=1 rewrites them.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { repositoryRoot, withTimeout } from '../helpers/project.js';
import { addEnvironment, copyProject, runDeploy } from '../helpers/project-copy.js';

interface Project {
  directory: string;
  remove: () => void;
}
const test = suite<Project>('the OpenSpace catalog on the example environment');

test.before((context) => {
  Object.assign(context, copyProject());
});
test.after((context) => context.remove());

const cli = runDeploy;

function compareGolden(name: string, actual: string): void {
  const file = path.join(repositoryRoot, 'test', 'golden', name);
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, actual);
  assert.fixture(actual, readFileSync(file, 'utf8'));
}

test('the osdc plan: order, parallel levels and the exact commands, secrets redacted', withTimeout(120_000, async ({ directory }: Project) => {
  const plan = await cli(directory, ['osdc', '--dry-run']);
  assert.is(plan.code, 0, plan.stderr);
  // Byte for byte: scratch files are named $SCRATCH, so two plans of the same project and state are equal.
  compareGolden('osdc-plan.txt', plan.stdout);
  assert.not.match(plan.stdout, 'not-a-real-secret');
  // Both data clusters fan out beside the management cluster, which they wait for only to register.
  assert.match(plan.stdout, / 11 {2}cluster-vms\[cluster=mcm\]\s+run\s+no stamp\n[\s\S]* 11 {2}cluster-vms\[cluster=osdc-a\]\s+run\s+no stamp\n[\s\S]* 11 {2}cluster-vms\[cluster=osdc-b\]/);
}));

test('the osdc graph', withTimeout(60_000, async ({ directory }: Project) => {
  const graph = await cli(directory, ['--graph', 'osdc']);
  assert.is(graph.code, 0, graph.stderr);
  compareGolden('osdc-graph.txt', graph.stdout);
  const vms = String.raw`<- golden-image, images:fetch\[artifact=tofu-provider-proxmox\], dns`;
  assert.match(graph.stdout, new RegExp(String.raw`level \d+ \(3 in parallel\)\n  cluster-vms\[cluster=mcm\]\s+${vms}\n  cluster-vms\[cluster=osdc-a\]\s+${vms}\n  cluster-vms\[cluster=osdc-b\]`));
}));

test('targets by role and by name; an unknown cluster or a missing input is refused before anything runs, exit 2', withTimeout(120_000, async ({ directory }: Project) => {
  const ids = async (target: string) => {
    const graph = await cli(directory, ['--graph', target, '--format', 'json']);
    assert.is(graph.code, 0, graph.stderr);
    return (JSON.parse(graph.stdout) as { nodes: { id: string }[] }).nodes.map((node) => node.id);
  };
  // A role: every cluster of it, and the management cluster only as far as registration needs it.
  const dataPlane = await ids('osdc');
  for (const id of ['cluster[name=osdc-a]', 'cluster[name=osdc-b]', 'registration[cluster=osdc-b]', 'kubernetes[cluster=mcm]']) assert.ok(dataPlane.includes(id), id);
  for (const id of ['cluster[name=osms]', 'platform-services[cluster=mcm]', 'kubernetes[cluster=osms]']) assert.not.ok(dataPlane.includes(id), id);
  // OS patches run when asked, for one cluster or every one, never as part of a cluster's target.
  assert.not.ok(dataPlane.some((id) => id.startsWith('os-patches')), 'osdc patches nothing');
  const patches = await ids('security-patches');
  for (const cluster of ['mcm', 'osms', 'osdc-a', 'osdc-b']) assert.ok(patches.includes(`os-patches[cluster=${cluster}]`), cluster);
  // One cluster by name: its own chain, nothing of its sibling.
  const one = await ids('cluster[name=osdc-b]');
  assert.ok(one.includes('platform-services[cluster=osdc-b]'));
  assert.equal(one.filter((id) => id.includes('osdc-a')), []);

  const state = path.join(directory, '.cache', 'state', 'example');
  const unknown = await cli(directory, ['cluster[name=osdc-c]', '--yes']);
  assert.equal({ code: unknown.code, stderr: unknown.stderr.trim() }, { code: 2, stderr: "error: unknown task 'cluster[name=osdc-c]': did you mean 'cluster[name=osdc-b]'? (see --list)" });
  const missing = await cli(directory, ['kubernetes']);
  assert.is(missing.code, 2);
  assert.is(missing.stderr.trim(), "error: task 'kubernetes' needs its input cluster: name one instance, kubernetes[cluster=mcm], kubernetes[cluster=osdc-a], kubernetes[cluster=osdc-b], kubernetes[cluster=osms] (see --list)");
  assert.not.ok(existsSync(path.join(state, 'state.journal')), 'nothing was written');
}));

/** Runs the CLI with test/helpers/observe-startup.mjs: what it started, and whether it loaded ssh2. */
async function observed(directory: string, args: string[], env: Record<string, string> = {}): Promise<{ forks: number; started: number; ssh2: boolean; maxRssKiB: number }> {
  const file = path.join(directory, 'observed.json');
  const result = await cli(directory, args, { NODE_OPTIONS: `--import=${path.join(repositoryRoot, 'test', 'helpers', 'observe-startup.mjs')}`, OBSERVE_FILE: file, ...env });
  assert.is(result.code, 0, result.stderr);
  return JSON.parse(readFileSync(file, 'utf8'));
}

test('--status and a dry run of the whole catalog fork no Node process and load no SSH library', withTimeout(120_000, async ({ directory }: Project) => {
  for (const args of [['--status'], ['proxmox-k8s', '--dry-run']]) {
    const { forks, ssh2 } = await observed(directory, args);
    assert.equal({ forks, ssh2 }, { forks: 0, ssh2: false }, args.join(' '));
  }
}));

test('a dry run remembers the tool versions its walk asked (tofu or terraform, kubectl): the next starts no program', withTimeout(120_000, async ({ directory }: Project) => {
  // The first may ask; from the second on nothing is asked again.
  await observed(directory, ['osdc', '--dry-run']);
  const { forks, started, ssh2 } = await observed(directory, ['osdc', '--dry-run']);
  assert.equal({ forks, started, ssh2 }, { forks: 0, started: 0, ssh2: false });
}));

test('environments are chosen by --env or DEPLOY_ENV; an unknown one lists the known', withTimeout(60_000, async ({ directory }: Project) => {
  const unknown = await cli(directory, ['osdc', '--dry-run', '--env', 'prod']);
  assert.is(unknown.code, 2);
  assert.is(unknown.stderr.trim(), "error: unknown environment 'prod': choose one of example, lab with --env or DEPLOY_ENV");
  const lab = await cli(directory, ['osdc', '--dry-run'], { DEPLOY_ENV: 'lab' });
  assert.match(lab.stdout, 'plan for lab:');
}));

test('a broken environment file: one line with the path, exit 2', withTimeout(60_000, async ({ directory }: Project) => {
  const file = path.join(directory, 'environments', 'example.ts');
  const original = readFileSync(file, 'utf8');
  writeFileSync(file, original.replace("node('mcm-cp3', 23, 2103)", "{ name: 'mcm-cp3', address: '10.0.0.300', vmId: 2103 }"));
  try {
    const result = await cli(directory, ['osdc', '--dry-run']);
    assert.is(result.code, 2);
    assert.is(result.stderr.trim(), "error: environment example: clusters.mcm.controlPlane[2].address: '10.0.0.300' is not an IPv4 address: fix environments/example.ts");
  } finally {
    writeFileSync(file, original);
  }
}));

// Last: the environment it adds is listed among the others from then on.
test('a site without a cluster of a role: its target says so, and a run of it does nothing', withTimeout(60_000, async ({ directory }: Project) => {
  addEnvironment(directory, 'no-osms', 'noOsms', `import { example } from './example.js';
import { defineEnvironment } from './schema.js';
const { osms: _osms, ...clusters } = example.clusters;
export const noOsms = defineEnvironment({ ...example, name: 'no-osms', clusters });
`);
  const empty = await cli(directory, ['osms', '--env', 'no-osms', '--dry-run']);
  assert.is(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /plan for no-osms: 0 of 1 tasks would run\n\s+1\s+osms\s+skip\s+not applicable: the environment declares no cluster of role osms \(clusters\.<name>\.role\)/);
  const run = await cli(directory, ['osms', '--env', 'no-osms']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /\[osms\] not applicable: the environment declares no cluster of role osms/);
  assert.match(run.stdout, 'succeeded: 0 ran, 1 skipped, 0 failed');
}));

test.run();
