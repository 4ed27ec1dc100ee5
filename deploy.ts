// Onboarder: `tsx deploy.ts --help`. Thin on purpose: the catalog and environments go to the CLI, which
// imports them only when a command needs them (a re-run with nothing changed is answered from .cache/).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCli } from './lib/cli/start.js';

const root = path.dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };

process.exitCode = await startCli({
  root,
  defaultEnvironment: 'example',
  pools: { 'proxmox-api': 2, 'opnsense-api': 1 },
  version,
  load: async () => {
    const [{ catalog }, { environments, secretEnvironmentNames }] = await Promise.all([import('./tasks/index.js'), import('./environments/index.js')]);
    return { catalog, environments, passEnvironment: secretEnvironmentNames() };
  },
});
