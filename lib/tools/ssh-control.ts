import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProgram } from '../process/start-program.js';
import { registerRunResource } from './run-resources.js';

/** The run's SSH control directories, one per known_hosts file (a master is only reused under the same checks). */
const directories = new Map<string, string>();

/**
 * Where this run's playbooks keep their SSH masters (ControlPersist): shared by every playbook of the run,
 * so a host's SSH set-up is paid once, not once per playbook; private (0700) and never shared with another
 * run or another known_hosts file, since a reused master skips host key checking. The masters are stopped
 * when the run ends, Ctrl-C included, instead of outliving it.
 */
export function runControlDirectory(knownHostsFile: string | undefined): string {
  const key = knownHostsFile ?? '';
  let directory = directories.get(key);
  if (directory === undefined) {
    if (directories.size === 0) registerRunResource(stopMasters);
    // Short: a Unix socket path has ~100 bytes, and Ansible adds a 40-character name.
    directory = mkdtempSync(path.join(os.tmpdir(), 'onb-ssh-'));
    directories.set(key, directory);
  }
  return directory;
}

/** Stops every master of the run (`ssh -O exit`) and removes the directories. */
export async function stopMasters(): Promise<void> {
  const all = [...directories.values()];
  directories.clear();
  await Promise.all(
    all.map(async (directory) => {
      const sockets = readdirSync(directory, { withFileTypes: true }).filter((entry) => entry.isSocket());
      await Promise.all(sockets.map((socket) => exitMaster(path.join(directory, socket.name))));
      rmSync(directory, { recursive: true, force: true });
    }),
  );
}

/** `ssh -O exit` through the master's socket (the host argument is required and unused); 5 s at most. */
function exitMaster(socket: string): Promise<void> {
  return new Promise((resolve) => {
    const child = startProgram('ssh', ['-O', 'exit', '-o', `ControlPath=${socket}`, 'onboarder-master'], { stdio: 'ignore' }, () => undefined);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    child.once('close', done);
    child.once('error', done);
  });
}
