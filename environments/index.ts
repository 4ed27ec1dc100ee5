import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EnvironmentLoader } from '../lib/cli/project.js';
import { example } from './example.js';
import { lab } from './lab.js';
import { loadEnvironment } from './load-environment.js';
import type { Environment } from './schema.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** The bundled environments, by name. `--env NAME` or DEPLOY_ENV picks one; `example` is the default. */
export const environments: Record<string, EnvironmentLoader<Environment>> = {
  example: (needs) => loadEnvironment('example', example, root, needs),
  lab: (needs) => loadEnvironment('lab', lab, root, needs),
};

/** Names of the environment variables any bundled environment reads secrets from (`{ env: NAME }`). */
export function secretEnvironmentNames(): string[] {
  const names = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    if (typeof record.env === 'string' && Object.keys(record).length === 1) names.add(record.env);
    Object.values(record).forEach(visit);
  };
  [example, lab].forEach(visit);
  return [...names].sort();
}
