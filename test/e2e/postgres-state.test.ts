// Team state in PostgreSQL (issue 21), against a real PostgreSQL 15 this test starts on loopback: the state
// store's behaviour against both stores, two project copies standing for two machines on one database, a
// killed holder, a connection terminated and a server stopped mid-run, and the URL's password kept out of
// everything.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import type { Fingerprint, TaskId } from '../../lib/dsl/ids.js';
import { JsonStateStore } from '../../lib/state/json-state-store.js';
import { PostgresStateStore } from '../../lib/state/postgres-state-store.js';
import type { StateStore } from '../../lib/state/state-store.js';
import { pgBackendConnection, tofuAdoptState, tofuApply, tofuInit, tofuModuleWithBackend, tofuPlan, tofuWorkspace } from '../../lib/tools/tofu.js';
import type { Environment } from '../../environments/schema.js';
import { vmStatePull } from '../../tasks/infrastructure/vm-state-pull.js';
import { FixtureProject, processesMatching, waitFor, withTimeout } from '../helpers/project.js';
import { runBody } from '../helpers/run-body.js';
import { TestPostgres } from '../helpers/postgres.js';

interface Context {
  database: TestPostgres;
  projects: FixtureProject[];
}
const test = suite<Context>('state in PostgreSQL');

test.before(async (context) => {
  context.database = await TestPostgres.start();
  context.projects = [];
});
test.after(async (context) => {
  for (const project of context.projects) project.remove();
  await context.database?.remove();
});

/** A fixture project whose state is in database `name` of the test's server (made on first use). */
function project(context: Context, name: string): { project: FixtureProject; env: Record<string, string>; url: string } {
  const copy = FixtureProject.copy('basic');
  context.projects.push(copy);
  const url = context.database.url.replace(/\/onboarder$/, `/${name}`);
  if (context.database.psql(`SELECT count(*) FROM pg_database WHERE datname = '${name}'`).trim() === '0') context.database.newDatabase(name);
  return { project: copy, env: { ONBOARDER_TEST_STATE_URL: url, ONBOARDER_GRACE_MS: '500' }, url };
}

const stamp = (fingerprint: string) => ({
  fingerprint: fingerprint as Fingerprint,
  components: { task: 'a', inputs: {}, definition: 'd', sources: {}, tools: {}, dependencies: {}, config: {} },
  finishedAt: '2026-12-05T00:00:00.000Z',
  durationMs: 7,
});

/** The same changes on a store, then what a store opened afresh reads back. */
async function exercise(store: StateStore, reopen: () => Promise<StateStore>): Promise<unknown> {
  const [a, b, c] = ['a', 'b', 'c'] as TaskId[];
  await store.markStarted(a!, '2026-12-05T00:00:00.000Z');
  await store.markSucceeded(a!, stamp('fa'));
  await store.markStarted(a!, '2026-12-05T00:01:00.000Z');
  const started = await reopen();
  const stampWhileRunning = started.record(a!)?.stamp;
  await started.close();
  await store.markSucceeded(a!, stamp('fa2'));
  await store.markStarted(b!, '2026-12-05T00:02:00.000Z');
  await store.markFinishedWithoutSuccess(b!, { outcome: 'failed', startedAt: '2026-12-05T00:02:00.000Z', durationMs: 3 });
  await store.markStarted(c!, '2026-12-05T00:03:00.000Z');
  await store.markSucceeded(c!, stamp('fc'));
  await store.reset(c!);
  await store.close();
  const reopened = await reopen();
  const records = Object.fromEntries([...reopened.records()].sort(([x], [y]) => x.localeCompare(y)));
  await reopened.close();
  return { stampWhileRunning: stampWhileRunning ?? null, records };
}

test('the state store behaves the same on files and in PostgreSQL: a stamp goes before a start and comes after success; outcomes, durations, resets', withTimeout(60_000, async (context) => {
  const { project: copy, url } = project(context, 'conformance');
  const directory = copy.path('.cache', 'state', 'conformance');
  const openFile = async () => {
    const opened = JsonStateStore.open(directory);
    if (!opened.ok) throw new Error(JSON.stringify(opened.error));
    return opened.value;
  };
  const openDatabase = async (lock: boolean) => {
    const opened = await PostgresStateStore.open(url, 'conformance');
    if (!opened.ok) throw new Error(JSON.stringify(opened.error));
    if (lock) assert.ok((await opened.value.acquireRunLock(['conformance'])).ok);
    return opened.value;
  };
  const onFiles = await exercise(await openFile(), openFile);
  const inDatabase = await exercise(await openDatabase(true), () => openDatabase(false));
  assert.equal(inDatabase, onFiles);
  assert.equal((onFiles as { stampWhileRunning: unknown }).stampWhileRunning, null, 'no stamp while the task runs again');
}));

