import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { digestFile } from '../../lib/stamps/digest.js';
import { publishedDigests, type ReleaseFile } from '../shared/release-files.js';

/** The release's checksum file (the publisher's), its tarballs, and the installer, as RKE2's air-gap install reads them. */
export const rke2ChecksumFile = 'sha256sum-amd64.txt';
const tarballs = ['rke2.linux-amd64.tar.gz', 'rke2-images.linux-amd64.tar.zst'] as const;

/** Where one RKE2 release's files are kept on the controller: images/rke2/<version>/ (one directory per version). */
export function rke2ArtifactsDirectory(root: string, version: string): string {
  return path.join(root, 'images', 'rke2', version);
}

/**
 * The RKE2 files of `version` with the digests a node checks them against: the tarballs' digests are the ones
 * the release's own sha256sum file publishes; install.sh and that file are hashed here, where images:fetch or
 * the bundle verified them. A missing file or a tarball the checksum file does not list is an error that says
 * where the file belongs.
 */
export async function rke2Artifacts(root: string, version: string): Promise<ReleaseFile[]> {
  const directory = rke2ArtifactsDirectory(root, version);
  const shown = (file: string) => path.relative(root, path.join(directory, file));
  for (const file of ['install.sh', rke2ChecksumFile, ...tarballs]) {
    if (!existsSync(path.join(directory, file))) {
      throw new Error(`RKE2 ${version}: ${shown(file)} is missing: put the release's install.sh, ${rke2ChecksumFile} and tarballs there (images:fetch online, bundle load air-gapped)`);
    }
  }
  const published = publishedDigests(readFileSync(path.join(directory, rke2ChecksumFile), 'utf8'));
  const artifacts: ReleaseFile[] = [];
  for (const file of tarballs) {
    const sha256 = published.get(file);
    if (!sha256) throw new Error(`RKE2 ${version}: ${shown(rke2ChecksumFile)} lists no sha256 for ${file}: it is not the release's checksum file`);
    artifacts.push({ file, sha256, source: `the release's ${rke2ChecksumFile}` });
  }
  for (const file of ['install.sh', rke2ChecksumFile]) {
    artifacts.push({ file, sha256: await digestFile(path.join(directory, file)), source: 'as verified on the controller' });
  }
  return artifacts;
}
