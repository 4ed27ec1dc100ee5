import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stopGroups } from '../process/process-groups.js';
import { debianRoot, packageMirror } from './debian-root.js';

const run = promisify(execFile);

/** Where the Debian root and the package mirror are kept between runs: once per machine. */
const machineCache = path.join(path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url)))), '.cache', 'lab', 'debian');
/** The package mirror's port on the rig's bridge address. */
const mirrorPort = 8080;

/** One throwaway host: an sshd with its own network namespace, hostname, /etc, /root and /home. */
export interface TestHost {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** The network namespace, or undefined in the loopback fallback. */
  readonly namespace: string | undefined;
  /**
   * Where the host's private /etc, /root, /home and keys live on the real filesystem (shared hosts); for a
   * whole machine, its overlay's upper and work directories, read through `exec` while it runs.
   */
  readonly directory: string;
  /** A whole machine: its own root filesystem and process table; otherwise it shares /usr, /var and /run. */
  readonly wholeMachine: boolean;
}

export interface TestHostOptions {
  readonly count: number;
  /** A directory the rig owns: host directories, keys and known_hosts are written here. */
  readonly directory: string;
  /** Host names, default `host1`..`hostN`. */
  readonly names?: readonly string[];
  /** Force the loopback fallback even where namespaces work. */
  readonly loopback?: boolean;
  /** The first three octets of the hosts' /24 (default: random in 10.200-249.x); hosts get .11, .12, ... */
  readonly subnet?: string;
  /**
   * The PATH of every SSH session on the hosts (sshd's SetEnv), for a test that puts its own programs
   * first, in a host's private /root say. Default: sshd's own.
   */
  readonly sessionPath?: string;
  /**
   * Whole machines: each host runs on its own overlay of a Debian 12 root (made once per machine, see
   * debian-root.ts) with its own mount, UTS, PID and network namespaces, a private /run and /tmp, and apt
   * pointed at a package mirror on the rig's bridge that holds `packages` (what its playbooks install).
   * Needs namespaces (root); the hosts have no route out.
   */
  readonly wholeMachines?: { readonly packages: readonly string[] };
}

/** What `detach()` saves so another process can stop a rig left running (the lab). */
export interface DetachedRig {
  readonly bridge: string | undefined;
  /** The package mirror's HTTP server (whole machines). */
  readonly mirrorPid?: number;
  readonly hosts: readonly (TestHost & { readonly pid: number })[];
  readonly knownHostsFile: string;
  readonly privateKeyFile: string;
}

interface RunningHost extends TestHost {
  process: ChildProcess;
  /** The Debian root under a whole machine's overlay. */
  readonly root: string | undefined;
}

/**
 * Starts test hosts for tests and the lab environment: each an sshd in its own network namespace (a veth
 * pair on a private bridge, an address in a /24 that exists only here), with its own hostname and private
 * copies of /etc, /root and /home (bind mounts in its own mount namespace), so users and files differ per
 * host. Host keys are generated per host and pinned in `known_hosts`; the client key is `id_ed25519`.
 * Where namespaces are unavailable, hosts are sshd instances on 127.0.0.1 with their own ports.
 */
export class TestHostRig {
  private constructor(
    readonly directory: string,
    private readonly running: RunningHost[],
    private readonly bridge: string | undefined,
  ) {}

  private mirrorServer: ChildProcess | undefined;

  get hosts(): readonly TestHost[] {
    return this.running;
  }

  get knownHostsFile(): string {
    return path.join(this.directory, 'known_hosts');
  }

  get privateKeyFile(): string {
    return path.join(this.directory, 'id_ed25519');
  }

  readonly user = 'root';