test('two machines, one database: the second run is refused naming the first; kill -9 of the first frees the lock at once; the next run does only what is unfinished', withTimeout(120_000, async (context) => {
  const first = project(context, 'machines');
  const second = project(context, 'machines');
  const marker = `41.${process.pid}7`;
  const running = first.project.start(['after-slow'], { ...first.env, SLOW_SECONDS: marker });
  try {
    await waitFor(() => processesMatching(`sleep ${marker}`).length >= 2);
    const refused = await second.project.run(['after-slow'], second.env);
    assert.is(refused.code, 2);
    assert.match(refused.stderr, new RegExp(`^error: another run holds postgresql://onboarder@127\\.0\\.0\\.1:${context.database.port}/machines \\(environment test\\) \\(pid ${running.pid} on `, 'm'));
    running.kill('SIGKILL');
    await new Promise((resolve) => running.once('exit', resolve));
    for (const pid of processesMatching(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
    // No timeout to wait out: the killed run's connection ended, and its lock with it.
    const resumed = await second.project.run(['after-slow', '--json'], { ...second.env, SLOW_SECONDS: '0.1' });
    assert.is(resumed.code, 0, resumed.stderr);
    const events = resumed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; task?: string });
    assert.equal(events.filter((event) => event.type === 'task-started').map((event) => event.task), ['slow', 'after-slow'], 'validate, done on the first machine, is not run again');
    assert.ok(events.some((event) => event.type === 'task-skipped' && event.task === 'validate'));
    // The team's last run, seen from the other machine.
    const runId = (events[0] as unknown as { runId: string }).runId;
    const lastRun = await first.project.run(['--last-run', '--json'], first.env);
    assert.is((JSON.parse(lastRun.stdout) as { runId: string }).runId, runId);
  } finally {
    running.kill('SIGKILL');
  }
}));

test('the run\'s connection terminated mid-run: it reconnects with the same lock and records the outcome; a server stopped past the wait fails in one line and the task runs again', withTimeout(120_000, async (context) => {
  const { project: copy, env } = project(context, 'reconnect');
  const environment = { ...env, ONBOARDER_STATE_RECONNECT_MS: '30000' };
  const marker = `2.${process.pid}3`;
  const running = copy.start(['slow', '--json'], { ...environment, SLOW_SECONDS: marker });
  let stdout = '';
  running.stdout!.on('data', (chunk) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => running.once('exit', resolve));
  await waitFor(() => processesMatching(`sleep ${marker}`).length >= 2);
  const terminated = context.database.psql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'onboarder%') AS ended");
  assert.ok(Number(terminated) >= 1, 'the run had a connection to end');
  assert.is(await exited, 0, stdout);
  const status = await copy.run(['--status', 'slow', '--json'], env);
  assert.is((JSON.parse(status.stdout) as { tasks: { task: string; state: string }[] }).tasks.find((row) => row.task === 'slow')!.state, 'done');

  // Now the server stops while a task runs and does not come back within the wait: no false 'done'.
  const second = copy.start(['slow', '--force', 'slow'], { ...environment, ONBOARDER_STATE_RECONNECT_MS: '2000', SLOW_SECONDS: marker });
  let stderr = '';
  second.stderr!.on('data', (chunk) => (stderr += chunk));
  const secondExited = new Promise<number | null>((resolve) => second.once('exit', resolve));
  await waitFor(() => processesMatching(`sleep ${marker}`).length >= 2);
  await context.database.stop();
  assert.is(await secondExited, 1);
  const lines = stderr.trim().split('\n').filter((line) => line.startsWith('error:'));
  assert.is(lines.length, 1, stderr);
  assert.match(lines[0]!, /^error: unreachable: .* while writing postgresql:\/\/onboarder@127\.0\.0\.1:\d+\/reconnect \(environment test\) \(recording 'success' of slow\): the run stopped/);
  await context.database.restart();
  const after = await copy.run(['--status', 'slow', '--json'], env);
  assert.not.equal((JSON.parse(after.stdout) as { tasks: { task: string; state: string }[] }).tasks.find((row) => row.task === 'slow')!.state, 'done', 'the unrecorded success is not a stamp: it runs again');
}));

