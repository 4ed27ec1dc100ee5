import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Environment } from '../../environments/schema.js';

/** Where a host keeps the CA of a mirror (upstreamMirrors' caFile), by the mirror's host name. */
export function mirrorCaPath(host: string): string {
  return `/etc/onboarder/mirror-ca/${host}.crt`;
}

/**
 * How a host's apt reaches the site's upstream mirrors (apt-mirrors.yml): every mirror of a URL (not of an
 * image reference), which the host's package sources are fetched through; and, per host name (apt's
 * per-host settings take no port), how apt verifies a TLS mirror that the system's CAs cannot: the CA the
 * environment names (copied to the host), or not at all (insecure).
 */
export function aptMirrorVars(config: Pick<Environment, 'upstreamMirrors'>, root: string): {
  apt_mirrors: { prefix: string; mirror: string }[];
  apt_mirror_hosts: { host: string; ca_file: string }[];
  apt_mirror_cas: { file: string; pem: string }[];
} {
  const urls = config.upstreamMirrors.filter((entry) => /^https?:\/\//.test(entry.prefix) && /^https?:\/\//.test(entry.mirror));
  const hosts = new Map<string, string>();
  const cas = new Map<string, string>();
  for (const entry of urls.filter((each) => each.mirror.startsWith('https://') && (each.caFile || each.insecure))) {
    const host = new URL(entry.mirror).hostname;
    const caFile = entry.caFile ? mirrorCaPath(host) : '';
    if (entry.caFile) cas.set(caFile, readFileSync(path.resolve(root, entry.caFile), 'utf8'));
    if (!hosts.has(host) || caFile) hosts.set(host, caFile);
  }
  return {
    apt_mirrors: urls.map(({ prefix, mirror }) => ({ prefix, mirror })),
    apt_mirror_hosts: [...hosts].map(([host, caFile]) => ({ host, ca_file: caFile })),
    apt_mirror_cas: [...cas].map(([file, pem]) => ({ file, pem })),
  };
}
