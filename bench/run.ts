// `npm run bench`: Onboarder next to GNU make and ninja on the same generated graphs. Prints, per case and
// tool, makespan / lower bound, overhead per task, the no-op re-run time against a bare tsx start, and the
// peak memory of a 10,000-task graph. Results are measurements, never test assertions.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { emitOutputProject, emitProjects } from './emit-projects.js';
import { chainPlusFan, layered, lowerBound, noOps, wide, type Workload } from './workloads.js';

const benchDirectory = path.dirname(new URL(import.meta.url).pathname);
const workDirectory = path.join(benchDirectory, '.work');
const only = process.argv.slice(2);

// Deleting thousands of files just before a measured run slowed that run's own file creation by up to 10x
// on this ext4 disk (the deletes' journal and discard work lands in it). Outputs of earlier runs are moved
// aside instead, one rename, and deleted when the benchmark ends.
const trashDirectory = path.join(workDirectory, '.trash');
let trashed = 0;
function moveAside(target: string): void {
  if (!existsSync(target)) return;
  mkdirSync(trashDirectory, { recursive: true });
  renameSync(target, path.join(trashDirectory, String(trashed++)));
}
rmSync(trashDirectory, { recursive: true, force: true });
// Commit the deletes of an earlier benchmark before anything is measured.
execFileSync('sync');

interface Timing {
  readonly wallSeconds: number;
  readonly makespanSeconds: number;
  readonly peakKiB?: number;
}

function timed(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { seconds: number; status: number | null } {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return { seconds, status: result.status };
}

function runMake(directory: string, parallelism: number): Timing {
  moveAside(path.join(directory, 'out'));
  execFileSync('mkdir', ['-p', path.join(directory, 'out')]);
  const { seconds } = timed('make', ['-s', `-j${parallelism}`], directory);
  return { wallSeconds: seconds, makespanSeconds: seconds };
}

function runNinja(directory: string, parallelism: number): Timing {
  moveAside(path.join(directory, 'out'));
  rmSync(path.join(directory, '.ninja_log'), { force: true });
  rmSync(path.join(directory, '.ninja_deps'), { force: true });
  const { seconds } = timed('ninja', ['-j', String(parallelism)], directory);
  return { wallSeconds: seconds, makespanSeconds: seconds };
}

function runOnboarder(directory: string, args: string[], env: NodeJS.ProcessEnv = {}): Timing {
  const rssFile = path.join(directory, 'rss.txt');
  const { seconds } = timed(process.execPath, ['--import', 'tsx', '--import', path.join(benchDirectory, 'report-rss.mjs'), 'deploy.ts', ...args], directory, {
    BENCH_RSS_FILE: rssFile,
    NO_COLOR: '1',
    ...env,
  });
  const peakKiB = Number(readFileSync(rssFile, 'utf8'));
  if (args.includes('--dry-run')) return { wallSeconds: seconds, makespanSeconds: seconds, peakKiB };
  const runs = path.join(directory, '.cache', 'state', 'bench', 'runs');
  const last = readdirSync(runs).sort().at(-1)!;
  const record = JSON.parse(readFileSync(path.join(runs, last), 'utf8')) as { durationMs: number };
  return { wallSeconds: seconds, makespanSeconds: record.durationMs / 1000, peakKiB };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const results: Record<string, unknown> = { machine: `${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`, node: process.version, date: new Date().toISOString() };
const lines: string[] = [];
const print = (line: string) => {
  lines.push(line);
  console.log(line);
};

function prepare(workload: Workload): string {
  const directory = path.join(workDirectory, workload.name);
  moveAside(directory);
  emitProjects(workload, directory, path.relative(directory, path.join(benchDirectory, '..', 'lib')));
  return directory;
}

/** Runs each measurement `rounds` times, interleaved across tools so drift in the machine hits all alike. */
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));

/** The run whose makespan is the median of its rounds. */
function medianTiming(timings: Timing[]): Timing {
  return [...timings].sort((a, b) => a.makespanSeconds - b.makespanSeconds)[Math.floor(timings.length / 2)]!;
}

