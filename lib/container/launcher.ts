import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import { containerRunArguments } from './container-command.js';

export interface LaunchOptions {
  readonly root: string;
  /** Arguments for deploy.ts inside the container (without the container flags). */
  readonly args: readonly string[];
  /** Environment variables to pass by name when set (secrets referenced by environments, DEPLOY_ENV, ...). */
  readonly passEnvironment: readonly string[];
  readonly build: 'if-missing' | 'always';
  readonly save: boolean;
  readonly log: (line: string) => void;
}

const containerFailure = (message: string, hint: string): ConfigurationFailure => ({ reason: 'usage', message, hint });

/** podman where installed, else docker; ONBOARDER_CONTAINER_ENGINE overrides. */
export function detectEngine(): Result<string, ConfigurationFailure> {
  const candidates = process.env.ONBOARDER_CONTAINER_ENGINE ? [process.env.ONBOARDER_CONTAINER_ENGINE] : ['podman', 'docker'];
  for (const engine of candidates) {
    try {
      execFileSync(engine, ['--version'], { stdio: 'ignore' });
      return ok(engine);
    } catch {
      // Not installed; try the next.
    }
  }
  return fail(containerFailure('no container engine found', 'install podman (apt install podman) or docker, or set ONBOARDER_CONTAINER_ENGINE'));
}

/** The image tag: a hash of the Containerfile and the lockfile, so any change builds a new image. */
export function imageTag(root: string): string {
  const hash = createHash('sha256');
  for (const file of ['Containerfile', 'package-lock.json']) hash.update(readFileSync(path.join(root, file)));
  return `localhost/onboarder:${hash.digest('hex').slice(0, 12)}`;
}

/** Where an image is saved for air-gapped sites: images/onboarder-<hash>.tar. */
export function imageArchive(root: string, tag: string): string {
  return path.join(root, 'images', `onboarder-${tag.split(':')[1]}.tar`);
}

function engineSucceeds(engine: string, args: readonly string[]): boolean {
  try {
    execFileSync(engine, [...args], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function runEngine(engine: string, args: readonly string[]): number {
  try {
    execFileSync(engine, [...args], { stdio: 'inherit' });
    return 0;
  } catch (error) {
    return (error as { status?: number }).status ?? 1;
  }
}

/** Makes the image available: present, else loaded from images/ (air-gapped), else built. */
export function ensureImage(engine: string, options: LaunchOptions, tag: string): Result<void, ConfigurationFailure> {
  const present = engineSucceeds(engine, ['image', 'inspect', tag]);
  if (present && options.build === 'if-missing') return ok(undefined);
  const archive = imageArchive(options.root, tag);
  if (!present && options.build === 'if-missing' && existsSync(archive)) {
    options.log(`loading ${tag} from ${path.relative(options.root, archive)}`);
    if (runEngine(engine, ['load', '--input', archive]) === 0) return ok(undefined);
    return fail(containerFailure(`loading ${archive} failed`, 'the archive may be truncated: copy it again, or delete it to build instead'));
  }
  options.log(`building ${tag} (${engine} build)`);
  const status = runEngine(engine, ['build', '--file', path.join(options.root, 'Containerfile'), '--tag', tag, options.root]);
  if (status !== 0) {
    return fail(containerFailure(`building the image failed (exit ${status})`, `see the build output above; offline, copy ${path.relative(options.root, archive)} from a connected machine (built there with --container-save)`));
  }
  return ok(undefined);
}

/**
 * Runs `deploy.ts <args>` inside the image with the project mounted, and returns its exit code. Ctrl-C
 * reaches the container through the engine (it proxies signals); SIGTERM sent to this process is passed on.
 */
export async function runInContainer(options: LaunchOptions): Promise<Result<number, ConfigurationFailure>> {
  const engine = detectEngine();
  if (!engine.ok) return engine;
  for (const [file, kind] of [['Containerfile', 'file'], ['package-lock.json', 'file'], ['images', 'directory']] as const) {
    const found = statSync(path.join(options.root, file), { throwIfNoEntry: false });
    if (!found) return fail(containerFailure(`${file} is missing from ${options.root}`, 'run from a complete checkout of the project'));
    if (kind === 'file' ? !found.isFile() : !found.isDirectory()) return fail(containerFailure(`${path.join(options.root, file)} is not a ${kind}`, 'restore it from the project (git checkout)'));
  }
  const tag = imageTag(options.root);
  const image = ensureImage(engine.value, options, tag);
  if (!image.ok) return image;
  if (options.save) {
    const archive = imageArchive(options.root, tag);
    const status = runEngine(engine.value, ['save', '--output', archive, tag]);
    if (status !== 0) return fail(containerFailure(`saving ${tag} failed (exit ${status})`, 'check free space in images/'));
    options.log(`saved ${tag} to ${path.relative(options.root, archive)}: copy it with the project to the air-gapped site`);
    if (options.args.length === 0) return ok(0);
  }
  const agent = process.env.SSH_AUTH_SOCK;
  if (agent && !existsSync(agent)) return fail(containerFailure(`SSH_AUTH_SOCK points at ${agent}, which does not exist`, 'start ssh-agent, or unset SSH_AUTH_SOCK'));
  const knownHosts = path.join(os.homedir(), '.ssh', 'known_hosts');
  const argv = containerRunArguments({
    engine: engine.value,
    image: tag,
    projectDirectory: options.root,
    args: options.args,
    interactive: process.stdin.isTTY === true,
    terminal: process.stdin.isTTY === true && process.stdout.isTTY === true,
    user: { uid: process.getuid?.() ?? 1000, gid: process.getgid?.() ?? 1000 },
    passEnvironment: options.passEnvironment.filter((name) => process.env[name] !== undefined),
    ...(agent ? { sshAgentSocket: agent } : {}),
    ...(existsSync(knownHosts) ? { knownHostsFile: knownHosts } : {}),
    // Extra engine arguments (e.g. --ulimit where the sandbox forbids raising limits), one per word.
    extraArgs: (process.env.ONBOARDER_CONTAINER_ARGS ?? '').split(/\s+/).filter(Boolean),
  });
  const child = spawn(engine.value, argv, { stdio: 'inherit' });
  // The terminal sends Ctrl-C to the engine too; keep this process alive until the container has stopped.
  const onInterrupt = () => undefined;
  const onTerminate = () => child.kill('SIGTERM');
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onTerminate);
  try {
    const code = await new Promise<number>((resolve) => {
      child.on('error', () => resolve(127));
      child.on('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? (os.constants.signals[signal] ?? 1) : 1)));
    });
    return ok(code);
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onTerminate);
  }
}