  static async start(options: TestHostOptions): Promise<TestHostRig> {
    mkdirSync(options.directory, { recursive: true, mode: 0o700 });
    mkdirSync('/run/sshd', { recursive: true });
    const id = randomBytes(2).toString('hex');
    const useNamespaces = !options.loopback && (await namespacesWork());
    const subnet = options.subnet ?? `10.${200 + (parseInt(id, 16) % 50)}.${parseInt(id.slice(2), 16) % 250}`;
    const bridge = useNamespaces ? `obr-${id}` : undefined;
    if (options.wholeMachines && !useNamespaces) throw new Error('whole-machine test hosts need network namespaces: run as root on Linux');
    const machine = options.wholeMachines ? await prepareMachine(options.wholeMachines.packages) : undefined;
    if (bridge) await refuseSubnetInUse(subnet);
    const rig = new TestHostRig(options.directory, [], bridge);
    try {
      await sshKeygen(rig.privateKeyFile);
      if (bridge) {
        await ip('link', 'add', bridge, 'type', 'bridge');
        await ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
        await ip('link', 'set', bridge, 'up');
      }
      if (machine) rig.mirrorServer = await serveMirror(machine.mirror, `${subnet}.1`);
      for (let index = 0; index < options.count; index++) {
        const name = options.names?.[index] ?? `host${index + 1}`;
        const host = bridge
          ? await startNamespacedHost(rig, options, name, `onb-${id}-${index + 1}`, `obv-${id}-${index + 1}`, bridge, subnet, index + 11, machine?.root)
          : await startLoopbackHost(rig, options, name, 2200 + ((parseInt(id, 16) + index * 7) % 20000));
        rig.running.push(host);
      }
      writeFileSync(rig.knownHostsFile, rig.running.map((host) => knownHostsLine(host)).join(''), { mode: 0o600 });
      await Promise.all(rig.running.map((host) => waitForPort(host.address, host.port, host.process)));
      // The root's package lists name Debian's archive; a host knows its own source, the mirror, as a
      // node installed from a site's mirror does.
      if (machine) await Promise.all(rig.running.map((host) => rig.exec(host, ['apt-get', 'update', '-qq'])));
      return rig;
    } catch (error) {
      await rig.stop();
      throw error;
    }
  }

  /** Gives a host a new host key and restarts its sshd (a rebuilt host): clients must refuse it. */
  async replaceHostKey(host: TestHost): Promise<void> {
    const running = this.running.find((candidate) => candidate.name === host.name)!;
    await stopProcessTree(running);
    rmSync(path.join(running.directory, 'ssh_host_ed25519_key'), { force: true });
    rmSync(path.join(running.directory, 'ssh_host_ed25519_key.pub'), { force: true });
    await sshKeygen(path.join(running.directory, 'ssh_host_ed25519_key'));
    running.process = launchSshd(running);
    await waitForPort(running.address, running.port, running.process);
  }

