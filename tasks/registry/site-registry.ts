import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { withScratchDirectory } from '../../lib/state/scratch-directory.js';
import type { ToolContext } from '../../lib/tools/command.js';
import type { RegistryAccess } from '../../lib/tools/skopeo.js';
import type { Environment } from '../../environments/schema.js';
import { secretValue } from '../shared/kit.js';

type SiteRegistry = NonNullable<Environment['siteRegistry']>;

/**
 * Runs `body` with what skopeo needs to reach the site registry: its CA in a cert directory and, where the
 * environment names credentials, an auth file (0600, the password never on a command line), both removed after.
 */
export function withSiteRegistry<T>(context: ToolContext, registry: SiteRegistry, body: (access: RegistryAccess) => Promise<T>): Promise<T> {
  // A scratch directory (0700): removed when done, and by the next run when this one is killed.
  return withScratchDirectory('registry', async (scratch) => {
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
    return body(access);
  });
}
