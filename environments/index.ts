import { ok } from '../lib/failures.js';
import type { EnvironmentLoader } from '../lib/cli/project.js';
import { example } from './example.js';
import type { PlatformConfig } from './platform-config.js';

/** The bundled environments, by name. `--env NAME` or DEPLOY_ENV picks one; `example` is the default. */
export const environments: Record<string, EnvironmentLoader<PlatformConfig>> = {
  example: () => ok({ config: example, secrets: [] }),
};
