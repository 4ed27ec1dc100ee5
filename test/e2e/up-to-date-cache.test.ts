// The up-to-date cache (lib/cli/up-to-date-cache.ts): a re-run with nothing changed is answered without
// loading the project; anything the cached run read that changes makes the next run decide afresh.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FixtureProject, processesMatching, waitFor, withTimeout, type CliResult } from '../helpers/project.js';

/** The fixture with a counter of how often its task module is loaded. */
function counted(): { project: FixtureProject; loads: () => number; run: (args: string[], env?: Record<string, string>) => Promise<CliResult> } {
  const project = FixtureProject.copy('basic');
  const file = project.path('loads.txt');
  return {
    project,
    loads: () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0),
    run: async (args, env = {}) => {
      const result = await project.run(args, { ONBOARDER_TEST_LOADS: file, ...env });
      assert.is(result.code, 0, result.stdout + result.stderr);
      return result;
    },
  };
}

/** The cache's entries (the directory also holds the replay's compiled modules). */
const cacheEntries = (project: FixtureProject) => readdirSync(project.path('.cache', 'up-to-date')).filter((name) => name.endsWith('.json'));

/** Output with its run id and times taken out: "in 45ms", "(12ms)". */
const timeless = (text: string) => text.replace(/^run \S+:/m, 'run ID:').replace(/\d+(\.\d+)?(ms|s)\b/g, 'T');

test('a re-run with nothing changed is answered from the cache: the same report, a new run record, the project not loaded', withTimeout(90_000, async () => {
  const { project, loads, run } = counted();
  try {
    await run(['osms']);
    assert.equal(project.takeTrace(), ['deploy-cluster[cluster=osms]', 'node-prep:copy-ssh-key', 'validate']);
    const upToDate = await run(['osms']);
    assert.is(loads(), 2);
    const entries = cacheEntries(project);
    assert.is(entries.length, 1);
    assert.is(statSync(project.path('.cache', 'up-to-date', entries[0]!)).mode & 0o777, 0o600);
    const firstRecord = (await run(['--summary'])).stdout.split('\n')[0];

    const replayed = await run(['osms']);
    assert.is(loads(), 2, 'neither the --summary above nor the replay loaded the project');
    assert.equal(project.takeTrace(), []);
    assert.is(timeless(replayed.stdout), timeless(upToDate.stdout));
    assert.match(replayed.stdout, '[deploy-cluster[cluster=osms]] up to date');
    // A run record of its own, as for any run; like any run that only found tasks up to date, no logs: the
    // log directory's latest link still leads to the run that wrote some.
    const latestLogs = readlinkSync(project.path('.cache', 'logs', 'test', 'latest'));
    const summary = (await run(['--summary'])).stdout;
    const runId = /^run (\S+) /.exec(summary)?.[1];
    assert.ok(runId && !firstRecord!.includes(runId), summary);
    assert.match(summary, 'succeeded: 0 ran, 4 skipped');
    assert.is.not(latestLogs, runId);
    assert.not.ok(existsSync(project.path('.cache', 'logs', 'test', runId!)));

    // Another command keeps an entry of its own: alternating between the two, both are answered from it.
    await run(['validate']);
    const settled = loads();
    await run(['osms']);
    await run(['validate']);
    await run(['osms']);
    assert.is(loads(), settled);
    assert.is(cacheEntries(project).length, 2);

    // --json: the same events, in the same order, with the run's own id and times.
    const events = (result: CliResult) => result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    const recorded = events(await run(['osms', '--json']));
    const before = loads();
    const answered = events(await run(['osms', '--json']));
    assert.is(loads(), before);
    const shape = (list: { type: string; task?: string; why?: unknown }[]) => list.map(({ type, task, why }) => ({ type, task, why }));
    assert.equal(shape(answered), shape(recorded));
    assert.is.not(answered[0].runId, recorded[0].runId);
    assert.equal(answered.at(-1).record.counts, recorded.at(-1).record.counts);
  } finally {
    project.remove();
  }
}));