test('state push moves the file state into PostgreSQL (refused over records without --force), state pull brings it back', withTimeout(90_000, async (context) => {
  const { project: copy, env } = project(context, 'moving');
  const onFiles = await copy.run(['osdc']);
  assert.is(onFiles.code, 0, onFiles.stderr);
  const pushed = await copy.run(['state', 'push'], env);
  assert.is(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /^pushed 6 task records from .*state\.json to postgresql:\/\/onboarder@127\.0\.0\.1:\d+\/moving \(environment test\)$/m);
  const shared = await copy.run(['osdc', '--dry-run', '--detailed-exitcode'], env);
  assert.is(shared.code, 0, `the database's state says everything is done: ${shared.stdout}`);
  const again = await copy.run(['state', 'push'], env);
  assert.is(again.code, 2);
  assert.match(again.stderr, /already holds 6 task records: push with --force to replace them/);
  const refused = await copy.run(['state', 'pull', '--force'], { ...env, PULL_REFUSES: '1' });
  assert.is(refused.code, 0, 'a companion that would refuse is overruled by --force too');
  const kept = await copy.run(['state', 'pull'], { ...env, PULL_REFUSES: '1' });
  assert.is(kept.code, 2);
  assert.match(kept.stderr, /already holds/);
  const pulled = await copy.run(['state', 'pull', '--force'], env);
  assert.is(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stdout, /^pulled the companion state from moving to test\npulled 6 task records/m);
  const unknown = await copy.run(['state', 'sync'], env);
  assert.is(unknown.code, 2);
  const fileOnly = await copy.run(['state', 'push']);
  assert.is(fileOnly.code, 2);
  assert.match(fileOnly.stderr, /keeps its state in files, not in PostgreSQL/);
}));

const vmsModule = `terraform {
  backend "local" {}
}
variable "name" {}
variable "hold" {
  default = 0
}
# A VM stood in for by terraform_data (no provider to fetch); a new hold replaces it and sleeps while applying.
resource "terraform_data" "vm" {
  input            = "\${var.name}-\${var.hold}"
  triggers_replace = var.hold
  provisioner "local-exec" {
    command = "sleep \${var.hold}"
  }
}
`;

