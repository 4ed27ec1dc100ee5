import { z } from 'zod';

/**
 * index.json at the top of a bundle: what it carries, each entry with the digest it was verified against
 * upstream and where that digest came from. Signed (index.json.sig), so every digest in it is the publisher's
 * as the connected machine saw it.
 */
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const fileEntry = z.strictObject({
  kind: z.enum(['file', 'chart']),
  key: z.string().min(1),
  name: z.string().min(1),
  version: z.string().min(1),
  source: z.string().min(1),
  sha256,
  size: z.number().int().min(0),
  /** Where it is in the bundle (files/...) and where bundle:load puts it (images/...). */
  path: z.string().regex(/^files\/[^\0]+$/).refine((value) => !value.split('/').includes('..'), 'has ..'),
  target: z.string().regex(/^images\/[^\0]+$/).refine((value) => !value.split('/').includes('..'), 'has ..'),
});
const imageEntry = z.strictObject({
  kind: z.literal('image'),
  key: z.string().min(1),
  name: z.string().min(1),
  version: z.string().min(1),
  source: z.string().min(1),
  /** The manifest digest (hex), as the registry published it. */
  sha256,
  reference: z.string().min(1),
});
const entry = z.discriminatedUnion('kind', [fileEntry, imageEntry]);
/** What a differential bundle leaves to the bundle it builds on: the same entry, not in this archive. */
const baseEntry = z.discriminatedUnion('kind', [fileEntry.omit({ path: true }), imageEntry]);

export const bundleIndexShape = z.strictObject({
  version: z.literal(1),
  environment: z.string().min(1),
  created: z.string().min(1),
  /** The environment's versions the bundle was made for. */
  versions: z.record(z.string(), z.unknown()),
  artifacts: z.array(entry),
  /**
   * A differential bundle (as Zarf's `--differential`): the bundle it builds on, named by the sha256 of its
   * signed index.json, whose artifacts the site must hold already (`fromBase`, each as that bundle carried
   * it); this one carries only what changed since.
   */
  basedOn: z.strictObject({ index: sha256, created: z.string().min(1), environment: z.string().min(1) }).optional(),
  fromBase: z.array(baseEntry).default([]),
});
export type BundleIndex = z.infer<typeof bundleIndexShape>;
export type BundleEntry = BundleIndex['artifacts'][number];
export type BaseEntry = BundleIndex['fromBase'][number];
