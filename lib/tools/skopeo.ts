import { createHash } from 'node:crypto';
import { runCommand, type ToolContext } from './command.js';

/**
 * How skopeo reaches one side of a copy: a registry's TLS is verified against the CA files in `certDirectory`
 * (skopeo's --cert-dir: `*.crt` files), or not at all only where `insecure` says so (a plain-HTTP upstream on
 * loopback); credentials come from an auth file (0600), never the command line.
 */
export interface RegistryAccess {
  readonly certDirectory?: string;
  readonly insecure?: boolean;
  readonly authFile?: string;
}

function accessFlags(side: 'src' | 'dest' | '', access: RegistryAccess = {}): string[] {
  const flag = (name: string) => (side ? `--${side}-${name}` : `--${name}`);
  return [
    ...(access.certDirectory ? [flag('cert-dir'), access.certDirectory] : []),
    ...(access.insecure ? [`${flag('tls-verify')}=false`] : []),
    ...(access.authFile ? [flag('authfile'), access.authFile] : []),
  ];
}

/**
 * The manifest digest (`sha256:...`) a registry answers for `reference` (a tag): the publisher's digest of
 * the image, or of the image index for a multi-platform one. The sha256 of the manifest's bytes as the
 * registry serves them (`inspect --raw`): skopeo's plain `inspect` reads the config as an image's and fails
 * on an artifact that is not an image, such as a Helm chart in an OCI registry.
 */
export async function registryDigest(context: ToolContext, reference: string, access?: RegistryAccess): Promise<string> {
  const result = await runCommand(context, ['skopeo', 'inspect', '--raw', ...accessFlags('', access), `docker://${reference}`]);
  const parsed = (() => {
    try {
      return JSON.parse(result.stdout) as { schemaVersion?: number };
    } catch {
      return undefined;
    }
  })();
  if (parsed?.schemaVersion !== 2) throw new Error(`skopeo inspect --raw docker://${reference} gave no manifest (schemaVersion 2) to take a digest of`);
  return `sha256:${createHash('sha256').update(result.stdout, 'utf8').digest('hex')}`;
}

/** Whether the registry holds `repository@digest` (a manifest by digest: nothing to push). */
export async function registryHas(context: ToolContext, repositoryAtDigest: string, access?: RegistryAccess): Promise<boolean> {
  const result = await runCommand(context, ['skopeo', 'inspect', '--raw', ...accessFlags('', access), `docker://${repositoryAtDigest}`], { okExitCodes: [1] });
  return result.exitCode === 0;
}

/**
 * Copies an image with every platform and its manifest digest unchanged (`--all --preserve-digests`), so that
 * the digest pinned upstream is the digest at the site: `from` and `to` are skopeo transports
 * (`docker://...`, `oci:<dir>:<name>`).
 */
export async function copyImage(context: ToolContext, from: string, to: string, access: { readonly source?: RegistryAccess; readonly destination?: RegistryAccess } = {}): Promise<void> {
  await runCommand(context, ['skopeo', 'copy', '--all', '--preserve-digests', '--retry-times', '3', ...accessFlags('src', access.source), ...accessFlags('dest', access.destination), from, to]);
}
