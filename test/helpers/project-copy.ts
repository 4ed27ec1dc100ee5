import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { artifactKey, artifactsFor } from '../../images/manifest.js';
import type { Environment } from '../../environments/schema.js';
import { repositoryRoot, runningCommands, type CliResult } from './project.js';

/** A copy of the whole project (node_modules linked) in a temp dir, so a test can edit its environments. */
export function copyProject(): { directory: string; remove: () => void } {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-project-'));
  for (const entry of ['lib', 'tasks', 'environments', 'images', 'deploy.ts', 'package.json', 'tsconfig.json']) {
    cpSync(path.join(repositoryRoot, entry), path.join(directory, entry), { recursive: true, filter: (source) => !source.includes('/.terraform') });
  }
  symlinkSync(path.join(repositoryRoot, 'node_modules'), path.join(directory, 'node_modules'));
  // The Debian root and package mirror of whole-machine hosts are made once per machine: copies share them.
  mkdirSync(path.join(repositoryRoot, '.cache', 'lab', 'debian'), { recursive: true });
  mkdirSync(path.join(directory, '.cache', 'lab'), { recursive: true });
  symlinkSync(path.join(repositoryRoot, '.cache', 'lab', 'debian'), path.join(directory, '.cache', 'lab', 'debian'));
  return { directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}

/** Runs deploy.ts of a project copy with the real CLI. */
export function runDeploy(directory: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 300_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'deploy.ts', ...args], { cwd: directory, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: timeoutMs }, (error, stdout, stderr) => {
      runningCommands.delete(child);
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    runningCommands.add(child);
  });
}

/**
 * Adds an environment to a project copy: `environments/<name>.ts` with `source` (which exports
 * `exportName`), listed in environments/index.ts beside the bundled ones.
 */
export function addEnvironment(directory: string, name: string, exportName: string, source: string): void {
  writeFileSync(path.join(directory, 'environments', `${name}.ts`), source);
  const index = path.join(directory, 'environments', 'index.ts');
  const text = readFileSync(index, 'utf8');
  const listed = text
    .replace("import { lab } from './lab.js';", `import { lab } from './lab.js';\nimport { ${exportName} } from './${name}.js';`)
    .replace("  lab: (needs) => loadEnvironment('lab', lab, root, needs),", `  lab: (needs) => loadEnvironment('lab', lab, root, needs),\n  '${name}': (needs) => loadEnvironment('${name}', ${exportName}, root, needs),`);
  if (!listed.includes(`'${name}': (needs) =>`)) throw new Error('environments/index.ts no longer has the lines addEnvironment extends');
  writeFileSync(index, listed);
}

/** Everything the runs of an environment wrote besides the console: every task log and run record. */
export function logsAndRecords(directory: string, environment: string): string {
  const texts: string[] = [];
  const logs = path.join(directory, '.cache', 'logs', environment);
  for (const run of readdirSync(logs).filter((name) => name !== 'latest')) {
    for (const file of readdirSync(path.join(logs, run))) texts.push(readFileSync(path.join(logs, run, file), 'utf8'));
  }
  const runs = path.join(directory, '.cache', 'state', environment, 'runs');
  for (const file of readdirSync(runs)) texts.push(readFileSync(path.join(runs, file), 'utf8'));
  return texts.join('\n');
}

/**
 * Locks every file and chart of the manifest (at `versions`) that is present under the copy's images/, with
 * the digest it has there: what bundle:load records after verifying a bundle, for tests that put FAKE
 * release files in place themselves.
 */
export function lockPresentArtifacts(directory: string, versions: Environment['versions']): void {
  const lockFile = path.join(directory, 'images', 'manifest.lock.json');
  const lock: { version: 1; artifacts: Record<string, unknown> } = existsSync(lockFile) ? (JSON.parse(readFileSync(lockFile, 'utf8')) as { version: 1; artifacts: Record<string, unknown> }) : { version: 1, artifacts: {} };
  for (const artifact of artifactsFor(versions)) {
    if (artifact.kind === 'image') continue;
    const file = path.join(directory, artifact.file);
    if (!existsSync(file)) continue;
    const data = readFileSync(file);
    lock.artifacts[artifactKey(artifact)] = { sha256: createHash('sha256').update(data).digest('hex'), size: data.length, source: 'placed by the test' };
  }
  writeFileSync(lockFile, JSON.stringify(lock, null, 2));
}
