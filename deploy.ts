// Onboarder: `tsx deploy.ts --help`. Thin on purpose: the catalog and environments go to the CLI.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './lib/cli/main.js';
import { environments, secretEnvironmentNames } from './environments/index.js';
import { catalog } from './tasks/index.js';

const root = path.dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };

process.exitCode = await runCli({
  root,
  catalog,
  environments,
  defaultEnvironment: 'example',
  pools: { 'proxmox-api': 2, 'opnsense-api': 1 },
  version,
  passEnvironment: secretEnvironmentNames(),
});
