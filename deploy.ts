// Onboarder: `tsx deploy.ts --help`. Thin on purpose: the catalog and environments go to the CLI.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './lib/cli/main.js';

const root = path.dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
// Imported once the CLI is loaded, so that a module that cannot load (a syntax error, a throw at import, an
// await that never settles) is reported in one line with its file and line, not by Node's own crash.
const [{ catalog, pools, statePulls }, { environments, secretEnvironmentNames }] = await Promise.all([import('./tasks/index.js'), import('./environments/index.js')]);

process.exitCode = await runCli({
  root,
  catalog,
  environments,
  defaultEnvironment: 'example',
  pools,
  statePulls,
  version,
  passEnvironment: secretEnvironmentNames(),
});
