import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EnvHttpProxyAgent, fetch } from 'undici';
import { bytesText } from '../../lib/reporter/progress-text.js';

/** Told while a download runs: bytes so far (with what a resumed download already had) of the total when known, and notes. */
export interface DownloadProgress {
  progress(done: number, total: number | undefined): void;
  note(line: string): void;
}

/** An upstream mirror: a URL or image reference starting with `prefix` is fetched from `mirror` + the rest. */
export interface UpstreamMirror {
  readonly prefix: string;
  readonly mirror: string;
  /** Its TLS certificate is not verified (digests still decide). */
  readonly insecure?: boolean;
  /** The CA that signed its TLS certificate (PEM), relative to the project's root. */
  readonly caFile?: string;
}

/** The mirror `location` is fetched through: the first whose prefix it starts with, if any. */
export function mirrorOf<Mirror extends UpstreamMirror>(location: string, mirrors: readonly Mirror[]): Mirror | undefined {
  return mirrors.find((each) => location.startsWith(each.prefix));
}

/** Where `location` is fetched from: its mirror followed by the rest (mirrorOf), else itself. */
export function mirrored(location: string, mirrors: readonly UpstreamMirror[]): string {
  const mirror = mirrorOf(location, mirrors);
  return mirror ? `${mirror.mirror}${location.slice(mirror.prefix.length)}` : location;
}

/** A URL to fetch, and how its server's TLS certificate is verified: the system's CAs, `ca` (PEM) instead, or not at all. */
export interface Reachable {
  readonly url: string;
  readonly ca?: string;
  readonly insecure?: boolean;
}

/** `location` as the controller fetches it: through its mirror, with that mirror's CA or insecure setting. */
export function reachable(location: string, mirrors: readonly UpstreamMirror[], root: string): Reachable {
  const mirror = mirrorOf(location, mirrors);
  return {
    url: mirrored(location, mirrors),
    ...(mirror?.caFile ? { ca: readFileSync(path.resolve(root, mirror.caFile), 'utf8') } : {}),
    ...(mirror?.insecure ? { insecure: true } : {}),
  };
}

const agents = new Map<string, EnvHttpProxyAgent>();
/**
 * How downloads reach the publishers: through the proxy HTTP_PROXY, HTTPS_PROXY and NO_PROXY name (upper or
 * lower case), as curl, helm and skopeo take it (Node's own fetch ignores them), and loopback always
 * directly, as Go has it; the server's certificate verified as `target` says, whether reached directly or
 * through the proxy's tunnel. Read at the first download.
 */
function proxied(target: Reachable): EnvHttpProxyAgent {
  const tls = { ...(target.ca ? { ca: target.ca } : {}), ...(target.insecure ? { rejectUnauthorized: false } : {}) };
  const key = JSON.stringify(tls);
  let agent = agents.get(key);
  if (!agent) {
    const direct = process.env.NO_PROXY ?? process.env.no_proxy;
    agent = new EnvHttpProxyAgent({ noProxy: [direct, 'localhost', '127.0.0.1', '[::1]'].filter(Boolean).join(','), connect: tls, requestTls: tls });
    agents.set(key, agent);
  }
  return agent;
}

/**
 * undici's "fetch failed" with the reason underneath (a refused connection, a certificate that does not
 * verify), and what to do about a certificate.
 */
function fetchFailure(url: string, error: unknown): Error {
  if (!(error instanceof Error) || error.name === 'AbortError') return error as Error;
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? '';
  const certificate = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code);
  const reason = cause ? `${cause.message}${code && !cause.message.includes(code) ? ` (${code})` : ''}` : error.message;
  return new Error(`fetching ${url} failed: ${reason}${certificate ? ": name the CA that signed the mirror's certificate in its upstreamMirrors entry (caFile)" : ''}`);
}

/** A small text a publisher serves (a checksum file, a chart index). */
export async function fetchText(target: Reachable, signal: AbortSignal): Promise<string> {
  const { url } = target;
  const response = await fetch(url, { signal, dispatcher: proxied(target) }).catch((error: unknown) => Promise.reject(fetchFailure(url, error)));
  if (!response.ok) throw new Error(`fetching ${url} failed: HTTP ${response.status}`);
  return response.text();
}

/**
 * Downloads `url` into `partial`, resuming what a cut download left there (HTTP Range): a server that answers
 * 206 continues the file, one that answers 200 starts it again. Progress is reported as the bytes arrive
 * (the task's progress meter turns it into rate and time left). The caller verifies the digest before it keeps the file; the engine's retries (with backoff)
 * call this again after a failure, which resumes.
 */
export async function downloadResuming(target: Reachable, partial: string, options: { readonly signal: AbortSignal; readonly report: DownloadProgress }): Promise<void> {
  const { url } = target;
  await mkdir(path.dirname(partial), { recursive: true });
  const have = (await stat(partial).catch(() => undefined))?.size ?? 0;
  const response = await fetch(url, { signal: options.signal, dispatcher: proxied(target), headers: have > 0 ? { Range: `bytes=${have}-` } : {} }).catch((error: unknown) => Promise.reject(fetchFailure(url, error)));
  if (response.status === 416) {
    // The partial file is as long as the whole (or longer): start again, the digest decides.
    await response.body?.cancel();
    await rm(partial, { force: true });
    return downloadResuming(target, partial, options);
  }
  if (!response.ok || !response.body) throw new Error(`downloading ${url} failed: HTTP ${response.status}`);
  const resumed = response.status === 206;
  const start = resumed ? have : 0;
  const length = Number(response.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? start + length : undefined;
  if (resumed) options.report.note(`resuming at ${bytesText(have)}${total ? ` of ${bytesText(total)}` : ''}`);
  let sofar = start;
  options.report.progress(sofar, total);
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sofar += chunk.length;
      options.report.progress(sofar, total);
      done(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(response.body as never), counter, createWriteStream(partial, { flags: resumed ? 'a' : 'w', mode: 0o644 }));
}
