import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileIfChanged } from '../../lib/tools/files.js';
import { sshExec, sshUpload } from '../../lib/tools/ssh.js';
import { ubuntuCloudImageFile } from '../../images/manifest.js';
import { vmNetworksOf, type Environment } from '../../environments/schema.js';
import { PermanentFailure } from '../../lib/dsl/command-failure.js';
import { baseTarget } from '../base/index.js';
import { fetchImage } from '../images/index.js';
import { proxmoxOf, sshTarget, tasks, withoutProxmox } from '../shared/kit.js';

/** The seed's phases 1-2 (cluster-foundation-setup.py), on the first Proxmox node. */
const foundation = tasks.namespace('foundation');
const packerUser = 'packer@pve';

function firstNode(config: Environment, root: string) {
  return sshTarget(config, root, proxmoxOf(config).nodes[0]!);
}

/** Where the packer user's current API token is kept between packer-user and packer-config (0600). */
function credentialsFile(root: string, config: Environment): string {
  return path.join(root, '.cache', 'state', config.name, 'packer-credentials.json');
}

/** Where the first node keeps the customized cloud image the base template is imported from. */
function cloudImagePath(config: Environment): string {
  return `${proxmoxOf(config).storage.isoDirectory}/${path.basename(ubuntuCloudImageFile)}`;
}

/** Environment validation: cached (runs again only when the configuration it read changes). */
export const validation = foundation.task({
  name: 'validation',
  description: "SSH connectivity and key, the VMs' bridge (VLAN-aware where it tags) and the storage of every Proxmox node",
  supportsDryRun: true,
  skipWhen: withoutProxmox,
  // The Proxmox nodes are reached across the site network that base sets up (bridges, VLANs, OPNsense).
  deps: [baseTarget],
  estimate: '1m',
  retries: 2,
  run: async (context) => {
    const { config } = context;
    const proxmox = proxmoxOf(config);
    for (const node of proxmox.nodes) {
      const target = sshTarget(config, context.root, node);
      await sshExec(context, target, ['true'], { timeoutMs: 30_000 });
      const bridge = await sshExec(context, target, ['ip', '-details', 'link', 'show', 'dev', proxmox.vmBridge.name], { okExitCodes: [1] });
      if (!context.dryRun) checkVmBridge(config, node.name, bridge.exitCode === 0 ? bridge.stdout : undefined);
      await sshExec(context, target, ['pvesm', 'status', '--storage', proxmox.storage.pool]);
      if (proxmox.storage.type === 'rbd') await sshExec(context, target, ['rbd', 'ls', proxmox.storage.pool]);
    }
  },
});

/**
 * The VMs' network card goes on `proxmox.vmBridge` of whichever node runs the VM, tagged with the VLAN of
 * the VM's network where it tags: a node without that bridge, or whose bridge is not VLAN-aware (it would drop
 * the tagged frames), would give a VM no network at its first boot. `details`: `ip -details link show` of it.
 */
export function checkVmBridge(config: Environment, node: string, details: string | undefined): void {
  const { name, tagVlan } = proxmoxOf(config).vmBridge;
  if (details === undefined || !/\bbridge\b/.test(details)) {
    throw new PermanentFailure(`Proxmox node ${node} has no bridge ${name} (proxmox.vmBridge.name), which the VMs' network card goes on: create it (/etc/network/interfaces), or name the node's bridge`);
  }
  const vlans = vmNetworksOf(config).map((network) => network.vlan);
  if (tagVlan && !/\bvlan_filtering 1\b/.test(details)) {
    const tagged = vlans.length === 1 ? `card is tagged with VLAN ${vlans[0]}` : `cards are tagged with VLANs ${vlans.join(', ')}`;
    throw new PermanentFailure(`Proxmox node ${node}: bridge ${name} is not VLAN-aware, and the VMs' network ${tagged}: set bridge-vlan-aware yes on it${vlans.length === 1 ? `, or proxmox.vmBridge.tagVlan false where ${name} carries VLAN ${vlans[0]} untagged` : ''}`);
  }
}

/** The first column of `pvesm status`: the storages it lists. */
const storageNames = (status: string): string[] => status.split('\n').slice(1).map((line) => line.split(/\s+/)[0]!).filter(Boolean);

/**
 * virt-customize on the first node, and the site's ISO storage (proxmox.storage.isoStorage), which holds ISO
 * images and snippets. A storage of that name that takes ISO images is kept as it is. On Ceph it is made on
 * the cluster's CephFS (`pvesm add cephfs`), as Proxmox's own `pveceph fs create --add-storage` does: an RBD
 * pool holds disk images only, and Proxmox refuses iso content on it. Anything else is refused in one line
 * that says what to create or name: Onboarder does not pick a disk or a path for a storage.
 */
