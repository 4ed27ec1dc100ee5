import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';

/**
 * Asks V8 to size its heap for memory rather than throughput (true when it did). A run is a long wait on child processes;
 * with default heuristics the heap grew 4x past its live size before a full collection (a 10,000-task run
 * peaked at 255-280 MB with ~60 MB live), with this set when the run starts at 177-190 MB at the same speed.
 * V8 reads this flag at each heap-limit decision, so setting it late takes effect.
 * ONBOARDER_V8_DEFAULTS=1 keeps V8's defaults.
 */
export function preferCompactHeap(): boolean {
  if (process.env.ONBOARDER_V8_DEFAULTS === '1') return false;
  v8.setFlagsFromString('--optimize-for-size');
  return true;
}

/** A state file this large means thousands of tasks (~740 bytes each): ~2,800 and up. */
const largeStateBytes = 2 * 1024 * 1024;

/**
 * The same from start-up, before the project loads, when the project's recorded state is large: the young
 * generation then stays small while thousands of definitions, the graph and the state are built, which is
 * where a large re-run peaks (10,000 tasks: 189-206 MB -> 160-180 MB). It costs speed, so smaller projects
 * keep V8's defaults until the run starts: with it from start-up the engine's own time per task rose from
 * 0.17 to 0.21 ms and a 2000-task start-up by 4-8%. Only the size of the state can tell before anything
 * loads; V8 sizes its young generation once.
 */
export function preferCompactHeapForLargeProjects(root: string): boolean {
  const stateDirectory = path.join(root, '.cache', 'state');
  let environments: string[];
  try {
    environments = fs.readdirSync(stateDirectory);
  } catch {
    return false;
  }
  const large = environments.some((name) => stateSize(path.join(stateDirectory, name, 'state.json')) > largeStateBytes);
  return large && preferCompactHeap();
}

/** The size of an environment's state file; 0 for anything else in .cache/state (a stray file, say). */
function stateSize(file: string): number {
  try {
    return fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  } catch {
    return 0;
  }
}
