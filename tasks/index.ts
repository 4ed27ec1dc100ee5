import type { CatalogEntry } from '../lib/graph/build-graph.js';
import * as platform from './platform.js';

/** Every task the CLI knows: `tsx deploy.ts --list`. */
export const catalog: CatalogEntry[] = Object.values(platform);