  /**
   * Adds a user to a host (its private /etc and /home), who logs in with the rig's key; with `sudo`, the
   * user may run anything as root without a password.
   */
  async addUser(host: TestHost, name: string, options: { readonly sudo?: boolean } = {}): Promise<void> {
    // Password '*' rather than '!': sshd refuses accounts whose password is locked.
    await this.exec(host, ['useradd', '--create-home', '--shell', '/bin/bash', '--password', '*', name]);
    const ssh = `/home/${name}/.ssh`;
    await this.exec(host, ['install', '-d', '-m', '700', '-o', name, '-g', name, ssh]);
    const rigKey = host.wholeMachine ? '/root/.ssh/authorized_keys' : path.join(host.directory, 'authorized_keys');
    await this.exec(host, ['install', '-m', '600', '-o', name, '-g', name, rigKey, `${ssh}/authorized_keys`]);
    if (options.sudo) writeFileSync(this.pathIn(host, `/etc/sudoers.d/${name}`), `${name} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
  }

  /**
   * Where `file` (an absolute path inside the host) is reached from this machine, to put or read a fixture:
   * a whole machine's files through its first process's root (/proc/<pid>/root, the overlay as the host
   * sees it); a shared host's private /etc, /root and /home in its directory; anything else is the machine's own.
   */
  pathIn(host: TestHost, file: string): string {
    const pid = this.running.find((candidate) => candidate.name === host.name)!.process.pid!;
    if (host.wholeMachine) return path.join('/proc', String(machineInit(pid)), 'root', file);
    const part = file.split('/')[1];
    return part === 'etc' || part === 'root' || part === 'home' ? path.join(host.directory, file) : file;
  }

  /** Runs a command inside a host (its namespaces, and its root for a whole machine), for test assertions. */
  async exec(host: TestHost, command: readonly string[]): Promise<string> {
    const pid = this.running.find((candidate) => candidate.name === host.name)!.process.pid!;
    if (host.wholeMachine) {
      const { stdout } = await run('nsenter', ['--target', String(machineInit(pid)), '--mount', '--uts', '--pid', '--net', '--root', '--wd', '--', ...command], { maxBuffer: 64 << 20 });
      return stdout;
    }
    const enter = ['nsenter', `--mount=/proc/${pid}/ns/mnt`, `--uts=/proc/${pid}/ns/uts`, '--', ...command];
    const { stdout } = host.namespace ? await run('ip', ['netns', 'exec', host.namespace, ...enter]) : await run(enter[0]!, enter.slice(1));
    return stdout;
  }

  /** Lets this process exit while the hosts keep running; the result is what stopDetached() needs. */
  detach(): DetachedRig {
    for (const host of this.running) {
      host.process.stderr?.destroy();
      host.process.unref();
    }
    this.mirrorServer?.unref();
    return {
      bridge: this.bridge,
      ...(this.mirrorServer ? { mirrorPid: this.mirrorServer.pid! } : {}),
      hosts: this.running.map(({ process: child, ...host }) => ({ ...host, pid: child.pid! })),
      knownHostsFile: this.knownHostsFile,
      privateKeyFile: this.privateKeyFile,
    };
  }

  /** Runs a command inside a whole machine of a detached rig (the lab's hosts), for checks and tests. */
  static async execDetached(rig: DetachedRig, name: string, command: readonly string[]): Promise<string> {
    const host = rig.hosts.find((candidate) => candidate.name === name);
    if (!host?.wholeMachine) throw new Error(`no whole-machine host ${name} in this rig`);
    const { stdout } = await run('nsenter', ['--target', String(machineInit(host.pid)), '--mount', '--uts', '--pid', '--net', '--root', '--wd', '--', ...command], { maxBuffer: 64 << 20 });
    return stdout;
  }

  /** Where `file` (an absolute path inside a whole machine of a detached rig) is reached from this machine. */
  static pathInDetached(rig: DetachedRig, name: string, file: string): string {
    const host = rig.hosts.find((candidate) => candidate.name === name);
    if (!host?.wholeMachine) throw new Error(`no whole-machine host ${name} in this rig`);
    return path.join('/proc', String(machineInit(host.pid)), 'root', file);
  }

  /** Stops a rig another process started and detached. */
  static async stopDetached(rig: DetachedRig): Promise<void> {
    for (const host of rig.hosts) {
      try {
        process.kill(-host.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (rig.mirrorPid) killQuietly(rig.mirrorPid);
    await removeNetwork(rig.hosts, rig.bridge);
  }

  /** Stops every sshd (whole process groups), removes the namespaces, veths and bridge. */
  async stop(): Promise<void> {
    for (const host of this.running) await stopProcessTree(host);
    if (this.mirrorServer?.pid) killQuietly(this.mirrorServer.pid);
    await removeNetwork(this.running, this.bridge);
    this.running.length = 0;
  }
}

/** Kills whatever still runs in each host's namespace, then deletes the namespaces and the bridge. */
async function removeNetwork(hosts: readonly TestHost[], bridge: string | undefined): Promise<void> {
  for (const host of hosts) {
    if (!host.namespace) continue;
    const { stdout } = await run('ip', ['netns', 'pids', host.namespace]).catch(() => ({ stdout: '' }));
    for (const pid of stdout.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await ip('netns', 'del', host.namespace).catch(() => undefined);
  }
  if (bridge) await ip('link', 'del', bridge).catch(() => undefined);
}

async function namespacesWork(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const probe = `onb-probe-${process.pid}`;
  try {
    await ip('netns', 'add', probe);
    await ip('netns', 'del', probe);
    return true;
  } catch {
    return false;
  }
}

function ip(...args: string[]) {
  return run('ip', args);
}

async function sshKeygen(file: string): Promise<void> {
  // ssh-keygen asks before overwriting, and nothing would answer: a key left by an earlier rig goes first.
  for (const stale of [file, `${file}.pub`]) rmSync(stale, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', path.basename(path.dirname(file)), '-f', file]);
}

async function prepareHostDirectory(rig: TestHostRig, options: TestHostOptions, name: string, address: string, port: number): Promise<string> {
  const directory = path.join(rig.directory, name);
  for (const part of ['etc', 'root', 'home']) mkdirSync(path.join(directory, part), { recursive: true });
  await run('cp', ['-a', '/etc/.', path.join(directory, 'etc')]);
  writeFileSync(path.join(directory, 'etc', 'hostname'), `${name}\n`);
  writeFileSync(path.join(directory, 'etc', 'hosts'), `127.0.0.1 localhost\n${address} ${name}\n`);
  await sshKeygen(path.join(directory, 'ssh_host_ed25519_key'));
  writeFileSync(path.join(directory, 'authorized_keys'), readFileSync(`${rig.privateKeyFile}.pub`), { mode: 0o600 });
  writeFileSync(
    path.join(directory, 'sshd_config'),
    [
      `Port ${port}`,
      `ListenAddress ${address}`,
      `HostKey ${path.join(directory, 'ssh_host_ed25519_key')}`,
      `AuthorizedKeysFile .ssh/authorized_keys ${path.join(directory, 'authorized_keys')}`,
      'PidFile none',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      'LogLevel ERROR',
      ...(options.sessionPath ? [`SetEnv PATH=${options.sessionPath}`] : []),
      '',
    ].join('\n'),
  );
  return directory;
}

async function startNamespacedHost(
  rig: TestHostRig,
  options: TestHostOptions,
  name: string,
  namespace: string,
  veth: string,
  bridge: string,
  subnet: string,
  octet: number,
  root: string | undefined,
): Promise<RunningHost> {
  const address = `${subnet}.${octet}`;
  const directory = root ? await prepareMachineDirectory(rig, options, name, address, subnet) : await prepareHostDirectory(rig, options, name, address, 22);
  await ip('netns', 'add', namespace);
  try {
    await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`);
    await ip('link', 'set', `${veth}p`, 'netns', namespace);
    await ip('link', 'set', veth, 'master', bridge);
    await ip('link', 'set', veth, 'up');
    await ip('-n', namespace, 'link', 'set', `${veth}p`, 'name', 'eth0');
    await ip('-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    await ip('-n', namespace, 'link', 'set', 'eth0', 'up');
    await ip('-n', namespace, 'link', 'set', 'lo', 'up');
    // Traffic to the host must stay on our bridge, never leave the machine.
    const { stdout } = await ip('route', 'get', address);
    if (!stdout.includes(`dev ${bridge}`)) throw new Error(`route to test host ${address} does not use bridge ${bridge}: ${stdout.trim()}`);
  } catch (error) {
    // Nothing of a host that did not start stays behind (its veth goes with the namespace).
    await ip('netns', 'del', namespace).catch(() => undefined);
    await ip('link', 'del', veth).catch(() => undefined);
    throw error;
  }
  const host: RunningHost = { name, address, port: 22, namespace, directory, wholeMachine: root !== undefined, root, process: undefined as never };
  host.process = launchSshd(host);
  return host;
}

async function startLoopbackHost(rig: TestHostRig, options: TestHostOptions, name: string, port: number): Promise<RunningHost> {
  const directory = await prepareHostDirectory(rig, options, name, '127.0.0.1', port);
  const host: RunningHost = { name, address: '127.0.0.1', port, namespace: undefined, directory, wholeMachine: false, root: undefined, process: undefined as never };
  host.process = launchSshd(host);
  return host;
}

/** The Debian root and its package mirror, made once per machine. */
async function prepareMachine(packages: readonly string[]): Promise<{ root: string; mirror: string }> {
  const root = await debianRoot(machineCache);
  return { root, mirror: await packageMirror(machineCache, root, packages) };
}

/** The mirror over HTTP on the bridge's address only: the hosts reach it, nothing else does. */
async function serveMirror(mirror: string, address: string): Promise<ChildProcess> {
  for (const pid of await stopLeftoverMirrors(address, mirrorPort)) {
    process.stderr.write(`stopped a package mirror that a killed run left on ${address}:${mirrorPort} (pid ${pid})\n`);
  }
  const server = spawn('python3', ['-m', 'http.server', '--bind', address, '--directory', mirror, String(mirrorPort)], { detached: true, stdio: 'ignore' });
  await waitForPort(address, mirrorPort, server);
  return server;
}

/**
 * Stops the package mirrors a killed run left listening on `address`:`port` (python's http.server, as
 * serveMirror starts it), and returns their pids. The rig's subnet was checked free first, so such a server
 * belongs to no running rig: it would answer in place of the new one, serving a mirror that may be gone.
 * Each leads its own process group (serveMirror starts it detached): stopped as the engine stops what a
 * killed run left, TERM, then KILL after 5 s.
 */
export async function stopLeftoverMirrors(address: string, port: number): Promise<number[]> {
  const leftovers = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      } catch {
        return false;
      }
      const module = argv.indexOf('http.server');
      return module > 0 && argv[module - 1] === '-m' && argv[argv.indexOf('--bind') + 1] === address && argv.at(-1) === String(port);
    })
    .map(Number);
  await stopGroups(leftovers, 5_000);
  return leftovers;
}

