// `npm run bench`: Onboarder next to GNU make and ninja on the same generated graphs. Prints, per case and
// tool, makespan / lower bound, overhead per task, the no-op re-run time against a bare tsx start, and the
// peak memory of a 10,000-task graph. Results are measurements, never test assertions.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { emitProjects } from './emit-projects.js';
import { chainPlusFan, layered, lowerBound, noOps, type Workload } from './workloads.js';

const benchDirectory = path.dirname(new URL(import.meta.url).pathname);
const workDirectory = path.join(benchDirectory, '.work');
const only = process.argv.slice(2);

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
  rmSync(path.join(directory, 'out'), { recursive: true, force: true });
  execFileSync('mkdir', ['-p', path.join(directory, 'out')]);
  const { seconds } = timed('make', ['-s', `-j${parallelism}`], directory);
  return { wallSeconds: seconds, makespanSeconds: seconds };
}

function runNinja(directory: string, parallelism: number): Timing {
  rmSync(path.join(directory, 'out'), { recursive: true, force: true });
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
  rmSync(directory, { recursive: true, force: true });
  emitProjects(workload, directory, path.relative(directory, path.join(benchDirectory, '..', 'lib')));
  return directory;
}

function compareSchedulers(workload: Workload): void {
  const directory = prepare(workload);
  const { bound, criticalPath, totalWork } = lowerBound(workload);
  const P = workload.parallelism;
  const make = runMake(directory, P);
  const ninja = runNinja(directory, P);
  const first = runOnboarder(directory, ['all', '-j', String(P), '--force-all']);
  const second = runOnboarder(directory, ['all', '-j', String(P), '--force-all']);
  print(`\n${workload.name}: ${workload.tasks.length} tasks, P=${P}, critical path ${criticalPath.toFixed(2)}s, work ${totalWork.toFixed(2)}s, lower bound ${bound.toFixed(2)}s`);
  const row = (tool: string, timing: Timing) =>
    print(`  ${tool.padEnd(22)} makespan ${timing.makespanSeconds.toFixed(2)}s  ratio ${(timing.makespanSeconds / bound).toFixed(3)}x  (wall ${timing.wallSeconds.toFixed(2)}s)`);
  row('make', make);
  row('ninja', ninja);
  row('onboarder run 1', first);
  row('onboarder run 2', second);
  results[workload.name] = { bound, make, ninja, onboarderFirst: first, onboarderSecond: second };
}

function compareOverhead(): void {
  const workload = noOps(2000, 2);
  const directory = prepare(workload);
  const make = runMake(directory, 2);
  const ninja = runNinja(directory, 2);
  // Each body on a fresh state, so every task runs: argv (runCommand, no shell), zx's $ (bash -c), and no
  // process at all (the engine's own cost per task).
  const fresh = (body: string) => {
    rmSync(path.join(directory, '.cache'), { recursive: true, force: true });
    return runOnboarder(directory, ['all', '-j', '2'], { BENCH_BODY: body });
  };
  const onboarder = fresh('argv');
  const zx = fresh('zx');
  const empty = fresh('empty');
  const perTask = (timing: Timing) => (timing.makespanSeconds * 2 * 1000) / workload.tasks.length;
  print(`\n2000 no-op process tasks, P=2: time per task per slot`);
  print(`  make                   ${perTask(make).toFixed(2)} ms`);
  print(`  ninja                  ${perTask(ninja).toFixed(2)} ms`);
  print(`  onboarder runCommand   ${perTask(onboarder).toFixed(2)} ms  (${(perTask(onboarder) / perTask(make)).toFixed(2)}x make)`);
  print(`  onboarder zx $         ${perTask(zx).toFixed(2)} ms  (${(perTask(zx) / perTask(make)).toFixed(2)}x make)`);
  print(`  onboarder, no process  ${perTask(empty).toFixed(2)} ms`);

  const emptyFile = path.join(directory, 'empty.ts');
  writeFileSync(emptyFile, '');
  const bare = median(Array.from({ length: 5 }, () => timed(process.execPath, ['--import', 'tsx', emptyFile], directory).seconds));
  const rerun = median(Array.from({ length: 5 }, () => runOnboarder(directory, ['all', '-j', '2']).wallSeconds));
  print(`  no-op re-run of 2000 stamped tasks ${rerun.toFixed(3)}s vs bare tsx start ${bare.toFixed(3)}s: ${(rerun / bare).toFixed(2)}x`);
  results.noOps = { make, ninja, onboarder, zx, empty, perTaskMs: { make: perTask(make), ninja: perTask(ninja), onboarder: perTask(onboarder), zx: perTask(zx), empty: perTask(empty) }, rerunSeconds: rerun, bareTsxSeconds: bare };
}

function measureMemory(): void {
  const workload = noOps(10_000, 4);
  const directory = prepare(workload);
  const plan = runOnboarder(directory, ['all', '--dry-run']);
  const run = runOnboarder(directory, ['all', '-j', '4']);
  const rerun = runOnboarder(directory, ['all', '-j', '4']);
  print(`\n10,000-task graph: peak memory dry-run ${(plan.peakKiB! / 1024).toFixed(0)} MB, first run ${(run.peakKiB! / 1024).toFixed(0)} MB (${run.wallSeconds.toFixed(1)}s), re-run ${(rerun.peakKiB! / 1024).toFixed(0)} MB (${rerun.wallSeconds.toFixed(2)}s)`);
  results.tenThousand = { plan, run, rerun };
}

const cases: Record<string, () => void> = {
  'chain-plus-fan': () => compareSchedulers(chainPlusFan()),
  layered: () => compareSchedulers(layered()),
  overhead: compareOverhead,
  memory: measureMemory,
};
print(`onboarder benchmark: ${results.machine as string}, node ${process.version}, ${results.date as string}`);
for (const [name, run] of Object.entries(cases)) if (only.length === 0 || only.includes(name)) run();
writeFileSync(path.join(workDirectory, 'results.json'), JSON.stringify(results, null, 2));
writeFileSync(path.join(workDirectory, 'results.txt'), `${lines.join('\n')}\n`);
