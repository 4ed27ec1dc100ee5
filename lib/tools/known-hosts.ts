import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../fs/atomic-write.js';

/** What known_hosts says about a host's key. */
export type HostKeyVerdict =
  | { readonly kind: 'match' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'changed'; readonly line: number }
  | { readonly kind: 'revoked'; readonly line: number };

interface Entry {
  readonly line: number;
  readonly marker: '' | '@revoked' | '@cert-authority';
  readonly patterns: string;
  readonly key: Buffer;
}

/**
 * Verifies host keys against an OpenSSH known_hosts file: plain and hashed (`|1|salt|hash`) host names,
 * `[host]:port` for other ports, wildcards and negations, and @revoked keys.
 */
export class KnownHosts {
  private constructor(
    readonly file: string,
    private readonly entries: readonly Entry[],
  ) {}

  static read(file: string): KnownHosts {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const entries: Entry[] = [];
    text.split('\n').forEach((raw, index) => {
      const fields = raw.trim().split(/\s+/);
      if (fields.length < 3 || fields[0]!.startsWith('#')) return;
      const marker = fields[0] === '@revoked' || fields[0] === '@cert-authority' ? (fields.shift() as Entry['marker']) : '';
      const [patterns, , base64] = fields;
      if (!patterns || !base64) return;
      entries.push({ line: index + 1, marker, patterns, key: Buffer.from(base64, 'base64') });
    });
    return new KnownHosts(file, entries);
  }

  /** The verdict for `key` (the raw public key blob the server sent) of host:port. */
  verify(host: string, port: number, key: Buffer): HostKeyVerdict {
    const name = port === 22 ? host : `[${host}]:${port}`;
    const matching = this.entries.filter((entry) => entry.marker !== '@cert-authority' && matchesHost(entry.patterns, name));
    const revoked = matching.find((entry) => entry.marker === '@revoked' && entry.key.equals(key));
    if (revoked) return { kind: 'revoked', line: revoked.line };
    const candidates = matching.filter((entry) => entry.marker === '');
    if (candidates.some((entry) => entry.key.equals(key))) return { kind: 'match' };
    if (candidates.length > 0) return { kind: 'changed', line: candidates[0]!.line };
    return { kind: 'unknown' };
  }
}

function matchesHost(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    const glob = negated ? pattern.slice(1) : pattern;
    const regex = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
    if (regex.test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** The writes to each known_hosts file, one after another (the steps of one run pin keys in parallel). */
const pinning = new Map<string, Promise<unknown>>();

/**
 * Makes `publicKey` (`type base64`, as a host's `.pub` file has it) the known key of host:port in a
 * known_hosts file: the lines that name that host alone (plainly or hashed) are replaced, every other line
 * is kept as it is, and the file is written atomically. For a key learned over a channel already trusted
 * (a VM's own key through its hypervisor), never for a key a host offers on connection.
 */
export function pinHostKey(file: string, host: string, port: number, publicKey: string): Promise<'added' | 'replaced' | 'unchanged'> {
  const [type, base64] = publicKey.trim().split(/\s+/);
  // The key's blob starts with its type, as a length-prefixed string (RFC 4253, 6.6).
  const blob = Buffer.from(base64 ?? '', 'base64');
  const named = blob.length > 4 ? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1') : '';
  if (!type || !base64 || named !== type) return Promise.reject(new Error(`'${publicKey.slice(0, 80)}' is not an SSH public key`));
  const name = port === 22 ? host : `[${host}]:${port}`;
  const pin = async () => {
    const known = KnownHosts.read(file);
    const key = Buffer.from(base64, 'base64');
    const verdict = known.verify(host, port, key);
    if (verdict.kind === 'match') return 'unchanged' as const;
    if (verdict.kind === 'revoked') throw new Error(`the key of ${name} is revoked in ${file} (line ${verdict.line}): it is not made known again`);
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const kept = text.split('\n').filter((raw) => {
      const fields = raw.trim().split(/\s+/);
      return fields[0]?.startsWith('@') || !(fields[0] === name || (fields[0]?.startsWith('|1|') && matchesHost(fields[0], name)));
    });
    const lines = kept.join('\n').replace(/\n*$/, '');
    await writeFileAtomic(file, `${lines ? `${lines}\n` : ''}${name} ${type} ${base64}\n`);
    return verdict.kind === 'unknown' ? ('added' as const) : ('replaced' as const);
  };
  const result = (pinning.get(file) ?? Promise.resolve()).then(pin, pin);
  pinning.set(file, result.catch(() => undefined));
  return result;
}