test("tofu's pg backend (real terraform): the VMs' state in the team's database, per cluster workspace; a second apply is refused while one holds the lock", withTimeout(120_000, async (context) => {
  const url = context.database.newDatabase('vms');
  const source = mkdtempSync(path.join(os.tmpdir(), 'onboarder-vms-'));
  try {
    writeFileSync(path.join(source, 'main.tf'), vmsModule);
    const env = { PG_CONN_STR: pgBackendConnection(url) };
    let moduleDirectory = '';
    const run = await runBody(async (body) => {
      moduleDirectory = await tofuModuleWithBackend(body, source, path.join(source, 'pg-module'), 'pg');
      await tofuInit(body, { dir: moduleDirectory, binary: 'terraform', env, backendConfig: { schema_name: 'onboarder_tofu_test' } });
      await tofuWorkspace(body, { dir: moduleDirectory, binary: 'terraform', env, name: 'osdc-a' });
      const plan = await tofuPlan(body, { dir: moduleDirectory, binary: 'terraform', env, workspace: 'osdc-a', vars: { name: 'osdc-a-cp1' }, out: path.join(source, 'osdc-a.tfplan') });
      await tofuApply(body, { dir: moduleDirectory, binary: 'terraform', env, workspace: 'osdc-a', planFile: plan.planFile });
    }, { secrets: [url] });
    assert.is(run.record.outcome, 'succeeded', run.output);
    assert.not.match(run.output, context.database.password);
    const state = context.database.psql("SELECT name || ' ' || data FROM onboarder_tofu_test.states WHERE name = 'osdc-a'", 'vms');
    assert.match(state, /^osdc-a .*osdc-a-cp1-0/s, 'the workspace\'s state is a row of the database');

    // One apply holds the lock (its VM takes 6 s to make); a second, from another checkout, is refused.
    const terraform = (args: string[]) => spawn('terraform', args, { cwd: moduleDirectory, env: { ...process.env, PG_CONN_STR: env.PG_CONN_STR, TF_WORKSPACE: 'osdc-a', TF_IN_AUTOMATION: '1' } });
    const holder = terraform(['apply', '-auto-approve', '-no-color', '-input=false', '-var', 'name=osdc-a-cp1', '-var', 'hold=6']);
    let held = '';
    holder.stdout!.on('data', (chunk) => (held += chunk));
    holder.stderr!.on('data', (chunk) => (held += chunk));
    const holderExited = new Promise<number | null>((resolve) => holder.once('exit', resolve));
    await waitFor(() => held.includes('Provisioning with') || holder.exitCode !== null, 60_000);
    assert.match(held, 'Provisioning with', held);
    const second = terraform(['apply', '-auto-approve', '-no-color', '-input=false', '-lock-timeout=0s', '-var', 'name=osdc-a-cp1', '-var', 'hold=1']);
    let refused = '';
    second.stderr!.on('data', (chunk) => (refused += chunk));
    second.stdout!.on('data', (chunk) => (refused += chunk));
    assert.is(await new Promise<number | null>((resolve) => second.once('exit', resolve)), 1);
    assert.match(refused, 'Error acquiring the state lock');
    assert.is(await holderExited, 0, held);

    // A site that kept its VMs' state in local files moves to PostgreSQL: the cluster's state file is pushed
    // into its empty workspace once, and its VMs are not planned again. A .tf file the module dropped goes
    // from the copy.
    const local = { dir: source, binary: 'terraform', env };
    // The local backend's files where the catalog keeps them: <environment's state directory>/tofu.
    const stateDirectory = path.join(source, 'state');
    const stateFile = path.join(stateDirectory, 'tofu', 'workspaces', 'osdc-b', 'terraform.tfstate');
    writeFileSync(path.join(moduleDirectory, 'dropped.tf'), 'resource "terraform_data" "dropped" {}\n');
    const adopted = await runBody(async (body) => {
      await tofuInit(body, { ...local, backendConfig: { path: path.join(stateDirectory, 'tofu', 'terraform.tfstate'), workspace_dir: path.join(stateDirectory, 'tofu', 'workspaces') } });
      await tofuWorkspace(body, { ...local, name: 'osdc-b' });
      const before = await tofuPlan(body, { ...local, workspace: 'osdc-b', vars: { name: 'osdc-b-cp1' }, out: path.join(source, 'local.tfplan') });
      await tofuApply(body, { ...local, workspace: 'osdc-b', planFile: before.planFile });
      await tofuModuleWithBackend(body, source, moduleDirectory, 'pg');
      await tofuWorkspace(body, { dir: moduleDirectory, binary: 'terraform', env, name: 'osdc-b' });
      assert.ok(await tofuAdoptState(body, { dir: moduleDirectory, binary: 'terraform', env, workspace: 'osdc-b' }, stateFile), 'pushed');
      assert.not.ok(await tofuAdoptState(body, { dir: moduleDirectory, binary: 'terraform', env, workspace: 'osdc-b' }, stateFile), 'once');
      const after = await tofuPlan(body, { dir: moduleDirectory, binary: 'terraform', env, workspace: 'osdc-b', vars: { name: 'osdc-b-cp1' }, out: path.join(source, 'pg.tfplan') });
      assert.not.ok(after.changed, 'the VMs the file knew are known in the database: nothing to create');
    }, { secrets: [url] });
    assert.is(adopted.record.outcome, 'succeeded', adopted.output);
    assert.ok(existsSync(`${stateFile}.pushed`));
    assert.not.ok(existsSync(path.join(moduleDirectory, 'dropped.tf')));

    // And back (state pull): every workspace's state comes into the local backend's files, 0600; the
    // VMs are known there, nothing to create. A second pull does not overwrite them without --force.
    const config = { name: 'test' } as Environment;
    const pulled = await vmStatePull.pull({ config, url, stateDirectory, force: false });
    assert.equal(pulled, { ok: true, value: `pulled the VMs' OpenTofu state of 2 workspaces (osdc-a, osdc-b) from schema onboarder_tofu_test to ${path.join(stateDirectory, 'tofu')}` });
    assert.is(statSync(stateFile).mode & 0o777, 0o600);
    assert.not.ok(existsSync(`${stateFile}.pushed`), 'the pushed copy is superseded');
    const files = { dir: source, binary: 'terraform' };
    const back = await runBody(async (body) => {
      await tofuWorkspace(body, { ...files, name: 'osdc-b' });
      const plan = await tofuPlan(body, { ...files, workspace: 'osdc-b', vars: { name: 'osdc-b-cp1' }, out: path.join(source, 'back.tfplan') });
      assert.not.ok(plan.changed, 'the VMs the database knew are known in the files');
    });
    assert.is(back.record.outcome, 'succeeded', back.output);
    const again = await vmStatePull.pull({ config, url, stateDirectory, force: false });
    assert.equal(again, { ok: false, error: { message: `${path.join(stateDirectory, 'tofu', 'workspaces', 'osdc-a', 'terraform.tfstate')} already holds the VMs' state of workspace osdc-a (and 1 more)`, hint: "state pull with --force to replace it with the database's" } });
    assert.ok((await vmStatePull.pull({ config, url, stateDirectory, force: true })).ok);
    // A workspace whose name would leave the state directory is refused, and nothing is written for it.
    context.database.psql("INSERT INTO onboarder_tofu_test.states (name, data) VALUES ('../escape', '{}')", 'vms');
    const unsafe = await vmStatePull.pull({ config, url, stateDirectory, force: true });
    assert.equal(unsafe, { ok: false, error: { message: 'schema onboarder_tofu_test holds a workspace named "../escape", which is not a name a cluster has', hint: 'delete that workspace (tofu workspace delete), then pull again' } });
    assert.not.ok(existsSync(path.join(stateDirectory, 'tofu', 'escape')));
    const elsewhere = await vmStatePull.pull({ config: { name: 'other' } as Environment, url, stateDirectory, force: false });
    assert.equal(elsewhere, { ok: true, value: 'no VM state in PostgreSQL (schema onboarder_tofu_other): nothing to pull for OpenTofu' });
    // A database that does not answer (a loopback port nothing listens on): one line, the password masked.
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const unreachable = await vmStatePull.pull({ config, url: url.replace(/@127\.0\.0\.1:\d+\//, `@127.0.0.1:${closedPort}/`), stateDirectory, force: true });
    assert.not.ok(unreachable.ok);
    if (!unreachable.ok) {
      assert.match(unreachable.error.message, /^reading the VMs' OpenTofu state \(schema onboarder_tofu_test\) failed: .*ECONNREFUSED/);
      assert.not.match(unreachable.error.message, new URL(url).password);
      assert.is(unreachable.error.hint, 'check that the database answers, then pull again');
    }
  } finally {
    rmSync(source, { recursive: true, force: true });
  }
}));

test("the URL's password is in no output, log, record, nor in the database's tables", withTimeout(60_000, async (context) => {
  const { project: copy, env } = project(context, 'secrets');
  const outputs = [await copy.run(['osdc'], env), await copy.run(['--status', '--json'], env), await copy.run(['osdc', '--dry-run', '--verbose'], env), await copy.run(['--last-run'], env)];
  assert.is(outputs[0]!.code, 0, outputs[0]!.stderr);
  const texts = outputs.flatMap((output) => [output.stdout, output.stderr]);
  for (const directory of [copy.path('.cache', 'logs', 'test'), copy.path('.cache', 'state', 'test', 'runs')]) {
    const walk = (at: string): string[] => readdirSync(at, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(path.join(at, entry.name)) : entry.isFile() ? [readFileSync(path.join(at, entry.name), 'utf8')] : []));
    texts.push(...walk(directory));
  }
  texts.push(context.database.psql('SELECT string_agg(t::text, E\'\\n\') FROM (SELECT * FROM onboarder_tasks UNION ALL SELECT environment, run_id, record FROM onboarder_runs) t', 'secrets'));
  texts.push(context.database.psql("SELECT coalesce(string_agg(holder::text, ' '), '') FROM onboarder_locks", 'secrets'));
  assert.ok(texts.join('\n').includes('osdc'));
  for (const text of texts) assert.not.match(text, context.database.password);
}));

test.run();
