import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { acquireRunLock } from '../state/run-lock.js';

const run = promisify(execFile);

/** Debian's archive, as the machine's own apt sources name it; a local mirror may stand in. */
const debianArchive = process.env.ONBOARDER_DEBIAN_ARCHIVE ?? 'http://deb.debian.org/debian';
const suite = 'bookworm';
/** What every whole-machine host has before any playbook runs: what a fresh node has (python3-apt: Ansible's apt). */
const baseSystem = ['openssh-server', 'python3', 'python3-apt', 'sudo', 'ca-certificates', 'iproute2', 'procps', 'kmod'];

/**
 * A Debian 12 root made once per machine by `debootstrap --variant=minbase` (about 1.5 min, 290 MB) and
 * cached under `cache`: test hosts run on an overlay of it. debootstrap verifies what it downloads against
 * the machine's Debian archive keyring. Returns the root's directory, never written to after it is made.
 */
export async function debianRoot(cache: string): Promise<string> {
  const key = digest([debianArchive, suite, ...baseSystem]);
  const root = path.join(cache, `${suite}-minbase-${key}`);
  return buildOnce(root, async (building) => {
    await run('debootstrap', ['--variant=minbase', `--include=${baseSystem.join(',')}`, suite, building, debianArchive], { maxBuffer: 64 << 20 });
    // The downloaded packages are not needed again; the package lists stay: the package mirror is made of them.
    await run('chroot', [building, 'apt-get', 'clean']);
  });
}

/**
 * A package mirror for hosts with no route out, as an air-gapped site has one: Debian's own signed index
 * (InRelease and the Packages file it lists) and, in `pool/`, the .deb files of `packages` and of what they
 * depend on beyond the root, downloaded once by apt in an overlay of the root. Hosts verify it as they would
 * verify Debian (its keyring is in the root); a package it lacks fails with apt's 404, by name.
 */
export async function packageMirror(cache: string, root: string, packages: readonly string[]): Promise<string> {
  const wanted = [...new Set(packages)].sort();
  const mirror = path.join(cache, `mirror-${digest([root, 'with-recommends', ...wanted])}`);
  return buildOnce(mirror, async (building) => {
    const lists = path.join(root, 'var', 'lib', 'apt', 'lists');
    const prefix = `${new URL(debianArchive).host}${new URL(debianArchive).pathname.replace(/\/$/, '')}`.replaceAll('/', '_');
    const dists = path.join(building, 'dists', suite);
    const binary = path.join(dists, 'main', 'binary-amd64');
    mkdirSync(path.join(binary, 'by-hash', 'SHA256'), { recursive: true });
    for (const name of ['InRelease', 'Release', 'Release.gpg']) linkOrCopy(path.join(lists, `${prefix}_dists_${suite}_${name}`), path.join(dists, name));
    const packagesFile = path.join(binary, 'Packages');
    linkOrCopy(path.join(lists, `${prefix}_dists_${suite}_main_binary-amd64_Packages`), packagesFile);
    // apt asks for an index by its digest first (Acquire-By-Hash in the Release file).
    linkSync(packagesFile, path.join(binary, 'by-hash', 'SHA256', createHash('sha256').update(readFileSync(packagesFile)).digest('hex')));
    if (wanted.length > 0) await downloadInto(root, building, wanted);
  });
}

/** apt resolves and downloads in a throwaway overlay of the root; each .deb goes where Debian's pool has it. */
async function downloadInto(root: string, mirror: string, packages: readonly string[]): Promise<void> {
  const scratch = `${mirror}.overlay`;
  const merged = path.join(scratch, 'merged');
  for (const part of ['upper', 'work', 'merged']) mkdirSync(path.join(scratch, part), { recursive: true });
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${root},upperdir=${scratch}/upper,workdir=${scratch}/work`, merged]);
  try {
    // As a host's apt would install them, with what they recommend.
    const apt = ['apt-get', 'install', '-qq', '-y'];
    const { stdout } = await run('chroot', [merged, ...apt, '--print-uris', ...packages], { maxBuffer: 16 << 20 });
    await run('chroot', [merged, ...apt, '--download-only', ...packages], { maxBuffer: 16 << 20 });
    // From the overlay's upper directory: the same filesystem as the mirror, so a rename.
    for (const line of stdout.split('\n')) {
      const match = /^'([^']+)' (\S+) /.exec(line);
      if (!match) continue;
      const poolPath = decodeURIComponent(new URL(match[1]!).pathname).replace(/^.*?\/pool\//, 'pool/');
      mkdirSync(path.dirname(path.join(mirror, poolPath)), { recursive: true });
      renameSync(path.join(scratch, 'upper', 'var', 'cache', 'apt', 'archives', match[2]!), path.join(mirror, poolPath));
    }
  } finally {
    await run('umount', [merged]).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Makes `target` once: built beside it under a lock (two suites may ask at the same time) and renamed into
 * place when complete, so a killed build leaves nothing that looks finished.
 */
async function buildOnce(target: string, build: (building: string) => Promise<void>): Promise<string> {
  if (existsSync(target)) return target;
  mkdirSync(path.dirname(target), { recursive: true });
  const release = await lock(`${target}.lock`);
  try {
    if (existsSync(target)) return target;
    const building = `${target}.building`;
    rmSync(building, { recursive: true, force: true });
    rmSync(`${building}.overlay`, { recursive: true, force: true });
    await build(building);
    renameSync(building, target);
    return target;
  } finally {
    release();
  }
}

/** The run lock (pid, process start, takeover of a dead or reused holder), waited for while another holds it. */
async function lock(file: string): Promise<() => void> {
  for (;;) {
    const taken = acquireRunLock(file);
    if (taken.ok) return () => void taken.value.release();
    if (taken.error.reason !== 'state-locked') throw new Error(`cannot lock ${file}: ${taken.error.reason}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function linkOrCopy(from: string, to: string): void {
  if (!existsSync(from)) throw new Error(`the Debian root has no ${path.basename(from)}: remove ${path.dirname(path.dirname(path.dirname(path.dirname(from))))} to make it again`);
  linkSync(from, to);
}

function digest(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 12);
}