function spread(timings: Timing[], scale: (timing: Timing) => number): string {
  const values = timings.map(scale).sort((a, b) => a - b);
  return timings.length > 1 ? ` (rounds ${values[0]!.toFixed(2)}-${values.at(-1)!.toFixed(2)})` : '';
}

function compareSchedulers(workload: Workload): void {
  const directory = prepare(workload);
  const { bound, criticalPath, totalWork } = lowerBound(workload);
  const P = workload.parallelism;
  const measured: Record<'make' | 'ninja' | 'first' | 'second', Timing[]> = { make: [], ninja: [], first: [], second: [] };
  for (let round = 0; round < rounds; round++) {
    measured.make.push(runMake(directory, P));
    measured.ninja.push(runNinja(directory, P));
    // Run 1 has no duration history (a fresh state); run 2 orders by the durations run 1 recorded.
    moveAside(path.join(directory, '.cache'));
    measured.first.push(runOnboarder(directory, ['all', '-j', String(P), '--force-all']));
    measured.second.push(runOnboarder(directory, ['all', '-j', String(P), '--force-all']));
  }
  print(`\n${workload.name}: ${workload.tasks.length} tasks, P=${P}, critical path ${criticalPath.toFixed(2)}s, work ${totalWork.toFixed(2)}s, lower bound ${bound.toFixed(2)}s; median of ${rounds} rounds`);
  const row = (tool: string, timings: Timing[]) => {
    const timing = medianTiming(timings);
    print(`  ${tool.padEnd(22)} makespan ${timing.makespanSeconds.toFixed(2)}s  ratio ${(timing.makespanSeconds / bound).toFixed(3)}x${spread(timings, (each) => each.makespanSeconds / bound)}`);
  };
  row('make', measured.make);
  row('ninja', measured.ninja);
  row('onboarder run 1', measured.first);
  row('onboarder run 2', measured.second);
  results[workload.name] = { bound, rounds: measured };
}

function compareOverhead(): void {
  const workload = noOps(2000, 2);
  const directory = prepare(workload);
  // Each body on a fresh state, so every task runs: argv (runCommand, no shell), zx's $ (bash -c), and no
  // process at all (the engine's own cost per task).
  const fresh = (body: string, env: NodeJS.ProcessEnv = {}) => {
    moveAside(path.join(directory, '.cache'));
    return runOnboarder(directory, ['all', '-j', '2'], { BENCH_BODY: body, ...env });
  };
  const measured: Record<'make' | 'ninja' | 'argv' | 'zx' | 'empty', Timing[]> = { make: [], ninja: [], argv: [], zx: [], empty: [] };
  for (let round = 0; round < rounds; round++) {
    measured.make.push(runMake(directory, 2));
    measured.ninja.push(runNinja(directory, 2));
    measured.argv.push(fresh('argv'));
    measured.zx.push(fresh('zx'));
    measured.empty.push(fresh('empty'));
  }
  const perTask = (timing: Timing) => (timing.makespanSeconds * 2 * 1000) / workload.tasks.length;
  const make = perTask(medianTiming(measured.make));
  print(`\n2000 no-op process tasks, P=2: time per task per slot, median of ${rounds} rounds`);
  const row = (label: string, timings: Timing[], compare: boolean) => {
    const value = perTask(medianTiming(timings));
    print(`  ${label.padEnd(22)} ${value.toFixed(2)} ms${compare ? `  (${(value / make).toFixed(2)}x make)` : ''}${spread(timings, perTask)}`);
  };
  row('make', measured.make, false);
  row('ninja', measured.ninja, false);
  row('onboarder runCommand', measured.argv, true);
  row('onboarder zx $', measured.zx, true);
  row('onboarder, no process', measured.empty, false);

  const emptyFile = path.join(directory, 'empty.ts');
  writeFileSync(emptyFile, '');
  // The first re-run finds everything up to date and remembers the tool versions; the measured ones are
  // the same. Interleaved with the bare starts, 11 of each: a bare start drifts by 10% within a minute here.
  runOnboarder(directory, ['all', '-j', '2']);
  const samples = { bare: [] as number[], rerun: [] as number[] };
  for (let index = 0; index < 11; index++) {
    samples.bare.push(timed(process.execPath, ['--import', 'tsx', emptyFile], directory).seconds);
    samples.rerun.push(runOnboarder(directory, ['all', '-j', '2']).wallSeconds);
  }
  const [bare, rerun] = [median(samples.bare), median(samples.rerun)];
  print(`  no-op re-run of 2000 stamped tasks ${rerun.toFixed(3)}s vs bare tsx start ${bare.toFixed(3)}s: ${(rerun / bare).toFixed(2)}x (medians of 11, interleaved)`);
  results.noOps = { rounds: measured, perTaskMs: Object.fromEntries(Object.entries(measured).map(([tool, timings]) => [tool, perTask(medianTiming(timings))])), rerunSeconds: rerun, bareTsxSeconds: bare };
}

