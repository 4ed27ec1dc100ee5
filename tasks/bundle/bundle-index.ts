import { z } from 'zod';

/**
 * index.json at the top of a bundle: what it carries, each entry with the digest it was verified against
 * upstream and where that digest came from. Signed (index.json.sig), so every digest in it is the publisher's
 * as the connected machine saw it.
 */
const entry = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.enum(['file', 'chart']),
    key: z.string().min(1),
    name: z.string().min(1),
    version: z.string().min(1),
    source: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    size: z.number().int().min(0),
    /** Where it is in the bundle (files/...) and where bundle:load puts it (images/...). */
    path: z.string().regex(/^files\/[^\0]+$/).refine((value) => !value.split('/').includes('..'), 'has ..'),
    target: z.string().regex(/^images\/[^\0]+$/).refine((value) => !value.split('/').includes('..'), 'has ..'),
  }),
  z.strictObject({
    kind: z.literal('image'),
    key: z.string().min(1),
    name: z.string().min(1),
    version: z.string().min(1),
    source: z.string().min(1),
    /** The manifest digest (hex), as the registry published it. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    reference: z.string().min(1),
  }),
]);

export const bundleIndexShape = z.strictObject({
  version: z.literal(1),
  environment: z.string().min(1),
  created: z.string().min(1),
  /** The environment's versions the bundle was made for. */
  versions: z.record(z.string(), z.unknown()),
  artifacts: z.array(entry),
});
export type BundleIndex = z.infer<typeof bundleIndexShape>;
export type BundleEntry = BundleIndex['artifacts'][number];