test("a replay loads its modules from one compiled file, named by its digest; a file that does not match its name is not loaded; files no entry names are removed", withTimeout(90_000, async () => {
  const { project, loads, run } = counted();
  try {
    await run(['osms']);
    const upToDate = await run(['osms']);
    const directory = project.path('.cache', 'up-to-date');
    const [entryName] = cacheEntries(project);
    const entryFile = path.join(directory, entryName!);
    const entry = JSON.parse(readFileSync(entryFile, 'utf8')) as { replayBundle?: string };
    const bundle = path.join(directory, entry.replayBundle ?? 'none');
    assert.match(entry.replayBundle ?? '', /^replay-[0-9a-f]{64}\.mjs$/);
    assert.is(statSync(bundle).mode & 0o777, 0o600);
    assert.is(createHash('sha256').update(readFileSync(bundle)).digest('hex'), /replay-(\w+)\.mjs/.exec(entry.replayBundle!)![1]);
    const replayed = await run(['osms']);
    assert.is(timeless(replayed.stdout), timeless(upToDate.stdout));

    // The replay runs what the named file holds: a stand-in under its own digest's name is what answers.
    const standIn = "export function tolerateClosedOutput() {}\nexport async function replayUpToDateRun() { process.stdout.write('answered by the stand-in\\n'); return 0; }\n";
    const standInName = `replay-${createHash('sha256').update(standIn).digest('hex')}.mjs`;
    writeFileSync(path.join(directory, standInName), standIn);
    writeFileSync(entryFile, JSON.stringify({ ...entry, replayBundle: standInName }));
    assert.is((await run(['osms'])).stdout, 'answered by the stand-in\n');
    // Changed after it was named (a disk error, a hand edit): not loaded; the modules themselves answer.
    appendFileSync(path.join(directory, standInName), '// changed\n');
    const fallback = await run(['osms']);
    assert.is(timeless(fallback.stdout), timeless(upToDate.stdout));
    assert.is(loads(), 2, 'the project was not loaded by any replay');

    // The next entry saved removes the bundles no entry names (the stand-in, the stray); the named one stays.
    const stray = path.join(directory, `replay-${'0'.repeat(64)}.mjs`);
    writeFileSync(stray, '');
    writeFileSync(entryFile, JSON.stringify(entry));
    await run(['validate']);
    await run(['validate']);
    assert.equal(readdirSync(directory).filter((name) => name.endsWith('.mjs')), [entry.replayBundle]);
  } finally {
    project.remove();
  }
}));

test('each thing the cached run read, changed, makes the next run load the project and decide afresh', withTimeout(120_000, async () => {
  const { project, loads, run } = counted();
  // Runs until the cache answers (the project not loaded): the ids of the tasks that ran on the way, and
  // whether the first run loaded the project.
  const settle = async (env: Record<string, string> = {}) => {
    const ran = new Set<string>();
    const first = loads();
    for (let attempt = 0; attempt < 6; attempt++) {
      const before = loads();
      await run(['osms'], env);
      for (const id of project.takeTrace()) ran.add(id);
      if (loads() === before) return { ran: [...ran].sort(), loaded: before > first || attempt > 0 };
    }
    assert.unreachable('the cache never answered');
    return { ran: [], loaded: false };
  };
  const shared = `${project.directory}-shared.ts`;
  try {
    await settle();

    const config = JSON.parse(readFileSync(project.path('config.json'), 'utf8'));
    config.clusters.osms.nodes = 5;
    writeFileSync(project.path('config.json'), JSON.stringify(config));
    assert.equal(await settle(), { ran: ['deploy-cluster[cluster=osms]'], loaded: true }, 'a configuration file the environment loader read');

    writeFileSync(project.path('files', 'key.pub'), 'ssh-ed25519 BBBB changed\n');
    assert.equal(await settle(), { ran: ['deploy-cluster[cluster=osms]', 'node-prep:copy-ssh-key'], loaded: true }, 'a file a task declares in its sources (and its dependent, whose dependency changed)');

    appendFileSync(project.path('tasks.ts'), '\n// edited\n');
    assert.equal(await settle(), { ran: [], loaded: true }, 'a module of the project');

    assert.equal(await settle({ SOME_VARIABLE: 'set' }), { ran: [], loaded: true }, 'an environment variable');

    assert.is((await project.run(['--reset', 'validate'])).code, 0);
    assert.equal(await settle({ SOME_VARIABLE: 'set' }), { ran: ['validate'], loaded: true }, 'a stamp reset');

    // A module outside the project and the engine, found only by watching what is loaded.
    writeFileSync(shared, 'export const shared = 1;\n');
    appendFileSync(project.path('tasks.ts'), `import '../${path.basename(shared, '.ts')}.js';\n`);
    assert.equal((await settle()).loaded, true);
    writeFileSync(shared, 'export const shared = 2;\n');
    assert.equal(await settle(), { ran: [], loaded: true }, 'a module the project imports from outside it');
  } finally {
    rmSync(shared, { force: true });
    project.remove();
  }
}));

