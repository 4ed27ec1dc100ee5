import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CommandFailure } from '../dsl/command-failure.js';
import { formatCommand, reportToolVersion, runCommand, type ToolContext } from './command.js';
import { writeInventory, type Inventory, type InventoryHost } from './inventory.js';
import { runControlDirectory } from './ssh-control.js';
import { withScratchDirectory } from '../state/scratch-directory.js';

export interface PlaybookOptions {
  readonly playbook: string;
  /** An inventory file, or a typed inventory written to a temporary file for this run. */
  readonly inventory: string | Inventory;
  readonly limit?: string | readonly string[];
  readonly tags?: readonly string[];
  readonly skipTags?: readonly string[];
  /** Written to a 0600 file and passed as `-e @file`, never interpolated into a command line. */
  readonly extraVars?: Readonly<Record<string, unknown>>;
  readonly check?: boolean;
  readonly diff?: boolean;
  readonly become?: boolean;
  readonly forks?: number;
  readonly vaultPasswordFile?: string;
  readonly verbosity?: 0 | 1 | 2 | 3 | 4;
  readonly user?: string;
  readonly privateKey?: string;
  /** known_hosts to verify host keys against (host key checking is always on). */
  readonly knownHostsFile?: string;
  readonly cwd?: string;
}

/** One host's line of PLAY RECAP. */
export interface HostRecap {
  readonly ok: number;
  readonly changed: number;
  readonly unreachable: number;
  readonly failed: number;
  readonly skipped: number;
  readonly rescued: number;
  readonly ignored: number;
}

/** A playbook that failed, with its PLAY RECAP: which hosts failed or could not be reached, and which finished. */
export class PlaybookFailure extends CommandFailure {
  constructor(
    command: string,
    exitCode: number | null,
    outputTail: string,
    explanation: string | undefined,
    readonly recap: Readonly<Record<string, HostRecap>>,
  ) {
    super(command, exitCode, null, outputTail, explanation);
  }
}

export interface PlaybookResult {
  readonly recap: Readonly<Record<string, HostRecap>>;
  /** Whether any host reported a change: false proves a re-run was idempotent. */
  readonly changed: boolean;
}

/**
 * Runs ansible-playbook with typed options. Host key checking stays on (against `knownHostsFile`); the SSH
 * masters are shared by the playbooks of one engine run (never across runs or known_hosts files: a reused
 * master skips host key checks) and stopped when it ends; pipelining is on; forks cover every host of a
 * typed inventory. PLAY RECAP is parsed per host. A changed host key, or a host SSH cannot reach, fails
 * with the host, how it was reached and why.
 */
