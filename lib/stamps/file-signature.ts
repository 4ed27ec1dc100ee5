import type { BigIntStats } from 'node:fs';

/**
 * Whether a file is still the one seen before, without reading it: device, inode, mode, size, and
 * modification and change times in nanoseconds (the change time cannot be set back by hand; a directory's
 * change when an entry is added, removed or renamed), as git's index decides it. Everything remembered
 * about a file by its metadata goes by it: source digests and tool versions.
 */
export function signatureOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.mode}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/**
 * Changed too shortly before now for its signature to vouch for its contents, as git's "racily clean" index
 * entries: the kernel stamps files from a coarse clock (a few milliseconds), and some filesystems keep whole
 * seconds (then a time is a whole number of seconds), so a second change within that tick, with the same
 * size, leaves the signature as it was. What is remembered by signature must not be remembered for such a
 * file; the next look, a moment later, can.
 */
export function changedJustNow(stats: BigIntStats, nowNs: bigint = BigInt(Date.now()) * 1_000_000n): boolean {
  const changedNs = stats.mtimeNs > stats.ctimeNs ? stats.mtimeNs : stats.ctimeNs;
  const wholeSeconds = changedNs % 1_000_000_000n === 0n;
  return nowNs - changedNs < (wholeSeconds ? 2_000_000_000n : 100_000_000n);
}

/**
 * The signature under which something learned from a file may be remembered (its digest, the version it
 * printed), or undefined when the file changed just now (see changedJustNow): then it is not remembered,
 * and the next look learns it again.
 */
export function rememberableSignature(stats: BigIntStats, nowNs?: bigint): string | undefined {
  return changedJustNow(stats, nowNs) ? undefined : signatureOf(stats);
}
