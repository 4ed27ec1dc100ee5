import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { imageArchive, imageTag } from '../../lib/container/launcher.js';
import { PermanentFailure } from '../../lib/dsl/command-failure.js';
import { findExecutable } from '../../lib/stamps/tool-versions.js';
import { tasks } from '../shared/kit.js';
import { bytesText } from '../../lib/reporter/progress-text.js';
import { packBundle } from './archive.js';
import type { BaseEntry, BundleEntry, BundleIndex } from './bundle-index.js';
import { checkBasePresent, placeFiles, pushImages } from './load-bundle.js';
import { bundleDirectory, openBundle, readBundleIndex } from './open-bundle.js';
import { chartImageLines, renderChartImages } from './chart-images.js';
import { baseEntryOf, carriedCharts, fetchOnline, keepOrLeaveToBase, stageArtifacts, stageRunnerImage, type BaseArtifacts, type BundleContext } from './stage-artifacts.js';
import { checkSigningKey, defaultPrivateKey, defaultPublicKey, generateSigningKey, publicKeyFingerprint, signWith } from './signing.js';

/**
 * Air-gapped delivery, as Zarf and Hauler do it: `bundle:create` (connected) fetches and verifies every
 * artifact the environment's versions need into one signed archive; `bundle:verify` and `bundle:inspect`
 * check and list one; `bundle:load` (at the site) verifies it, places the files under images/ and pushes the
 * images into the site registry. Their inputs are free values given on the command line:
 * `tsx deploy.ts 'bundle:load[file=/media/site.tar]'`.
 */
const bundle = tasks.namespace('bundle');
const path_ = z.string().min(1);
/** A size for `max-size`: bytes, or with a unit (K, M, G; powers of 1000, as media are sold). */
const size = z.union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?[KMG]?B?$/i, 'is a size such as 4G, 700M or 1000000')]);

