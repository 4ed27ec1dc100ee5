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
  example: () => loadEnvironment('example', example, root),
  lab: () => loadEnvironment('lab', lab, root),
};
