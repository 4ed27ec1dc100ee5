// Runs every uvu suite in its own process (two at a time), each with a time limit so a hang fails instead
// of stalling CI, and prints `N passed, N failed` as the last line.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 600_000);
const filter = process.argv.slice(2);

/**
 * Suites that start whole-machine hosts (a lab, or TestHostRig with wholeMachines) take minutes; the others
 * seconds. They start first, so that two at a time the run does not end on one long suite alone.
 */
const startsMachines = (file: string) => /wholeMachines|lab-hosts\.ts/.test(readFileSync(path.join(root, file), 'utf8'));
const suites = ['unit', 'e2e']
  .flatMap((folder) => readdirSync(path.join(root, 'test', folder)).filter((name) => name.endsWith('.test.ts')).map((name) => path.join('test', folder, name)))
  .filter((file) => filter.length === 0 || filter.some((part) => file.includes(part)))
  .sort()
  .sort((a, b) => Number(startsMachines(b)) - Number(startsMachines(a)));

interface SuiteResult {
  readonly file: string;
  readonly passed: number;
  readonly failed: number;
  readonly output: string;
}

function runSuite(file: string): Promise<SuiteResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
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
    }, fileTimeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0);
      let failed = total - passed - skipped;
      if (timedOut) output += `\n${file}: killed after ${fileTimeoutMs} ms\n`;
      if ((code !== 0 || timedOut) && failed === 0) failed = 1;
      resolve({ file, passed, failed, output });
    });
  });
}

const limit = pLimit(Math.max(1, Math.min(2, os.availableParallelism())));
const results = await Promise.all(
  suites.map((file) =>
    limit(async () => {
      const started = performance.now();
      const result = await runSuite(file);
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      process.stdout.write(`\n## ${file}: ${result.passed} passed, ${result.failed} failed (${seconds} s)\n${result.failed > 0 || process.env.TEST_VERBOSE ? result.output : ''}`);
      return result;
    }),
  ),
);
const passed = results.reduce((sum, result) => sum + result.passed, 0);
const failed = results.reduce((sum, result) => sum + result.failed, 0);
process.exitCode = failed > 0 ? 1 : 0;
console.log(`\n${passed} passed, ${failed} failed`);