function bytesOf(value: number | string | undefined): number | undefined {
  if (value === undefined || typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)([KMG]?)/i.exec(value)!;
  return Math.floor(Number(match[1]) * ({ '': 1, K: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[match[2]!.toUpperCase()]!);
}

export const keygen = bundle.task({
  name: 'keygen',
  description: 'Make the ed25519 key bundles are signed with (the private key stays here; commit the public one)',
  inputs: { key: path_ },
  policy: 'always',
  commandLineInputs: true,
  run: (context) => {
    const privateKey = path.resolve(context.root, context.inputs.key);
    const { fingerprint } = generateSigningKey(privateKey, path.resolve(context.root, defaultPublicKey));
    context.log.info(`signing key ${fingerprint}: private ${path.relative(context.root, privateKey)} (0600, keep it on this machine), public ${defaultPublicKey} (commit it: sites verify with it)`);
  },
});

export const create = bundle.task({
  name: 'create',
  description: "Fetch, verify and pack every artifact the environment's versions need into one signed bundle",
  // base: a bundle made before (as Zarf's --differential): this one carries only what changed since.
  inputs: { out: path_, 'max-size': size.optional(), 'runner-image': path_.optional(), key: path_.optional(), base: path_.optional() },
  policy: 'always',
  commandLineInputs: true,
  tools: ['skopeo'],
  timeout: '6h',
  // A cut download resumes on the next attempt (what was fetched and verified is kept).
  retries: 2,
  retryDelay: '2s',
  run: async (context) => {
    const { config, root, inputs } = context;
    const out = path.resolve(root, inputs.out);
    const privateKey = path.resolve(root, inputs.key ?? defaultPrivateKey);
    checkSigningKey(privateKey);
    const base = inputs.base ? await readBase(path.resolve(root, inputs.base), path.resolve(root, defaultPublicKey), config.name) : undefined;
    const staging = bundleDirectory(root, 'staging');
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(path.join(staging, 'files'), { recursive: true });
    try {
      const staged = await stageArtifacts(context, staging, 'files', base?.artifacts);
      // The charts are here: before any image is copied, every image they run must be one the bundle carries.
      await checkChartImages(context);
      const images = await stageArtifacts(context, staging, 'images', base?.artifacts);
      staged.carried.push(...images.carried);
      staged.fromBase.push(...images.fromBase);
      const { carried: entries, fromBase } = staged;
      const runner = inputs['runner-image'] ? path.resolve(root, inputs['runner-image']) : existsSync(path.join(root, 'Containerfile')) ? imageArchive(root, imageTag(root)) : undefined;
      if (runner && existsSync(runner)) keepOrLeaveToBase(await stageRunnerImage(runner, staging, root), staging, base?.artifacts, staged);
      else context.log.warn(`no runner image in the bundle: save one with --container-save (or pass runner-image=FILE); the site then needs the image some other way`);
      const index: BundleIndex = { version: 1, environment: config.name, created: new Date().toISOString(), versions: config.versions, artifacts: entries, ...(base ? { basedOn: base.basedOn } : {}), fromBase };
      const indexText = Buffer.from(`${JSON.stringify(index, null, 2)}\n`);
      writeFileSync(path.join(staging, 'index.json'), indexText);
      const signed = signWith(privateKey, indexText);
      writeFileSync(path.join(staging, 'index.json.sig'), `${JSON.stringify({ signature: signed.signature, key: signed.fingerprint })}\n`);
      const contents = ['index.json', 'index.json.sig', 'files', ...(existsSync(path.join(staging, 'oci')) ? ['oci'] : [])];
      const written = await packBundle(staging, contents, out, { maxSize: bytesOf(inputs['max-size']), privateKey });
      const total = written.reduce((sum, file) => sum + statSync(file).size, 0);
      const imageCount = entries.filter((entry) => entry.kind === 'image').length;
      const differential = base ? `, and ${fromBase.length} more left to the bundle it builds on (${path.relative(root, path.resolve(root, inputs.base!))}, made ${base.basedOn.created})` : '';
      context.log.info(`bundle ${path.relative(root, out) || out}: ${entries.length - imageCount} files and charts, ${imageCount} images${differential}, ${bytesText(total)} in ${written.length === 1 ? 'one file' : `${written.length - 1} parts`}, signed by key ${signed.fingerprint}`);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  },
});

/**
 * The bundle a differential one builds on: signed by this machine's key (its digests are the ones this
 * machine verified), for the same environment. What the site holds once it is loaded: every artifact it
 * carried and every one it left to its own base.
 */
async function readBase(file: string, publicKey: string, environment: string): Promise<{ artifacts: BaseArtifacts; basedOn: NonNullable<BundleIndex['basedOn']> }> {
  if (!existsSync(file) && !existsSync(`${file}.parts.json`)) throw new PermanentFailure(`base=${file}: no such bundle: name the bundle the site has loaded, which this one builds on`);
  const { index, signed, digest } = await readBundleIndex(file, publicKey);
  if (!signed) throw new PermanentFailure(`base=${file}: its index.json is not signed by ${path.basename(publicKey)} (key ${publicKeyFingerprint(publicKey)}): a differential bundle builds on a bundle this key signed`);
  if (index.environment !== environment) throw new PermanentFailure(`base=${file} was made for environment ${index.environment}, not ${environment}: build on a bundle of this environment`);
  const artifacts = new Map<string, BaseEntry>([...index.fromBase, ...index.artifacts.map(baseEntryOf)].map((entry) => [entry.key, entry]));
  return { artifacts, basedOn: { index: digest, created: index.created, environment: index.environment } };
}

/**
 * Refuses a bundle whose charts run an image it would not carry (the site would wait for a pull that never
 * comes): the charts rendered with helm, as bundle:find-images shows them. Without helm, one warning.
 */
async function checkChartImages(context: BundleContext & { readonly log: { warn(message: string): void } }): Promise<void> {
  if (!findExecutable('helm')) {
    context.log.warn("helm is not installed here: the images the charts run were not checked against images/chart-images.ts (bundle:find-images renders them; the runner image has helm)");
    return;
  }
  const missing = (await renderChartImages(context)).filter((each) => each.missing.length > 0);
  if (missing.length === 0) return;
  const named = missing.map((each) => `${each.chart}@${each.version} runs ${each.missing.join(', ')}`).join('; ');
  throw new PermanentFailure(`the charts run images the bundle would not carry: ${named}: add them to images/chart-images.ts (bundle:find-images prints the lines)`);
}

export const findImages = bundle.task({
  name: 'find-images',
  description: "Render the charts the environment installs (helm template) and print the images images/chart-images.ts must list",
  policy: 'always',
  tools: ['helm'],
  run: async (context) => {
    // The chart packages, from their publishers as bundle:create fetches them (verified against the lock).
    for (const chart of carriedCharts(context.config)) await fetchOnline(context, chart);
    const found = await renderChartImages(context);
    for (const each of found) context.log.info(`${each.chart}@${each.version}: ${each.images.length} images, ${each.missing.length === 0 ? 'all carried' : `${each.missing.length} not in the manifest: ${each.missing.join(', ')}`}`);
    const lines = chartImageLines(found);
    if (lines.length === 0) context.log.info('every image the charts run is in the manifest');
    else context.log.info(`put these lines in images/chart-images.ts (each in place of its chart's line):\n${lines.join('\n')}`);
  },
});

const publicKeyInput = { 'public-key': path_.optional() };
const publicKeyOf = (root: string, given: string | undefined) => path.resolve(root, given ?? defaultPublicKey);

export const verifyBundle = bundle.task({
  name: 'verify',
  description: "Check a bundle's signature and every digest, naming each bad entry",
  inputs: { file: path_, ...publicKeyInput },
  policy: 'always',
  commandLineInputs: true,
  run: async (context) => {
    const { directory, index, fingerprint } = await openBundle(context, path.resolve(context.root, context.inputs.file), publicKeyOf(context.root, context.inputs['public-key']));
    rmSync(directory, { recursive: true, force: true });
    const differential = index.basedOn ? ` (differential: ${index.fromBase.length} more are the site's from bundle ${index.basedOn.index.slice(0, 12)}, made ${index.basedOn.created})` : '';
    context.log.info(`bundle ${context.inputs.file} is intact: ${index.artifacts.length} artifacts verified${differential}, signed by key ${fingerprint}`);
  },
});

export const inspectBundle = bundle.task({
  name: 'inspect',
  description: "List a bundle's contents (its signed index) without unpacking it",
  inputs: { file: path_, ...publicKeyInput },
  policy: 'always',
  commandLineInputs: true,
  run: async (context) => {
    const file = path.resolve(context.root, context.inputs.file);
    const publicKey = publicKeyOf(context.root, context.inputs['public-key']);
    const { index, signed, digest } = await readBundleIndex(file, publicKey);
    context.log.info(`bundle ${digest.slice(0, 12)} for environment ${index.environment}, made ${index.created}; index signature ${signed ? `valid (key ${publicKeyFingerprint(publicKey)})` : 'NOT valid for this public key'}`);
    if (index.basedOn) context.log.info(`differential: builds on bundle ${index.basedOn.index.slice(0, 12)} (made ${index.basedOn.created}), which the site must have loaded; ${index.fromBase.length} artifacts are left to it (marked "in base")`);
    const line = (entry: BundleEntry | BaseEntry, inBase: boolean) =>
      `${entry.kind.padEnd(5)} ${entry.name} ${entry.version}  ${entry.kind === 'image' ? entry.reference : `${bytesText(entry.size)}  ${entry.target}`}  sha256:${entry.sha256}  (${entry.source})${inBase ? '  in base' : ''}`;
    for (const entry of index.artifacts) context.log.info(line(entry, false));
    for (const entry of index.fromBase) context.log.info(line(entry, true));
    if (!signed) throw new Error(`bundle ${context.inputs.file}: index.json's signature does not match ${path.relative(context.root, publicKey)}`);
  },
});

export const load = bundle.task({
  name: 'load',
  description: 'Verify a bundle, place its files under images/ and push its images into the site registry',
  inputs: { file: path_, ...publicKeyInput },
  policy: 'always',
  commandLineInputs: true,
  tools: ['skopeo'],
  timeout: '6h',
  run: async (context) => {
    const { root, config } = context;
    const { directory, index, fingerprint } = await openBundle(context, path.resolve(root, context.inputs.file), publicKeyOf(root, context.inputs['public-key']));
    try {
      await checkBasePresent(context, config, index);
      const { placed, same } = await placeFiles(context, directory, index);
      const pushed = await pushImages(context, config, directory, index);
      context.log.info(`loaded ${context.inputs.file} (key ${fingerprint}): ${placed} files placed, ${same} unchanged; ${pushed.pushed} images pushed to ${config.siteRegistry?.address ?? '(no registry)'}, ${pushed.present} already there`);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  },
});

