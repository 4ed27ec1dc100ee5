// Security patches for the OS-patch tests: a package built with dpkg-deb, installed on a whole-machine test
// host, and a newer version published in a flat apt repository on that host, among its sources.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestHost, TestHostRig } from '../../lib/lab/test-hosts.js';

/** What the helpers need of a rig: a command inside a host and a path into its files (a detached lab's too). */
export type HostAccess = Pick<TestHostRig, 'exec' | 'pathIn'>;

/** The package at `version` (its postinst asks for a reboot, as a kernel or libc update does). */
export function probePackage(directory: string, version: string): string {
  const root = path.join(directory, `probe-${version}`);
  mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(path.join(root, 'usr', 'share', 'openspace-patch-probe'), { recursive: true });
  writeFileSync(path.join(root, 'usr', 'share', 'openspace-patch-probe', 'version'), `${version}\n`);
  writeFileSync(path.join(root, 'DEBIAN', 'control'), `Package: openspace-patch-probe\nVersion: ${version}\nArchitecture: all\nMaintainer: Onboarder tests <tests@openspace.test>\nDescription: a package the security-patch tests upgrade\n`);
  writeFileSync(path.join(root, 'DEBIAN', 'postinst'), '#!/bin/sh\ntouch /run/reboot-required\n', { mode: 0o755 });
  const deb = path.join(directory, `openspace-patch-probe_${version}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, deb], { stdio: 'ignore' });
  return deb;
}

/** Installs `deb` on the node, and clears the reboot it asks for. */
export async function installPackage(rig: HostAccess, node: TestHost, deb: string): Promise<void> {
  writeFileSync(rig.pathIn(node, '/tmp/probe.deb'), readFileSync(deb));
  await rig.exec(node, ['dpkg', '-i', '/tmp/probe.deb']);
  await rig.exec(node, ['rm', '-f', '/tmp/probe.deb', '/run/reboot-required']);
}

/** The probe's version installed on the node. */
export async function probeVersion(rig: HostAccess, node: TestHost): Promise<string> {
  return (await rig.exec(node, ['cat', '/usr/share/openspace-patch-probe/version'])).trim();
}

/** A flat apt repository holding `debs` on the node, among its sources (trusted: the test's own). */
export async function publishPatches(rig: HostAccess, node: TestHost, debs: readonly string[]): Promise<void> {
  const repository = rig.pathIn(node, '/srv/patches');
  rmSync(repository, { recursive: true, force: true });
  writeFlatRepository(repository, debs);
  writeFileSync(rig.pathIn(node, '/etc/apt/sources.list.d/patches.list'), 'deb [trusted=yes] file:/srv/patches ./\n');
}

/**
 * A flat apt repository (`deb URL /`) in `directory`: the debs, their Packages index and a Release file that
 * lists its digest (unsigned: the caller signs it into InRelease where apt is to check a key).
 */
export function writeFlatRepository(directory: string, debs: readonly string[]): void {
  mkdirSync(directory, { recursive: true });
  const entries = debs.map((deb) => {
    const bytes = readFileSync(deb);
    writeFileSync(path.join(directory, path.basename(deb)), bytes);
    const control = execFileSync('dpkg-deb', ['--field', deb], { encoding: 'utf8' }).trimEnd();
    return `${control}\nFilename: ./${path.basename(deb)}\nSize: ${bytes.length}\nSHA256: ${createHash('sha256').update(bytes).digest('hex')}\n`;
  });
  const packages = entries.join('\n');
  writeFileSync(path.join(directory, 'Packages'), packages);
  writeFileSync(path.join(directory, 'Release'), `Origin: onboarder-test\nDate: ${new Date().toUTCString()}\nSHA256:\n ${createHash('sha256').update(packages).digest('hex')} ${Buffer.byteLength(packages)} Packages\n`);
}

/** The repository leaves the node's sources. */
export function withdrawPatches(rig: HostAccess, node: TestHost): void {
  rmSync(rig.pathIn(node, '/etc/apt/sources.list.d/patches.list'), { force: true });
}