export async function runPlaybook(context: ToolContext, options: PlaybookOptions): Promise<PlaybookResult> {
  await reportToolVersion(context, 'ansible-playbook');
  return withScratchDirectory('ansible', async (scratch) => {
    const argv = ['ansible-playbook', ...playbookArguments(options, scratch)];
    const sshArgs = ['-o ControlMaster=auto', '-o ControlPersist=120s', '-o StrictHostKeyChecking=yes'];
    if (options.knownHostsFile) sshArgs.push(`-o UserKnownHostsFile=${options.knownHostsFile}`);
    const env = {
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      ANSIBLE_SSH_ARGS: sshArgs.join(' '),
      ANSIBLE_SSH_CONTROL_PATH_DIR: context.dryRun ? path.join(scratch, 'cp') : runControlDirectory(options.knownHostsFile),
      // Modules are piped to the remote python instead of copied there first: one SSH round trip less per task.
      ANSIBLE_PIPELINING: 'True',
      ANSIBLE_LOCAL_TEMP: path.join(scratch, 'tmp'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      ANSIBLE_RETRY_FILES_ENABLED: '0',
      ANSIBLE_STDOUT_CALLBACK: 'default',
      PYTHONUNBUFFERED: '1',
    };
    // Only the end is read (PLAY RECAP, the last host errors); a verbose playbook's output can be GBs.
    const result = await runCommand(context, argv, { env, okExitCodes: [2, 4], keepOutput: 'tail', ...(options.cwd ? { cwd: options.cwd } : {}) });
    const output = `${result.stdout}\n${result.stderr}`;
    const recap = parseRecap(output);
    if (result.exitCode !== 0) {
      throw new PlaybookFailure(formatCommand(argv), result.exitCode, output.trimEnd().split('\n').slice(-20).join('\n'), explainFailure(output, recap, options), recap);
    }
    return { recap, changed: Object.values(recap).some((host) => host.changed > 0) };
  });
}

/** The argument list for ansible-playbook (pure: tested on its own). Writes inventory and vars into `scratch`. */
export function playbookArguments(options: PlaybookOptions, scratch: string): string[] {
  const args: string[] = [];
  let inventory = options.inventory;
  if (typeof inventory !== 'string') {
    const file = path.join(scratch, 'inventory.yml');
    writeInventory(file, inventory);
    inventory = file;
  }
  args.push('-i', inventory);
  if (options.limit !== undefined) args.push('--limit', typeof options.limit === 'string' ? options.limit : options.limit.join(','));
  if (options.tags?.length) args.push('--tags', options.tags.join(','));
  if (options.skipTags?.length) args.push('--skip-tags', options.skipTags.join(','));
  if (options.extraVars && Object.keys(options.extraVars).length > 0) {
    const file = path.join(scratch, 'extra-vars.json');
    writeFileSync(file, JSON.stringify(options.extraVars), { mode: 0o600 });
    args.push('-e', `@${file}`);
  }
  if (options.check) args.push('--check');
  if (options.diff) args.push('--diff');
  if (options.become) args.push('--become');
  const forks = options.forks ?? (typeof options.inventory === 'string' ? undefined : Math.min(maxForks, Math.max(1, inventoryHosts(options.inventory).size)));
  if (forks !== undefined) args.push('--forks', String(forks));
  if (options.vaultPasswordFile) args.push('--vault-password-file', options.vaultPasswordFile);
  if (options.user) args.push('--user', options.user);
  if (options.privateKey) args.push('--private-key', options.privateKey);
  if (options.verbosity) args.push(`-${'v'.repeat(options.verbosity)}`);
  args.push(options.playbook);
  return args;
}

/** Ansible's default of 5 keeps hosts waiting in line; beyond this many, the controller's CPU is the limit. */
const maxForks = 50;

/** The hosts of a typed inventory, by name, with how they are reached. */
function inventoryHosts(inventory: Inventory): Map<string, InventoryHost> {
  const hosts = new Map<string, InventoryHost>();
  for (const group of Object.values(inventory.groups)) for (const [name, host] of Object.entries(group.hosts ?? {})) hosts.set(name, host);
  return hosts;
}

const recapLine = /^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$/;

/** Parses PLAY RECAP: `host1 : ok=2 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0`. */
export function parseRecap(output: string): Record<string, HostRecap> {
  const recap: Record<string, HostRecap> = {};
  const start = output.lastIndexOf('PLAY RECAP');
  if (start < 0) return recap;
  for (const line of output.slice(start).split('\n').slice(1)) {
    const match = recapLine.exec(line.trim());
    if (!match) continue;
    const counts = Object.fromEntries(match[2]!.trim().split(/\s+/).map((pair) => pair.split('=')).map(([key, value]) => [key, Number(value)]));
    recap[match[1]!] = {
      ok: counts.ok ?? 0,
      changed: counts.changed ?? 0,
      unreachable: counts.unreachable ?? 0,
      failed: counts.failed ?? 0,
      skipped: counts.skipped ?? 0,
      rescued: counts.rescued ?? 0,
      ignored: counts.ignored ?? 0,
    };
  }
  return recap;
}

function explainFailure(output: string, recap: Record<string, HostRecap>, options: PlaybookOptions): string {
  const unreachable = Object.entries(recap).filter(([, host]) => host.unreachable > 0).map(([name]) => name);
  const failed = Object.entries(recap).filter(([, host]) => host.failed > 0).map(([name]) => name);
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/.test(output)) {
    return `host key verification failed for ${unreachable.join(', ') || 'a host'}: its key is not the one in ${options.knownHostsFile ?? 'known_hosts'}; if the host was rebuilt, remove its old key with ssh-keygen -R and add the new one`;
  }
  const parts: string[] = [];
  if (failed.length) parts.push(`failed on ${failed.join(', ')}`);
  if (unreachable.length) parts.push(`unreachable: ${unreachable.map((name) => describeUnreachable(name, output, options)).join('; ')}`);
  return parts.length ? `playbook ${parts.join('; ')}` : 'ansible-playbook failed';
}

/** `osdc-w1 (root@10.0.0.5:22, key id_ed25519): Permission denied (publickey)`: who, how, and what SSH said. */
function describeUnreachable(name: string, output: string, options: PlaybookOptions): string {
  const host = typeof options.inventory === 'string' ? undefined : inventoryHosts(options.inventory).get(name);
  const reached = host ? `${host.user ?? options.user ?? '(ssh default user)'}@${host.address ?? name}:${host.port ?? 22}` : name;
  const key = options.privateKey ? `key ${options.privateKey}` : 'keys of the SSH agent';
  const line = output.split('\n').find((text) => text.includes(`[${name}]: UNREACHABLE! => `));
  const message = line === undefined ? undefined : sshMessage(line.slice(line.indexOf('=> ') + 3));
  return `${name} (${reached}, ${key})${message ? `: ${message}` : ''}`;
}

/** What SSH said, from an UNREACHABLE result: Ansible's own wrapping taken off, its last line kept. */
function sshMessage(result: string): string | undefined {
  let message: unknown;
  try {
    message = (JSON.parse(result) as { msg?: unknown }).msg;
  } catch {
    return undefined;
  }
  if (typeof message !== 'string') return undefined;
  const lines = message
    .replace(/^Failed to connect to the host via ssh: /, '')
    .replace(/^Data could not be sent to remote host .*?reached over ssh: /, '')
    .split(/\r?\n/)
    .map((text) => text.replace(/^ssh: /, '').trim())
    .filter((text) => text !== '');
  return lines.at(-1);
}
