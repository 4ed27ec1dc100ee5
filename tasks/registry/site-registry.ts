import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ToolContext } from '../../lib/tools/command.js';
import type { RegistryAccess } from '../../lib/tools/skopeo.js';
import type { Environment } from '../../environments/schema.js';
import { secretValue } from '../shared/kit.js';

type SiteRegistry = NonNullable<Environment['siteRegistry']>;

/**
 * Runs `body` with what skopeo needs to reach the site registry: its CA in a cert directory and, where the
 * environment names credentials, an auth file (0600, the password never on a command line), both removed after.
 */
export async function withSiteRegistry<T>(context: ToolContext, registry: SiteRegistry, body: (access: RegistryAccess) => Promise<T>): Promise<T> {
  const scratch = path.join(context.root, '.cache', 'registry', `access-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  try {
    const access: RegistryAccess = {
      ...(registry.caFile ? { certDirectory: path.join(scratch, 'certs') } : {}),
      ...(registry.username && registry.password ? { authFile: path.join(scratch, 'auth.json') } : {}),
    };
    if (access.certDirectory) {
      mkdirSync(access.certDirectory);
      copyFileSync(path.resolve(context.root, registry.caFile!), path.join(access.certDirectory, 'ca.crt'));
    }
    if (access.authFile) {
      const auth = context.secret(Buffer.from(`${registry.username}:${secretValue(context, registry.password!)}`).toString('base64'));
      writeFileSync(access.authFile, JSON.stringify({ auths: { [registry.address]: { auth } } }), { mode: 0o600 });
    }
    return await body(access);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
