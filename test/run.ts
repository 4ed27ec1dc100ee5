// Typechecks (tsc --noEmit, beside the first suites) and runs every uvu suite in its own process (two at a time, never two that start whole-machine hosts), each
// with a time limit so a hang fails instead of stalling CI, and prints `N passed, N failed` as the last line.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 600_000);
const filter = process.argv.slice(2);

/**
 * Suites that start whole-machine hosts (a lab, or TestHostRig with wholeMachines) take minutes; the others
 * seconds. Two of them side by side take far longer than one after the other (378 s and 395 s against 220 s
 * and 90 s alone: they contend for the disk and the kernel's namespaces), so only one runs at a time, while
 * the other slot works through the rest, the longest first (by size, a fair proxy).
 */
const startsMachines = (file: string) => /wholeMachines|lab-hosts\.ts/.test(readFileSync(path.join(root, file), 'utf8'));
const suites = ['unit', 'e2e']
  .flatMap((folder) => readdirSync(path.join(root, 'test', folder)).filter((name) => name.endsWith('.test.ts')).map((name) => path.join('test', folder, name)))
  .filter((file) => filter.length === 0 || filter.some((part) => file.includes(part)))
  .sort();
const machineSuites = suites.filter(startsMachines);
/**
 * The typecheck (tsc --noEmit) runs as the first of the other suites, beside the first machine suite:
 * test/tsconfig.json holds the catalog's program and the tests (tsconfig.json, the catalog's alone, keeps
 * an editor in tasks/ from offering a fixture's tasks).
 */
const typechecks = new Map([['typecheck (tsc --noEmit -p test)', 'test']]);
const otherSuites = [
  ...(filter.length === 0 || filter.includes('typecheck') ? typechecks.keys() : []),
  ...suites.filter((file) => !startsMachines(file)).sort((a, b) => statSync(path.join(root, b)).size - statSync(path.join(root, a)).size),
];
/**
 * A suite that starts machines waits for a hang longer: it builds a Debian root when the machine has none;
 * with the long tier (test/helpers/tiers.ts) it takes a cluster through its whole lifecycle.
 */
const longTier = process.env.ONBOARDER_LONG_TESTS === '1';
const machineTimeoutMs = Number(process.env.TEST_MACHINE_FILE_TIMEOUT_MS ?? (longTier ? 3_600_000 : 900_000));

interface SuiteResult {
  readonly file: string;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly output: string;
}

function runSuite(file: string, timeoutMs: number): Promise<SuiteResult> {
  return new Promise((resolve) => {
    const project = typechecks.get(file);
    const args = project ? [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', project] : ['--import', 'tsx', file];
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      process.kill(-child.pid!, 'SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const total = project ? 1 : Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? 0);
      const passed = project ? Number(code === 0) : Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0);
      // uvu's Total counts the tests that ran: a skipped one is in Skipped alone.
      let failed = total - passed;
      if (timedOut) output += `\n${file}: killed after ${timeoutMs} ms\n`;
      if ((code !== 0 || timedOut) && failed === 0) failed = 1;
      resolve({ file, passed, failed, skipped, output });
    });
  });
}

const slots = Math.max(1, Math.min(2, os.availableParallelism()));
const results: SuiteResult[] = [];
let machineRunning = false;
let machineDone: () => void = () => undefined;

async function runOne(file: string, machine: boolean): Promise<void> {
  const started = performance.now();
  const result = await runSuite(file, machine ? machineTimeoutMs : fileTimeoutMs);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const skipped = result.skipped > 0 ? `, ${result.skipped} skipped` : '';
  process.stdout.write(`\n## ${file}: ${result.passed} passed, ${result.failed} failed${skipped} (${seconds} s)\n${result.failed > 0 || process.env.TEST_VERBOSE ? result.output : ''}`);
  results.push(result);
}

/** One slot: a machine suite when none runs, else the next other suite; waits when only machine suites are left. */
async function slot(): Promise<void> {
  for (;;) {
    if (!machineRunning && machineSuites.length > 0) {
      machineRunning = true;
      await runOne(machineSuites.shift()!, true);
      machineRunning = false;
      machineDone();
    } else if (otherSuites.length > 0) {
      await runOne(otherSuites.shift()!, false);
    } else if (machineSuites.length > 0) {
      await new Promise<void>((resolve) => (machineDone = resolve));
    } else {
      return;
    }
  }
}
await Promise.all(Array.from({ length: slots }, slot));
const passed = results.reduce((sum, result) => sum + result.passed, 0);
const failed = results.reduce((sum, result) => sum + result.failed, 0);
const skipped = results.reduce((sum, result) => sum + result.skipped, 0);
process.exitCode = failed > 0 ? 1 : 0;
if (skipped > 0) console.log(`\n${skipped} skipped: the long tier, which \`npm run test:long\` runs`);
console.log(`\n${passed} passed, ${failed} failed`);
