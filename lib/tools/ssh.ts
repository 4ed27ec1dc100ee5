import { mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Config, NodeSSH } from 'node-ssh';
import type { ClientChannel } from 'ssh2';
import { CommandFailure } from '../dsl/command-failure.js';
import { formatCommand, tail, type ToolContext } from './command.js';
import { KnownHosts, type HostKeyVerdict } from './known-hosts.js';
import { registerRunResource } from './run-resources.js';

/** A host to reach over SSH. Host keys are always verified against `knownHostsFile`. */
export interface SshTarget {
  readonly host: string;
  readonly port?: number;
  readonly user: string;
  /** Path to the private key; without it the SSH agent (SSH_AUTH_SOCK) is used. */
  readonly privateKey?: string;
  /** Default: ~/.ssh/known_hosts. */
  readonly knownHostsFile?: string;
  /** Reach the host through this one (like ssh -J). */
  readonly jump?: SshTarget;
  /** Extra connection attempts when the host refuses or does not answer (default 2). */
  readonly connectRetries?: number;
}

export interface SshExecOptions {
  readonly cwd?: string;
  /** Runs the command as root: through `sudo -n --` where the target logs in as another user. */
  readonly asRoot?: boolean;
  readonly timeoutMs?: number;
  readonly okExitCodes?: readonly number[];
  readonly stdin?: string;
  /** The command prints a secret (a token it makes): its stdout is neither logged nor quoted in a failure. */
  readonly stdoutIsSecret?: boolean;
}

export interface SshExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** A refused host key: unknown, changed or revoked. Never retried. */
export class HostKeyError extends Error {
  constructor(target: SshTarget, verdict: Exclude<HostKeyVerdict, { kind: 'match' }>, file: string) {
    const where = `${target.host}${target.port && target.port !== 22 ? `:${target.port}` : ''}`;
    const fix =
      verdict.kind === 'unknown'
        ? `add it after checking its fingerprint: ssh-keyscan -p ${target.port ?? 22} ${target.host} >> ${file}`
        : verdict.kind === 'changed'
          ? `if the host was rebuilt, remove the old key (ssh-keygen -R ${where} -f ${file}) and add the new one; otherwise someone may be intercepting the connection`
          : 'the key is marked @revoked: do not connect';
    super(`host key of ${where} ${verdict.kind === 'unknown' ? `is not in ${file}` : verdict.kind === 'changed' ? `does not match ${file} line ${verdict.line}` : `is revoked in ${file} line ${verdict.line}`}: ${fix}`);
    this.name = 'HostKeyError';
  }
}

const connections = new Map<string, Promise<NodeSSH>>();
let connectCount = 0;

function keyOf(target: SshTarget): string {
  return `${target.user}@${target.host}:${target.port ?? 22}${target.jump ? ` via ${keyOf(target.jump)}` : ''}`;
}

/** How many SSH connections this process has opened (pooling makes it one per host). */
export function sshConnectionCount(): number {
  return connectCount;
}

/** One pooled connection per host, shared by every task of the run. */
export function sshConnection(target: SshTarget): Promise<NodeSSH> {
  const key = keyOf(target);
  let connection = connections.get(key);
  if (!connection) {
    registerRunResource(closeSshConnections);
    connection = connectWithRetries(target);
    connections.set(key, connection);
    connection.catch(() => connections.delete(key));
  }
  return connection;
}

/** Closes every pooled connection (the CLI does this when a run ends). */
export async function closeSshConnections(): Promise<void> {
  const open = [...connections.values()];
  connections.clear();
  for (const connection of open) (await connection.catch(() => undefined))?.dispose();
}

async function connectWithRetries(target: SshTarget): Promise<NodeSSH> {
  const attempts = 1 + (target.connectRetries ?? 2);
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(target);
    } catch (error) {
      const transient = /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ECONNRESET|Timed out while waiting for handshake/.test(String((error as Error).message ?? error));
      if (!transient || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** (attempt - 1)));
    }
  }
}

let nodeSsh: Promise<typeof NodeSSH> | undefined;

/**
 * node-ssh (with ssh2) takes 60-100 ms to load through tsx: loaded at the first connection, so commands
 * and runs that never open one (--status, dry runs, local tasks) do not pay for it.
 */
function loadNodeSsh(): Promise<typeof NodeSSH> {
  return (nodeSsh ??= import('node-ssh').then((module) => module.NodeSSH));
}