export const toolsStorage = foundation.task({
  name: 'tools-storage',
  description: 'virt-customize and the ISO storage on Proxmox (a CephFS storage on Ceph; idempotent)',
  supportsDryRun: true,
  skipWhen: withoutProxmox,
  // Runs on the nodes validation found reachable and ready.
  deps: [validation],
  estimate: '3m',
  run: async (context) => {
    const { config } = context;
    const proxmox = proxmoxOf(config);
    const name = proxmox.storage.isoStorage;
    const target = firstNode(config, context.root);
    await sshExec(context, target, ['apt-get', 'install', '-y', 'libguestfs-tools']);
    const takingIso = await sshExec(context, target, ['pvesm', 'status', '--content', 'iso']);
    if (!context.dryRun && storageNames(takingIso.stdout).includes(name)) return;
    const every = await sshExec(context, target, ['pvesm', 'status']);
    if (!context.dryRun && storageNames(every.stdout).includes(name)) {
      throw new PermanentFailure(`Proxmox storage ${name} (proxmox.storage.isoStorage) takes no ISO images: add iso to its content (pvesm set ${name} --content ..., where its type allows it: dir, NFS, CephFS), or name a storage that takes them (local)`);
    }
    const missing = `Proxmox has no storage ${name} (proxmox.storage.isoStorage)`;
    if (proxmox.storage.type !== 'rbd') throw new PermanentFailure(`${missing}: create it, or name a storage that takes ISO images (local)`);
    const filesystems = await sshExec(context, target, ['ceph', 'fs', 'ls', '--format', 'json']);
    const filesystem = context.dryRun ? '<the CephFS>' : (JSON.parse(filesystems.stdout || '[]') as { name?: string }[])[0]?.name;
    if (!filesystem) throw new PermanentFailure(`${missing}, and its Ceph has no CephFS to make it on (an RBD pool holds no ISO images): create one (pveceph fs create --add-storage), or name a storage that takes ISO images (local)`);
    await sshExec(context, target, ['pvesm', 'add', 'cephfs', name, '--fs-name', filesystem, '--content', 'iso,snippets']);
  },
});

/** The packer user's API token: `packer@pve!packer`, made afresh on every run. */
const packerTokenName = 'packer';

/**
 * Runs every time: packer's API token is fresh on each run (the seed's "token always refreshed"): the
 * previous token is removed and a new one added, without privilege separation, so that it holds the packer
 * user's ACL and nothing more. The token is printed once by pveum and never logged.
 */
export const packerUserTask = foundation.task({
  name: 'packer-user',
  description: 'Packer user on Proxmox: created or updated, its ACL, a fresh API token every run',
  supportsDryRun: true,
  skipWhen: withoutProxmox,
  policy: 'always',
  // Made on the nodes validation found reachable and ready.
  deps: [validation],
  estimate: '30s',
  run: async (context) => {
    const { config } = context;
    const proxmox = proxmoxOf(config);
    const target = firstNode(config, context.root);
    const users = await sshExec(context, target, ['pveum', 'user', 'list', '--output-format', 'json']);
    const exists = !context.dryRun && (JSON.parse(users.stdout || '[]') as { userid: string }[]).some((user) => user.userid === packerUser);
    if (!exists) await sshExec(context, target, ['pveum', 'user', 'add', packerUser, '--comment', 'Onboarder packer user']);
    await sshExec(context, target, ['pveum', 'acl', 'modify', '/', '--users', packerUser, '--roles', 'PVEVMAdmin,PVEDatastoreUser,PVESDNUser']);
    const tokens = await sshExec(context, target, ['pveum', 'user', 'token', 'list', packerUser, '--output-format', 'json']);
    const previous = !context.dryRun && (JSON.parse(tokens.stdout || '[]') as { tokenid: string }[]).some((token) => token.tokenid === packerTokenName);
    if (previous || context.dryRun) await sshExec(context, target, ['pveum', 'user', 'token', 'remove', packerUser, packerTokenName]);
    const added = await sshExec(context, target, ['pveum', 'user', 'token', 'add', packerUser, packerTokenName, '--privsep', '0', '--comment', 'Onboarder: packer, replaced on every run', '--output-format', 'json'], { stdoutIsSecret: true });
    if (context.dryRun) return;
    const token = JSON.parse(added.stdout) as { 'full-tokenid'?: string; value?: string };
    if (!token.value || !token['full-tokenid']) throw new Error(`pveum user token add printed no token for ${packerUser}!${packerTokenName}`);
    const file = credentialsFile(context.root, config);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFileIfChanged(context, file, JSON.stringify({ tokenId: token['full-tokenid'], token: context.secret(token.value), node: proxmox.nodes[0]!.name }));
  },
});

