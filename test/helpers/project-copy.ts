import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repositoryRoot, type CliResult } from './project.js';

/** A copy of the whole project (node_modules linked) in a temp dir, so a test can edit its environments. */
export function copyProject(): { directory: string; remove: () => void } {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-project-'));
  for (const entry of ['lib', 'tasks', 'environments', 'images', 'deploy.ts', 'package.json', 'tsconfig.json']) {
    cpSync(path.join(repositoryRoot, entry), path.join(directory, entry), { recursive: true, filter: (source) => !source.includes('/.terraform') });
  }
  symlinkSync(path.join(repositoryRoot, 'node_modules'), path.join(directory, 'node_modules'));
  return { directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}

/** Runs deploy.ts of a project copy with the real CLI. */
export function runDeploy(directory: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 300_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'deploy.ts', ...args], { cwd: directory, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
