import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileIfChanged } from '../../lib/tools/files.js';
import { sshExec } from '../../lib/tools/ssh.js';
import type { ToolContext } from '../../lib/tools/command.js';
import type { Environment } from '../../environments/schema.js';
import { validation } from '../foundation/index.js';
import { proxmoxOf, sshTarget, tasks, withoutProxmox } from '../shared/kit.js';

/** The Proxmox user, role and token the clusters' storage driver (proxmox-csi-plugin) works as. */
export const csiUser = 'kubernetes-csi@pve';
const csiRole = 'KubernetesCSI';
const csiTokenName = 'csi';
/** What the driver needs, and nothing more: read VMs, attach disks, allocate on the storages (its install guide). */
const csiPrivileges = ['VM.Audit', 'VM.Config.Disk', 'Datastore.Allocate', 'Datastore.AllocateSpace', 'Datastore.Audit'];

/** Where the storage driver's API token is kept between this step and platform-services (0600). */
export function csiTokenFile(root: string, config: Environment): string {
  return path.join(root, '.cache', 'state', config.name, 'proxmox-csi-token.json');
}

/** The kept token of the storage driver ({ tokenId, token }), its value marked secret; undefined when none is kept. */
export function keptCsiToken(context: ToolContext & { readonly config: Environment }): { readonly tokenId: string; readonly token: string } | undefined {
  const file = csiTokenFile(context.root, context.config);
  if (!existsSync(file)) return undefined;
  const kept = JSON.parse(readFileSync(file, 'utf8')) as { tokenId?: unknown; token?: unknown };
  if (typeof kept.tokenId !== 'string' || typeof kept.token !== 'string') throw new Error(`${path.relative(context.root, file)} holds no tokenId and token: remove it, and proxmox-csi-token makes a new one`);
  return { tokenId: kept.tokenId, token: context.secret(kept.token) };
}

async function tokenOnProxmox(context: ToolContext, target: ReturnType<typeof sshTarget>): Promise<boolean> {
  const tokens = await sshExec(context, target, ['pveum', 'user', 'token', 'list', csiUser, '--output-format', 'json']);
  return (JSON.parse(tokens.stdout || '[]') as { tokenid: string }[]).some((token) => token.tokenid === csiTokenName);
}

/**
 * The storage driver's account on Proxmox, as proxmox-csi-plugin's install guide makes it: a role with just
 * its privileges, the user kubernetes-csi@pve with that role on /, and an API token without privilege
 * separation, kept on this machine (0600) for platform-services, which gives it to each cluster's driver.
 * Unlike packer's, the token is kept across runs (every cluster's driver holds it): a re-run makes a new
 * one only when the kept one or Proxmox's is gone (its drift check asks Proxmox).
 */
export const proxmoxCsiToken = tasks.task({
  name: 'proxmox-csi-token',
  description: "The storage driver's Proxmox role, user and API token (kept for every cluster's proxmox-csi-plugin)",
  supportsDryRun: true,
  skipWhen: withoutProxmox,
  // Made on the nodes validation found reachable and ready.
  deps: [validation],
  estimate: '30s',
  check: async (context) => {
    const { config, root } = context;
    if (!existsSync(csiTokenFile(root, config))) return { drift: `no token of ${csiUser} is kept in ${path.relative(root, csiTokenFile(root, config))}` };
    return (await tokenOnProxmox(context, sshTarget(config, root, proxmoxOf(config).nodes[0]!))) ? true : { drift: `the token ${csiUser}!${csiTokenName} is gone from Proxmox` };
  },
  run: async (context) => {
    const { config, root } = context;
    const target = sshTarget(config, root, proxmoxOf(config).nodes[0]!);
    const privileges = csiPrivileges.join(' ');
    const roles = await sshExec(context, target, ['pveum', 'role', 'list', '--output-format', 'json']);
    const roleExists = !context.dryRun && (JSON.parse(roles.stdout || '[]') as { roleid: string }[]).some((role) => role.roleid === csiRole);
    await sshExec(context, target, ['pveum', 'role', roleExists ? 'modify' : 'add', csiRole, '--privs', privileges]);
    const users = await sshExec(context, target, ['pveum', 'user', 'list', '--output-format', 'json']);
    const userExists = !context.dryRun && (JSON.parse(users.stdout || '[]') as { userid: string }[]).some((user) => user.userid === csiUser);
    if (!userExists) await sshExec(context, target, ['pveum', 'user', 'add', csiUser, '--comment', 'Onboarder: the clusters\' storage driver (proxmox-csi-plugin)']);
    await sshExec(context, target, ['pveum', 'acl', 'modify', '/', '--users', csiUser, '--roles', csiRole]);
    const file = csiTokenFile(root, config);
    const onProxmox = !context.dryRun && (await tokenOnProxmox(context, target));
    if (onProxmox && existsSync(file)) return context.log.info(`kept: the token ${csiUser}!${csiTokenName}`);
    if (onProxmox) await sshExec(context, target, ['pveum', 'user', 'token', 'remove', csiUser, csiTokenName]);
    const added = await sshExec(context, target, ['pveum', 'user', 'token', 'add', csiUser, csiTokenName, '--privsep', '0', '--comment', 'Onboarder: proxmox-csi-plugin of every cluster', '--output-format', 'json'], { stdoutIsSecret: true });
    if (context.dryRun) return;
    const token = JSON.parse(added.stdout) as { 'full-tokenid'?: string; value?: string };
    if (!token.value || !token['full-tokenid']) throw new Error(`pveum user token add printed no token for ${csiUser}!${csiTokenName}`);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFileIfChanged(context, file, JSON.stringify({ tokenId: token['full-tokenid'], token: context.secret(token.value) }));
  },
});
