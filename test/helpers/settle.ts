import { statSync } from 'node:fs';
import { changedJustNow } from '../../lib/stamps/file-signature.js';
import { waitFor } from './project.js';

/**
 * Waits until `file` no longer counts as changed just now (file-signature.ts), so that what is learned
 * from it may be remembered: ~0.1 s, or up to 2 s on a filesystem that keeps whole seconds.
 */
export function settled(file: string): Promise<void> {
  return waitFor(() => !changedJustNow(statSync(file, { bigint: true })), 5_000);
}
