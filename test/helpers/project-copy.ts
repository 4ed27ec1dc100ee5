import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repositoryRoot } from './project.js';

/** A copy of the whole project (node_modules linked) in a temp dir, so a test can edit its environments. */
export function copyProject(): { directory: string; remove: () => void } {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-project-'));
  for (const entry of ['lib', 'tasks', 'environments', 'images', 'deploy.ts', 'package.json', 'tsconfig.json']) {
    cpSync(path.join(repositoryRoot, entry), path.join(directory, entry), { recursive: true, filter: (source) => !source.includes('/.terraform') });
  }
  symlinkSync(path.join(repositoryRoot, 'node_modules'), path.join(directory, 'node_modules'));
  return { directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}