function measureMemory(): void {
  const workload = noOps(10_000, 4);
  const directory = prepare(workload);
  const measured: Record<'plan' | 'run' | 'rerun', Timing[]> = { plan: [], run: [], rerun: [] };
  for (let round = 0; round < rounds; round++) {
    moveAside(path.join(directory, '.cache'));
    measured.plan.push(runOnboarder(directory, ['all', '--dry-run']));
    measured.run.push(runOnboarder(directory, ['all', '-j', '4']));
    measured.rerun.push(runOnboarder(directory, ['all', '-j', '4']));
  }
  const megabytes = (timing: Timing) => timing.peakKiB! / 1024;
  const describe = (timings: Timing[]) => {
    const values = timings.map(megabytes).sort((a, b) => a - b);
    return `${median(values).toFixed(0)} MB (max ${values.at(-1)!.toFixed(0)})`;
  };
  print(`\n10,000-task graph, peak RSS, median of ${rounds} rounds: dry-run ${describe(measured.plan)}, first run ${describe(measured.run)} in ${median(measured.run.map((timing) => timing.wallSeconds)).toFixed(1)}s, re-run ${describe(measured.rerun)} in ${median(measured.rerun.map((timing) => timing.wallSeconds)).toFixed(2)}s`);
  results.tenThousand = measured;
}

/**
 * A task whose program prints 2,000,000 lines (132 MB) as fast as it can, as a -vvvv playbook or a log dump
 * would: wall time and the engine's peak memory, with runCommand keeping the whole output or only its tail
 * (keepOutput 'tail'), and with the output interleaved or grouped (--output group holds it until the task
 * ends). The engine reads a chunk only after writing the last (tested in test/e2e/output.test.ts).
 */