async function refuseSubnetInUse(subnet: string): Promise<void> {
  const { stdout } = await ip('-o', 'addr', 'show');
  const taken = stdout.split('\n').find((line) => line.includes(` ${subnet}.1/`));
  if (taken) throw new Error(`subnet ${subnet}.0/24 is already in use on this machine (${taken.trim().split(/\s+/)[1]}): another lab or test rig runs; choose another subnet`);
}

/**
 * A whole machine's own files, written into its overlay's upper directory before it starts: hostname,
 * hosts, host key, the rig's client key for root, an sshd drop-in, and apt pointed at the rig's mirror.
 */
async function prepareMachineDirectory(rig: TestHostRig, options: TestHostOptions, name: string, address: string, subnet: string): Promise<string> {
  const directory = path.join(rig.directory, name);
  const upper = path.join(directory, 'upper');
  for (const part of ['work', 'merged', 'upper/etc/ssh/sshd_config.d', 'upper/etc/apt', 'upper/root/.ssh']) mkdirSync(path.join(directory, part), { recursive: true });
  chmodSync(path.join(upper, 'root'), 0o700);
  chmodSync(path.join(upper, 'root', '.ssh'), 0o700);
  writeFileSync(path.join(upper, 'etc', 'hostname'), `${name}\n`);
  writeFileSync(path.join(upper, 'etc', 'hosts'), `127.0.0.1 localhost\n${address} ${name}\n`);
  // No route out, so no name server: lookups fail at once instead of timing out.
  writeFileSync(path.join(upper, 'etc', 'resolv.conf'), '# test host: no name server\n');
  writeFileSync(path.join(upper, 'etc', 'apt', 'sources.list'), `deb http://${subnet}.1:${mirrorPort} bookworm main\n`);
  // The mirror carries packages, not translations of their descriptions (as air-gapped mirrors often do).
  mkdirSync(path.join(upper, 'etc', 'apt', 'apt.conf.d'), { recursive: true });
  writeFileSync(path.join(upper, 'etc', 'apt', 'apt.conf.d', '90-site-mirror'), 'Acquire::Languages "none";\n');
  await sshKeygen(path.join(upper, 'etc', 'ssh', 'ssh_host_ed25519_key'));
  writeFileSync(path.join(directory, 'ssh_host_ed25519_key.pub'), readFileSync(path.join(upper, 'etc', 'ssh', 'ssh_host_ed25519_key.pub')));
  writeFileSync(path.join(upper, 'root', '.ssh', 'authorized_keys'), readFileSync(`${rig.privateKeyFile}.pub`), { mode: 0o600 });
  // Debian's sshd_config includes these first, and the first value of a setting wins.
  writeFileSync(
    path.join(upper, 'etc', 'ssh', 'sshd_config.d', 'test-host.conf'),
    [`ListenAddress ${address}`, 'HostKey /etc/ssh/ssh_host_ed25519_key', 'UsePAM no', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'LogLevel ERROR', ...(options.sessionPath ? [`SetEnv PATH=${options.sessionPath}`] : []), ''].join('\n'),
  );
  return directory;
}