export const cloudImage = foundation.task({
  name: 'cloud-image',
  description: 'Ubuntu cloud image: customized with virt-customize, uploaded (skipped if present)',
  supportsDryRun: true,
  skipWhen: withoutProxmox,
  // Customized with the tools tools-storage installs, into its storage; from the verified cloud image.
  deps: [toolsStorage, fetchImage.with({ artifact: 'ubuntu-cloud' })],
  estimate: '4m',
  // Optional: sites whose nodes exist already never fetch it.
  sources: [{ path: ubuntuCloudImageFile, optional: true }],
  run: async (context) => {
    const { config } = context;
    const target = firstNode(config, context.root);
    const remote = cloudImagePath(config);
    const present = await sshExec(context, target, ['test', '-f', remote], { okExitCodes: [1] });
    if (present.exitCode === 0 && !context.dryRun) return context.log.info(`${remote} is present`);
    // Uploaded and customized under another name, then renamed: an upload or customization cut short (a
    // failure, a kill) never leaves a file at the final name that the next run would take as done.
    const partial = `${remote}.partial`;
    await sshUpload(context, target, path.resolve(context.root, ubuntuCloudImageFile), partial);
    await sshExec(context, target, ['virt-customize', '-a', partial, '--install', 'qemu-guest-agent', '--run-command', 'cloud-init clean']);
    await sshExec(context, target, ['mv', '-f', partial, remote]);
  },
});

/** The base template VM 9002; its drift check asks Proxmox whether it exists and is a template. */
export const baseTemplate = foundation.task({
  name: 'base-template',
  description: 'Template VM 9002 from the cloud image (drift checked: exists and is a template)',
  supportsDryRun: true,
  skipWhen: withoutProxmox,
  // Imported from the customized cloud image.
  deps: [cloudImage],
  estimate: '3m',
  check: async (context) => {
    const { config } = context;
    const id = String(proxmoxOf(config).templates.baseVmId);
    const vm = await sshExec(context, firstNode(config, context.root), ['qm', 'config', id], { okExitCodes: [2, 255] });
    if (vm.exitCode !== 0) return { drift: `VM ${id} does not exist` };
    return /^template: 1$/m.test(vm.stdout) ? true : { drift: `VM ${id} is not a template` };
  },
  run: async (context) => {
    const { config } = context;
    const proxmox = proxmoxOf(config);
    const target = firstNode(config, context.root);
    const id = String(proxmox.templates.baseVmId);
    const image = cloudImagePath(config);
    await sshExec(context, target, ['qm', 'destroy', id, '--purge'], { okExitCodes: [2, 255] });
    await sshExec(context, target, ['qm', 'create', id, '--name', 'ubuntu-base', '--memory', '2048', '--cores', '2', '--net0', `virtio,bridge=${proxmox.vmBridge.name}`, '--agent', '1', '--serial0', 'socket', '--vga', 'serial0']);
    // The image imported and attached in one step (import-from, Proxmox VE 7.2 and later), whatever name the
    // storage gives the volume: vm-<id>-disk-0 on RBD and LVM, <id>/vm-<id>-disk-0.raw on a directory.
    await sshExec(context, target, ['qm', 'set', id, '--scsihw', 'virtio-scsi-pci', '--scsi0', `${proxmox.storage.pool}:0,import-from=${image}`, '--ide2', `${proxmox.storage.pool}:cloudinit`, '--boot', 'order=scsi0']);
    await sshExec(context, target, ['qm', 'template', id]);
  },
});

/** packer/.env and packer/variables.json, rewritten every run from the current credentials. */
export const packerConfig = foundation.task({
  name: 'packer-config',
  description: "packer/.env and packer/variables.json with the packer user's current token, always refreshed",
  supportsDryRun: true,
  skipWhen: withoutProxmox,
  policy: 'always',
  // Holds the packer user's fresh credentials.
  deps: [packerUserTask],
  estimate: '30s',
  run: async (context) => {
    const { config } = context;
    const proxmox = proxmoxOf(config);
    const credentials = context.dryRun
      ? { tokenId: `${packerUser}!${packerTokenName}`, token: '(fresh token)', node: proxmox.nodes[0]!.name }
      : (JSON.parse(readFileSync(credentialsFile(context.root, config), 'utf8')) as { tokenId: string; token: string; node: string });
    context.secret(credentials.token);
    // packer's proxmox builder authenticates with a token as `username` user@realm!tokenid and `token`.
    const variables = {
      proxmox_url: proxmox.apiUrl,
      proxmox_username: credentials.tokenId,
      proxmox_token: credentials.token,
      proxmox_node: credentials.node,
      base_vm_id: proxmox.templates.baseVmId,
      golden_vm_id: proxmox.templates.goldenVmId,
    };
    const directory = path.join(context.root, '.cache', 'state', config.name, 'packer');
    if (!context.dryRun) mkdirSync(directory, { recursive: true, mode: 0o700 });
    await writeFileIfChanged(context, path.join(directory, 'variables.json'), `${JSON.stringify(variables, null, 2)}\n`);
    await writeFileIfChanged(context, path.join(directory, '.env'), `PKR_VAR_proxmox_username=${credentials.tokenId}\nPKR_VAR_proxmox_token=${credentials.token}\n`);
  },
});

/** The seed's phases 1-2 as one target (cluster-foundation-setup.py): `tsx deploy.ts foundation`. */
export const foundationTarget = tasks.task({
  name: 'foundation',
  description: 'Foundation setup on Proxmox: validation, tools and storage, packer user, cloud image, base template, packer config',
  // The seed's phases 1-2 are done when the template and packer's configuration are.
  deps: [baseTemplate, packerConfig],
});
