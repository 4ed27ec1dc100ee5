import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { digestFile } from '../../lib/stamps/digest.js';
import { imageNamed, images, type ImageName } from '../../images/manifest.js';
import { tasks, withoutProxmox } from '../shared/kit.js';

const imageNames = images.map((image) => image.name) as [ImageName, ...ImageName[]];

/**
 * Makes one image present and intact: fetched when missing and the site is online, verified by sha256
 * either way. Air-gapped, a missing or corrupt file fails with what was expected and found.
 */
export const fetchImage = tasks.namespace('images').task({
  name: 'fetch',
  description: 'Fetch (online) or verify (air-gapped) one image from the manifest',
  supportsDryRun: true,
  skipWhen: (config, { image }) => imageNamed(image).neededFor === 'proxmox' && withoutProxmox(config),
  inputs: { image: z.enum(imageNames) },
  retries: 3,
  retryDelay: '5s',
  timeout: '2h',
  run: async (context) => {
    const image = imageNamed(context.inputs.image);
    const file = path.resolve(context.root, image.file);
    const present = await stat(file).catch(() => undefined);
    if (!present) {
      if (context.config.site.airGapped) {
        throw new Error(`image ${image.name} is missing at ${image.file} (air-gapped site): copy it from the transfer media; expected sha256 ${image.sha256}, ${image.sizeBytes} bytes`);
      }
      const finished = context.commands.started(`download ${image.url} -> ${image.file}`);
      if (context.dryRun) return finished(0);
      await mkdir(path.dirname(file), { recursive: true });
      const partial = `${file}.partial`;
      const response = await fetch(image.url, { signal: context.signal });
      if (!response.ok || !response.body) throw new Error(`downloading ${image.url} failed: HTTP ${response.status}`);
      await pipeline(Readable.fromWeb(response.body as never), createWriteStream(partial));
      const digest = await digestFile(partial);
      if (digest !== image.sha256) {
        await rm(partial, { force: true });
        throw new Error(`downloaded ${image.name} is corrupt: expected sha256 ${image.sha256}, found ${digest}`);
      }
      await rename(partial, file);
      finished(0);
      return;
    }
    if (context.dryRun) return;
    const digest = await digestFile(file);
    if (digest !== image.sha256) throw new Error(`image ${image.file} is corrupt: expected sha256 ${image.sha256}, found ${digest}; delete it to fetch it again`);
  },
});
