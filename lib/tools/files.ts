import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { ToolContext } from './command.js';

/**
 * Writes a local file atomically when its contents differ (reported like a command; not in a dry run).
 * Returns whether it changed.
 */
export async function writeFileIfChanged(context: ToolContext, file: string, contents: string): Promise<boolean> {
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === contents) return false;
  const finished = context.commands.started(`write ${file}`);
  if (!context.dryRun) await writeFileAtomic(file, contents);
  finished(0);
  return true;
}
