import { existsSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PermanentFailure } from '../../lib/dsl/command-failure.js';
import { digestFile } from '../../lib/stamps/digest.js';
import { artifactKey, type ChartArtifact, type FileArtifact } from '../../images/manifest.js';
import { publishedDigests } from '../shared/release-files.js';
import { ArtifactLock } from './artifact-lock.js';
import type { TaskLogger } from '../../lib/dsl/context.js';
import { downloadResuming, fetchText, mirrored, reachable, type UpstreamMirror } from './download.js';

/** The digest a file must have, where it came from, and the URL to fetch it from (a chart's comes from its index). */
interface Expected {
  readonly sha256?: string;
  readonly source: string;
  readonly url: string;
}

export interface FetchOptions {
  readonly root: string;
  /** Online: download what is missing or wrong. Air-gapped: verify only. */
  readonly online: boolean;
  readonly mirrors: readonly UpstreamMirror[];
  readonly signal: AbortSignal;
  /** Where notes and a download's progress go: the task's log. */
  readonly log: TaskLogger;
  /** A dry run: say what would be downloaded, change nothing. */
  readonly dryRun?: boolean;
  /** Called before a download starts (the tool helpers' command line). */
  readonly downloading?: (url: string, file: string) => (code: number) => void;
}

export type FetchOutcome = 'verified' | 'downloaded' | 'would-download';


/**
 * Makes one file or chart present under images/ and verified: against the lock when it has the artifact,
 * else against its publisher (pinned digest, checksum file, chart index), whose digest the lock then
 * records. Air-gapped, a missing or corrupt file is an error with the expected and found digest.
 */
export async function fetchArtifact(artifact: FileArtifact | ChartArtifact, options: FetchOptions): Promise<FetchOutcome> {
  const lock = ArtifactLock.read(options.root);
  const key = artifactKey(artifact);
  const file = path.resolve(options.root, artifact.file);
  const locked = lock.get(key);
  const present = existsSync(file);

  if (!options.online) {
    if (!locked) throw new PermanentFailure(`${key} is not in images/manifest.lock.json: fetch it once on a connected machine (images:fetch or bundle:create) and carry the lock with the checkout`);
    if (!present) throw new PermanentFailure(`${artifact.name} is missing at ${artifact.file} (air-gapped site): load it from the bundle (bundle:load); expected sha256 ${locked.sha256}${locked.size ? `, ${locked.size} bytes` : ''}`);
    if (options.dryRun) return 'verified';
    const found = await digestFile(file);
    if (found !== locked.sha256) throw new PermanentFailure(`${artifact.file} is corrupt: expected sha256 ${locked.sha256} (${locked.source}), found ${found}; load it again from the bundle`);
    return 'verified';
  }

  if (options.dryRun) {
    // Nothing is fetched, not even a checksum file or an index: a chart's URL is named by its repository's index.
    if (present && locked) return 'verified';
    const planned = artifact.kind === 'file' ? artifact.url : 'url' in artifact.digest ? artifact.digest.url : `${artifact.repository}/index.yaml (${artifact.name} ${artifact.version})`;
    options.downloading?.(mirrored(planned, options.mirrors), artifact.file)(0);
    return 'would-download';
  }
  const expected = locked ? { sha256: locked.sha256, source: `${locked.source}, as locked`, url: await urlOf(artifact, options) } : await publisherDigest(artifact, options);
  if (present && expected.sha256) {
    const found = await digestFile(file);
    if (found === expected.sha256) {
      if (!locked) await lock.record(key, { sha256: found, size: (await stat(file)).size, source: expected.source });
      return 'verified';
    }
    options.log.info(`${artifact.name}: ${artifact.file} has sha256 ${found}, not ${expected.sha256}: fetching it again`);
  }
  const source = reachable(expected.url, options.mirrors, options.root);
  const from = source.url;
  const finished = options.downloading?.(from, artifact.file);
  const partial = `${file}.partial`;
  try {
    const report = { progress: (done: number, total: number | undefined) => options.log.progress(artifact.name, done, total, 'bytes'), note: (line: string) => options.log.info(`${artifact.name}: ${line}`) };
    await downloadResuming(source, partial, { signal: options.signal, report });
  } catch (error) {
    finished?.(1);
    throw error;
  }
  const found = await digestFile(partial);
  if (expected.sha256 && found !== expected.sha256) {
    await rm(partial, { force: true });
    finished?.(1);
    throw new PermanentFailure(`downloaded ${artifact.name} from ${from} is corrupt: expected sha256 ${expected.sha256} (${expected.source}), found ${found}`);
  }
  const size = (await stat(partial)).size;
  await lock.record(key, { sha256: found, size, source: expected.sha256 ? expected.source : `first fetch of ${expected.url} (${expected.source})` });
  await rename(partial, file);
  finished?.(0);
  return 'downloaded';
}

/** The digest the publisher gives for the artifact, and where it is fetched from. */
async function publisherDigest(artifact: FileArtifact | ChartArtifact, options: FetchOptions): Promise<Expected> {
  const digest = artifact.digest;
  if ('pinned' in digest) return { sha256: digest.pinned, source: `pinned from ${digest.from}`, url: 'url' in digest ? digest.url : (artifact as FileArtifact).url };
  if ('firstFetch' in digest) return { source: digest.firstFetch, url: (artifact as FileArtifact).url };
  if ('checksumFile' in digest) {
    const url = (artifact as FileArtifact).url;
    const name = digest.entry ?? path.posix.basename(new URL(url).pathname);
    const text = await fetchText(reachable(digest.checksumFile, options.mirrors, options.root), options.signal);
    const sha256 = publishedDigests(text, name).get(name);
    if (!sha256) throw new PermanentFailure(`${digest.checksumFile} lists no sha256 for ${name}: is ${artifact.version} a published release?`);
    return { sha256, source: digest.checksumFile, url };
  }
  const entry = await chartIndexEntry(artifact as ChartArtifact, digest.helmIndex, options);
  return { sha256: entry.digest, source: digest.helmIndex, url: entry.url };
}

async function urlOf(artifact: FileArtifact | ChartArtifact, options: FetchOptions): Promise<string> {
  if (artifact.kind === 'file') return artifact.url;
  if ('url' in artifact.digest) return artifact.digest.url;
  return (await chartIndexEntry(artifact, artifact.digest.helmIndex, options)).url;
}

/** The entry of a chart version in its repository's index.yaml: its digest and package URL (made absolute). */
async function chartIndexEntry(chart: ChartArtifact, indexUrl: string, options: FetchOptions): Promise<{ digest: string; url: string }> {
  const index = parseYaml(await fetchText(reachable(indexUrl, options.mirrors, options.root), options.signal)) as { entries?: Record<string, { version?: string; digest?: string; urls?: string[] }[]> };
  const entry = index?.entries?.[chart.name]?.find((each) => String(each.version).replace(/^v/, '') === chart.version.replace(/^v/, ''));
  if (!entry) throw new Error(`${indexUrl} has no ${chart.name} ${chart.version}: check versions.charts (or versions.cilium)`);
  if (!entry.digest || !/^[0-9a-f]{64}$/.test(entry.digest)) throw new Error(`${indexUrl}: ${chart.name} ${chart.version} has no sha256 digest in the index`);
  const relative = entry.urls?.[0];
  if (!relative) throw new Error(`${indexUrl}: ${chart.name} ${chart.version} lists no URL`);
  return { digest: entry.digest, url: new URL(relative, `${chart.repository}/`).href };
}