test('--status, --list, --graph and --dry-run are answered from the cache while what they read is unchanged; a run that changes the state changes --status and the plan', withTimeout(90_000, async () => {
  const { project, loads, run } = counted();
  try {
    await run(['osms']);
    for (const args of [['--status'], ['--status', '--json'], ['--list'], ['--graph', 'osms'], ['osms', '--dry-run'], ['osms', '--dry-run', '--json']]) {
      const first = await run(args);
      const before = loads();
      const again = await run(args);
      assert.is(loads(), before, `${args.join(' ')} loaded the project again`);
      assert.is(again.stdout, first.stdout);
    }
    const status = (await run(['--status'])).stdout;
    assert.match(status, /^validate\s+done/m);
    assert.is((await project.run(['--reset', 'validate'])).code, 0);
    const before = loads();
    const changed = (await run(['--status'])).stdout;
    assert.is(loads(), before + 1, 'the state changed: --status decides afresh');
    assert.match(changed, /^validate\s+pending/m);
    const plan = (await run(['osms', '--dry-run'])).stdout;
    assert.is(loads(), before + 2, 'the state changed: the plan is made afresh');
    assert.match(plan, /^\s+\d+\s+validate\s+run\s/m);
    // A plan that cannot be made (a declared source is missing, and no task before it would make it) exits
    // non-zero, and is made afresh each time.
    await run(['validate']);
    rmSync(project.path('files', 'key.pub'));
    for (let attempt = 0; attempt < 2; attempt++) {
      const loadsBefore = loads();
      const failed = await project.run(['osms', '--dry-run'], { ONBOARDER_TEST_LOADS: project.path('loads.txt') });
      assert.is(failed.code, 2, failed.stdout + failed.stderr);
      assert.match(failed.stdout, /copy-ssh-key\s+fail\s/);
      assert.is(loads(), loadsBefore + 1, 'a failed plan is not answered from the cache');
    }
  } finally {
    project.remove();
  }
}));

test("the temp directory changing between runs does not stop the cache answering (a run lists it only to clean up killed runs' scratch)", withTimeout(60_000, async () => {
  const { project, loads, run } = counted();
  const tmp = project.path('tmp');
  mkdirSync(tmp);
  const env = { TMPDIR: tmp };
  try {
    await run(['osms'], env);
    await run(['osms'], env);
    const before = loads();
    writeFileSync(path.join(tmp, 'something-else'), '');
    await run(['osms'], env);
    assert.is(loads(), before, 'answered from the cache');
  } finally {
    project.remove();
  }
}));

test('a re-run the cache could answer while another run holds the lock is refused with the holder, as any run', withTimeout(60_000, async () => {
  const { project, loads, run } = counted();
  const marker = `36.${process.pid}7`;
  const env = { ONBOARDER_TEST_LOADS: project.path('loads.txt') };
  try {
    await run(['osms']);
    await run(['osms']);
    const before = loads();
    await run(['osms']);
    assert.is(loads(), before, 'answered from the cache');
    const holder = project.start(['slow'], { SLOW_SECONDS: marker });
    await waitFor(() => processesMatching(`sleep ${marker}`).length >= 2);
    const refused = await project.run(['osms'], env);
    assert.is(refused.code, 2);
    assert.match(refused.stderr, new RegExp(`another run holds .*run.lock \\(pid ${holder.pid} on `));
    process.kill(-holder.pid!, 'SIGKILL');
    for (const pid of processesMatching(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
    const after = await project.run(['osms'], env);
    assert.is(after.code, 0, after.stderr);
    assert.match(after.stderr, 'warning: took over the lock of run');
    assert.match(after.stdout, '[osms] up to date');
  } finally {
    project.remove();
  }
}));

test('--help, --version and --summary are answered without loading the project', withTimeout(60_000, async () => {
  const { project, loads, run } = counted();
  try {
    await run(['osms']);
    const before = loads();
    assert.match((await run(['--help'])).stdout, '--summary');
    assert.is((await run(['--version'])).stdout, 'onboarder 0.0.0-test\n');
    assert.match((await run(['--summary'])).stdout, /^succeeded: 4 ran, 0 skipped/m);
    assert.is(loads(), before);
    // A target with --summary is checked against the catalog, as before.
    const unknown = await project.run(['--summary', 'no-such-task']);
    assert.is(unknown.code, 2);
    assert.match(unknown.stderr, "unknown task 'no-such-task'");
  } finally {
    project.remove();
  }
}));

test('a run that started a program while deciding, or whose tasks probe drift, or with the cache off, is never answered from it', withTimeout(120_000, async () => {
  const { project, loads, run } = counted();
  try {
    const threeRuns = async (args: string[], env: Record<string, string> = {}) => {
      const before = loads();
      for (let index = 0; index < 3; index++) await run(args, env);
      return loads() - before;
    };
    assert.is(await threeRuns(['osms'], { LOADER_RUNS_PROGRAM: '1' }), 3);
    assert.not.ok(existsSync(project.path('.cache', 'up-to-date')));
    // osdc depends on template, whose drift probe must run every time.
    assert.is(await threeRuns(['osdc']), 3);
    assert.not.ok(existsSync(project.path('.cache', 'up-to-date')));
    assert.is(await threeRuns(['osms'], { ONBOARDER_UP_TO_DATE_CACHE: '0' }), 3);
    assert.not.ok(existsSync(project.path('.cache', 'up-to-date')));
  } finally {
    project.remove();
  }
}));

test.run();