function measureOutput(): void {
  const directory = path.join(workDirectory, 'output');
  const lines = 2_000_000;
  emitOutputProject(directory, path.relative(directory, path.join(benchDirectory, '..', 'lib')), lines);
  const variants = [
    ['whole output kept, interleaved', 'all', 'interleaved'],
    ["keepOutput 'tail', interleaved", 'tail', 'interleaved'],
    ["keepOutput 'tail', --output group", 'tail', 'group'],
  ] as const;
  const measured = new Map<string, Timing[]>(variants.map(([label]) => [label, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [label, keep, output] of variants) {
      moveAside(path.join(directory, '.cache'));
      measured.get(label)!.push(runOnboarder(directory, ['print', '--output', output], { BENCH_KEEP: keep }));
    }
  }
  print(`\na task printing ${lines.toLocaleString('en')} lines (132 MB), medians of ${rounds} rounds`);
  for (const [label, timings] of measured) {
    const wall = median(timings.map((timing) => timing.wallSeconds));
    const peak = median(timings.map((timing) => timing.peakKiB! / 1024));
    print(`  ${label.padEnd(34)} ${wall.toFixed(2)}s (${((lines / wall) / 1000).toFixed(0)}k lines/s), engine peak ${peak.toFixed(0)} MB`);
  }
  results.output = Object.fromEntries(measured);
}

/**
 * What an operator waits for on the repository's own project (the example environment, 24 tasks for osdc):
 * `--status` and the main job's dry run, next to a bare tsx start. Mostly module loading: zod (95 modules
 * through tsx's loader), the engine, the task files; and a process per tool version not remembered yet.
 */
function measureExampleProject(): void {
  const root = path.dirname(benchDirectory);
  const emptyFile = path.join(workDirectory, 'empty.ts');
  mkdirSync(workDirectory, { recursive: true });
  writeFileSync(emptyFile, '');
  // The first call remembers tool versions (.cache/tool-versions.json); the measured ones find them.
  timed(process.execPath, ['--import', 'tsx', 'deploy.ts', '--status'], root);
  const measure = (args: string[], env: NodeJS.ProcessEnv = {}) => median(Array.from({ length: 5 }, () => timed(process.execPath, ['--import', 'tsx', ...args], root, env).seconds));
  const bare = measure([emptyFile]);
  const status = measure(['deploy.ts', '--status']);
  const plan = measure(['deploy.ts', 'osdc', '--dry-run']);
  print('\nexample project (environments/example), wall time, medians of 5');
  print(`  bare tsx start            ${bare.toFixed(3)}s`);
  print(`  --status                  ${status.toFixed(3)}s (${(status / bare).toFixed(2)}x)`);
  print(`  osdc --dry-run            ${plan.toFixed(3)}s (${(plan / bare).toFixed(2)}x)`);
  results.example = { bareTsxSeconds: bare, statusSeconds: status, dryRunSeconds: plan };
}

/** The example's proxmox-k8s flow scheduled from the tasks' estimates (issue 17: makespan <= 60 min). */
async function measureCatalog(): Promise<void> {
  const { catalogMakespan, exampleSite } = await import('./catalog-makespan.js');
  const result = catalogMakespan();
  print(`\nthe example's proxmox-k8s (${result.tasks} tasks) from the tasks' estimates, default concurrency and pools: makespan ${result.makespanMinutes.toFixed(1)} min, critical path ${result.criticalPathMinutes.toFixed(1)} min, all estimates one after another ${result.sequentialMinutes.toFixed(1)} min`);
  print(`  critical path: ${result.criticalPath.join(' -> ')}`);
  // The fan-out: the same site with one data cluster fewer. A second data cluster should cost less than its own chain.
  const oneDataCluster = catalogMakespan('proxmox-k8s', undefined, exampleSite(['osdc-b']));
  const ownChain = catalogMakespan('cluster[name=osdc-b]').criticalPathMinutes - catalogMakespan('golden-image').criticalPathMinutes;
  print(`  with one data cluster: makespan ${oneDataCluster.makespanMinutes.toFixed(1)} min; the second adds ${(result.makespanMinutes - oneDataCluster.makespanMinutes).toFixed(1)} min, its own chain after the golden image is ${ownChain.toFixed(1)} min`);
  results.catalog = { ...result, oneDataClusterMakespanMinutes: oneDataCluster.makespanMinutes, secondDataClusterChainMinutes: ownChain };
}

async function measureAnsible(): Promise<void> {
  const { measureAnsibleSettings } = await import('./ansible-settings.js');
  const counts = (process.env.BENCH_ANSIBLE_HOSTS ?? '5,20').split(',').map(Number);
  const measured = [];
  const labels = { defaults: "Ansible's defaults", onboarder: "Onboarder's settings", perCluster: 'one playbook over every host per step' } as const;
  for (const count of counts) {
    const result = await measureAnsibleSettings(count);
    measured.push(result);
    print(`\nnode steps on ${count} whole-machine hosts (two playbooks per host, 10 at once), fresh hosts per setting: wall seconds (controller CPU seconds)`);
    for (const [setting, label] of Object.entries(labels) as [keyof typeof labels, string][]) {
      const { first, rerun } = result.settings[setting];
      print(`  ${label.padEnd(40)} first run ${first.seconds.toFixed(1)} s (${first.cpuSeconds.toFixed(1)} s), re-run ${rerun.seconds.toFixed(1)} s (${rerun.cpuSeconds.toFixed(1)} s)`);
    }
  }
  results.ansible = measured;
}

/**
 * The state in PostgreSQL (issue 21) against the state in files, with a PostgreSQL 15 on this machine that
 * commits to disk (fsync on): a first run of 2,000 no-op tasks (one state write per task, the worst case for
 * a store), and no-op re-runs of a project of the catalog's size (70 tasks) and of 2,000 tasks. Every run
 * starts from a fresh .cache; a first run on PostgreSQL from a fresh database.
 */
async function measureStateStores(): Promise<void> {
  const { TestPostgres } = await import('../test/helpers/postgres.js');
  const database = await TestPostgres.start({ durable: true });
  try {
    let databases = 0;
    const freshUrl = () => database.newDatabase(`bench_${databases++}`);
    const big = prepare(noOps(2000, 2));
    const first = { file: [] as Timing[], postgres: [] as Timing[] };
    for (let round = 0; round < rounds; round++) {
      moveAside(path.join(big, '.cache'));
      first.file.push(runOnboarder(big, ['all', '-j', '2']));
      moveAside(path.join(big, '.cache'));
      first.postgres.push(runOnboarder(big, ['all', '-j', '2'], { BENCH_STATE_URL: freshUrl() }));
    }
    const [file, postgres] = [medianTiming(first.file), medianTiming(first.postgres)];
    print(`
state store: PostgreSQL 15 on this machine (fsync on) against files; median of ${rounds} rounds`);
    print(`  first run of 2000 no-op tasks, P=2: files ${file.makespanSeconds.toFixed(2)}s${spread(first.file, (each) => each.makespanSeconds)}, PostgreSQL ${postgres.makespanSeconds.toFixed(2)}s${spread(first.postgres, (each) => each.makespanSeconds)}: ${(((postgres.makespanSeconds / file.makespanSeconds) - 1) * 100).toFixed(1)}% (target: within 10%)`);
    const reruns: Record<string, { file: number; postgres: number }> = {};
    for (const [label, directory] of [['70 tasks (the catalog\'s size)', prepare(noOps(70, 2))], ['2000 tasks', big]] as const) {
      // One stamped state in each store, then re-runs interleaved: each finds everything up to date.
      moveAside(path.join(directory, '.cache'));
      runOnboarder(directory, ['all', '-j', '2']);
      const url = freshUrl();
      runOnboarder(directory, ['all', '-j', '2'], { BENCH_STATE_URL: url });
      const samples = { file: [] as number[], postgres: [] as number[] };
      for (let index = 0; index < 11; index++) {
        samples.file.push(runOnboarder(directory, ['all', '-j', '2']).wallSeconds);
        samples.postgres.push(runOnboarder(directory, ['all', '-j', '2'], { BENCH_STATE_URL: url }).wallSeconds);
      }
      const measured = { file: median(samples.file), postgres: median(samples.postgres) };
      reruns[label] = measured;
      print(`  no-op re-run of ${label}: files ${measured.file.toFixed(3)}s, PostgreSQL ${measured.postgres.toFixed(3)}s: ${((measured.postgres - measured.file) * 1000).toFixed(0)} ms more (target: within 100 ms; medians of 11, interleaved)`);
    }
    results.stateStores = { firstRun: first, reruns };
  } finally {
    await database.remove();
  }
}

const cases: Record<string, () => void | Promise<void>> = {
  'chain-plus-fan': () => compareSchedulers(chainPlusFan()),
  layered: () => compareSchedulers(layered()),
  wide: () => compareSchedulers(wide()),
  overhead: compareOverhead,
  memory: measureMemory,
  example: measureExampleProject,
  output: measureOutput,
  catalog: measureCatalog,
  ansible: measureAnsible,
  state: measureStateStores,
};
print(`onboarder benchmark: ${results.machine as string}, node ${process.version}, ${results.date as string}`);
for (const [name, run] of Object.entries(cases)) if (only.length === 0 || only.includes(name)) await run();
mkdirSync(workDirectory, { recursive: true });
writeFileSync(path.join(workDirectory, 'results.json'), JSON.stringify(results, null, 2));
writeFileSync(path.join(workDirectory, 'results.txt'), `${lines.join('\n')}\n`);
rmSync(trashDirectory, { recursive: true, force: true });