/** The first process inside a whole machine's PID namespace (its sshd): the one to enter. */
function machineInit(launcherPid: number): number {
  const children = readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, 'utf8').trim().split(/\s+/);
  return Number(children[0]);
}

function killQuietly(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Gone.
  }
}

function launchSshd(host: RunningHost): ChildProcess {
  if (host.root) return launchMachine(host, host.root);
  const mounts = ['etc', 'root', 'home'].map((part) => `mount --bind ${path.join(host.directory, part)} /${part}`).join(' && ');
  const script = `${mounts} && hostname ${host.name} && exec /usr/sbin/sshd -D -e -f ${path.join(host.directory, 'sshd_config')}`;
  const isolated = ['unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', script];
  const argv = host.namespace ? ['ip', 'netns', 'exec', host.namespace, ...isolated] : isolated;
  return spawnHost(argv);
}

/**
 * A whole machine: new mount, UTS and PID namespaces (its sshd is their first process, so when it stops
 * everything the host started stops too, and every mount goes with the namespace), the overlay as its root,
 * its own /proc, /sys, /run and /tmp. Paths go in as arguments, never into the script's text.
 */
function launchMachine(host: RunningHost, root: string): ChildProcess {
  const script = [
    'set -e',
    'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/work" "$2/merged"',
    'cd "$2/merged"',
    'mount -t proc proc proc',
    'mount -t sysfs -o ro sysfs sys',
    'mount --rbind /dev dev',
    'mount -t tmpfs -o mode=755 tmpfs run',
    'mount -t tmpfs -o mode=1777 tmpfs tmp',
    'mkdir -p run/sshd',
    'hostname "$3"',
    'exec chroot . /usr/sbin/sshd -D -e',
  ].join('\n');
  const argv = ['ip', 'netns', 'exec', host.namespace!, 'unshare', '--mount', '--uts', '--pid', '--fork', '--propagation', 'private', 'sh', '-c', script, 'machine', root, host.directory, host.name];
  return spawnHost(argv);
}

/** Starts a host's launcher in its own process group; what it says on a failed start is kept for the error. */
function spawnHost(argv: readonly string[]): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (chunk) => (errors += chunk));
  child.once('exit', (code) => {
    if (code !== 0 && code !== null) (child as ChildProcess & { startupError?: string }).startupError = errors.trim();
  });
  return child;
}

async function stopProcessTree(host: RunningHost): Promise<void> {
  const child = host.process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Gone.
    }
  }, 2000);
  await exited;
  clearTimeout(timer);
}

function knownHostsLine(host: TestHost): string {
  const key = readFileSync(path.join(host.directory, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const name = host.port === 22 ? host.address : `[${host.address}]:${host.port}`;
  return `${name} ${key}\n`;
}

function waitForPort(address: string, port: number, child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const startupError = (child as ChildProcess & { startupError?: string }).startupError;
      if (child.exitCode !== null) return reject(new Error(`test host sshd on ${address}:${port} exited: ${startupError ?? child.exitCode}`));
      const socket = net.connect({ host: address, port }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', () => {
        socket.destroy();
        if (Date.now() - started > timeoutMs) reject(new Error(`test host sshd on ${address}:${port} did not start`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

