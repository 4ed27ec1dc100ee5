/** Everything that decides the engine command line; gathered by the launcher, turned into argv here (pure). */
export interface ContainerRun {
  readonly engine: string;
  readonly image: string;
  readonly projectDirectory: string;
  /** Arguments for deploy.ts inside the container. */
  readonly args: readonly string[];
  readonly interactive: boolean;
  readonly terminal: boolean;
  readonly user: { readonly uid: number; readonly gid: number };
  /** Values passed by name (secrets included: the value never appears on the command line). */
  readonly passEnvironment: readonly string[];
  readonly sshAgentSocket?: string;
  readonly knownHostsFile?: string;
  readonly extraArgs?: readonly string[];
}

export const projectMount = '/opt/onboarder/project';

/**
 * The `podman run` (or `docker run`) argv: the project mounted read-write (its .cache/ keeps state and logs
 * on the host), images/ read-only, the host's node_modules hidden so the image's own are used, the SSH
 * agent and known_hosts passed through, environment variables passed by name, a TTY only when
 * interactive. The user is the caller's, so files written under .cache/ stay theirs.
 */
export function containerRunArguments(run: ContainerRun): string[] {
  const argv = ['run', '--rm', '--init', `--user=${run.user.uid}:${run.user.gid}`, `--workdir=${projectMount}`];
  // Rootless podman maps the caller's uid into the container; rootful engines take --user as it is.
  if (run.engine.endsWith('podman') && run.user.uid !== 0) argv.push('--userns=keep-id');
  if (run.interactive) argv.push('--interactive');
  if (run.terminal) argv.push('--tty');
  argv.push(`--volume=${run.projectDirectory}:${projectMount}:rw`);
  argv.push(`--volume=${run.projectDirectory}/images:${projectMount}/images:ro`);
  argv.push(`--mount=type=tmpfs,destination=${projectMount}/node_modules`);
  argv.push('--env=HOME=/home/onboarder');
  if (run.sshAgentSocket) {
    argv.push(`--volume=${run.sshAgentSocket}:/run/ssh-agent.sock`, '--env=SSH_AUTH_SOCK=/run/ssh-agent.sock');
  }
  if (run.knownHostsFile) argv.push(`--volume=${run.knownHostsFile}:/home/onboarder/.ssh/known_hosts:ro`);
  for (const name of [...new Set(run.passEnvironment)].sort()) argv.push(`--env=${name}`);
  argv.push(...(run.extraArgs ?? []));
  argv.push(run.image, ...run.args);
  return argv;
}