async function connect(target: SshTarget): Promise<NodeSSH> {
  const knownHostsFile = target.knownHostsFile ?? path.join(os.homedir(), '.ssh', 'known_hosts');
  const knownHosts = KnownHosts.read(knownHostsFile);
  const port = target.port ?? 22;
  let refused: HostKeyError | undefined;
  const config: Config = {
    host: target.host,
    port,
    username: target.user,
    readyTimeout: 20_000,
    hostVerifier: (key: Buffer) => {
      const verdict = knownHosts.verify(target.host, port, key);
      if (verdict.kind === 'match') return true;
      refused = new HostKeyError(target, verdict, knownHostsFile);
      return false;
    },
    ...(target.privateKey ? { privateKeyPath: target.privateKey } : process.env.SSH_AUTH_SOCK ? { agent: process.env.SSH_AUTH_SOCK } : {}),
  };
  if (target.jump) {
    const jump = await sshConnection(target.jump);
    config.sock = (await jump.forwardOut('127.0.0.1', 0, target.host, port)) as never;
  }
  const ssh = new (await loadNodeSsh())();
  try {
    await ssh.connect(config);
  } catch (error) {
    throw refused ?? error;
  }
  connectCount++;
  return ssh;
}

/**
 * Runs a command on a host: arguments are quoted one by one, output streams live into the task's log, the
 * task's abort signal or `timeoutMs` signals the remote process and closes the channel.
 */
export async function sshExec(context: ToolContext, target: SshTarget, argv: readonly string[], options: SshExecOptions = {}): Promise<SshExecResult> {
  const command = options.asRoot && target.user !== 'root' ? ['sudo', '-n', '--', ...argv] : [...argv];
  const display = `ssh ${target.user}@${target.host} -- ${formatCommand(command)}`;
  if (context.dryRun) {
    context.commands.started(display)(0);
    return { stdout: '', stderr: '', exitCode: 0 };
  }
  const ssh = await sshConnection(target);
  const finished = context.commands.started(display);
  let channel: ClientChannel | undefined;
  let stopped: 'timeout' | 'aborted' | undefined;
  const stop = (why: 'timeout' | 'aborted') => {
    stopped = why;
    channel?.signal('KILL');
    channel?.close();
  };
  const onAbort = () => stop('aborted');
  context.signal.addEventListener('abort', onAbort, { once: true });
  const timer = options.timeoutMs ? setTimeout(() => stop('timeout'), options.timeoutMs) : undefined;
  try {
    const [program, ...parameters] = command;
    const result = await ssh.exec(program!, parameters, {
      stream: 'both',
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      onChannel: (opened) => {
        channel = opened;
        if (context.signal.aborted) stop('aborted');
      },
      onStdout: (chunk) => {
        if (!options.stdoutIsSecret) context.commands.stdout(chunk.toString());
      },
      onStderr: (chunk) => context.commands.stderr(chunk.toString()),
    });
    const exitCode = result.code ?? -1;
    finished(result.code, result.signal);
    const shown = options.stdoutIsSecret ? result.stderr : `${result.stdout}\n${result.stderr}`;
    if (stopped === 'timeout') throw new CommandFailure(display, null, 'KILL', tail(shown), `timed out after ${options.timeoutMs} ms; the remote command was killed`);
    if (stopped === 'aborted') throw context.signal.reason ?? new Error('aborted');
    if (exitCode !== 0 && !(options.okExitCodes ?? []).includes(exitCode)) {
      throw new CommandFailure(display, result.code, result.signal, tail(shown));
    }
    return { stdout: result.stdout, stderr: result.stderr, exitCode };
  } finally {
    if (timer) clearTimeout(timer);
    context.signal.removeEventListener('abort', onAbort);
  }
}

/** Uploads a file or a directory (recursively). */
export async function sshUpload(context: ToolContext, target: SshTarget, local: string, remote: string): Promise<void> {
  const finished = context.commands.started(`sftp put ${local} ${target.user}@${target.host}:${remote}`);
  if (context.dryRun) return finished(0);
  const ssh = await sshConnection(target);
  if ((await stat(local)).isDirectory()) {
    const failures: string[] = [];
    const ok = await ssh.putDirectory(local, remote, { recursive: true, concurrency: 4, tick: (file, _remote, error) => error && failures.push(`${file}: ${error.message}`) });
    finished(ok ? 0 : 1);
    if (!ok) throw new CommandFailure(`sftp put ${local}`, 1, null, failures.join('\n'), `upload of ${local} failed`);
  } else {
    await ssh.putFile(local, remote);
    finished(0);
  }
}

/** Downloads a file, or a directory (recursively) when `directory` is set. */
export async function sshDownload(context: ToolContext, target: SshTarget, remote: string, local: string, options: { directory?: boolean } = {}): Promise<void> {
  const finished = context.commands.started(`sftp get ${target.user}@${target.host}:${remote} ${local}`);
  if (context.dryRun) return finished(0);
  const ssh = await sshConnection(target);
  if (options.directory) {
    await mkdir(local, { recursive: true });
    const ok = await ssh.getDirectory(local, remote, { recursive: true, concurrency: 4 });
    finished(ok ? 0 : 1);
    if (!ok) throw new CommandFailure(`sftp get ${remote}`, 1, null, '', `download of ${remote} failed`);
  } else {
    await ssh.getFile(local, remote);
    finished(0);
  }
}
