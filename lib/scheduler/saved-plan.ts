import { z } from 'zod';
import type { TaskId } from '../dsl/ids.js';
import { formatConfigPath } from '../stamps/config-path.js';
import { definitionDigest } from '../stamps/fingerprint.js';
import { digestOf } from '../stamps/digest.js';
import type { SourceDigests } from '../stamps/source-digests.js';
import type { StateStore } from '../state/state-store.js';
import type { TaskGraph } from '../graph/build-graph.js';
import type { PlannedTask } from './plan-run.js';

/**
 * A plan saved for review (`--dry-run --out FILE`) and applied as it is (`--apply FILE`), as Terraform's saved
 * plans: what was planned for which command line, and what it was computed from: the environment's
 * configuration (secret references, never their values), each task's stamp, each task's definition and the
 * files it declares as sources (a playbook, a template: a task that never ran has no stamp to compare, yet
 * runs what was reviewed only if those are the same). Applying it re-plans the same command line and
 * refuses when anything differs.
 */
export const savedPlanShape = z.strictObject({
  version: z.literal(1),
  kind: z.literal('saved-plan'),
  environment: z.string().min(1),
  created: z.string().min(1),
  /** The run's command line as given, without --dry-run and --out. */
  command: z.array(z.string()),
  config: z.unknown(),
  stamps: z.record(z.string(), z.string().nullable()),
  definitions: z.record(z.string(), z.string()),
  /** One digest of each task's declared source files (absent in plans saved before it was kept). */
  sources: z.record(z.string(), z.string()).optional(),
  tasks: z.array(z.looseObject({ task: z.string(), action: z.enum(['run', 'skip', 'fail']) })),
});
export type SavedPlan = z.infer<typeof savedPlanShape>;

/** What a plan is computed from, for the tasks of the selected graph. */
export async function planBasis(graph: TaskGraph, store: StateStore, sources: SourceDigests): Promise<Pick<SavedPlan, 'stamps' | 'definitions' | 'sources'>> {
  const ids = [...graph.nodes.keys()].sort();
  const sourceDigests: Record<string, string> = {};
  for (const id of ids) {
    const { definition, inputs } = graph.nodes.get(id)!.instance;
    const declared = definition.spec.sources;
    const patterns = typeof declared === 'function' ? declared(inputs) : (declared ?? []);
    if (patterns.length === 0) continue;
    const digested = await sources.digest(patterns);
    sourceDigests[id] = digested.ok ? digestOf(digested.digests) : `missing ${digested.missing}`;
  }
  return {
    stamps: Object.fromEntries(ids.map((id) => [id, store.record(id)?.stamp?.fingerprint ?? null])),
    definitions: Object.fromEntries(ids.map((id) => [id, definitionDigest(graph.nodes.get(id)!.instance.definition)])),
    sources: sourceDigests,
  };
}

/** A plan step as saved: what would happen and why, comparable across runs. */
export function savedStep(step: PlannedTask): SavedPlan['tasks'][number] {
  return JSON.parse(JSON.stringify(step)) as SavedPlan['tasks'][number];
}

/**
 * What differs between a saved plan and the plan of now, in words a reviewer understands: configuration
 * paths, tasks whose stamp or definition changed, tasks that would now run or no longer run. Empty: the same.
 */
export function planDifferences(saved: SavedPlan, now: Omit<SavedPlan, 'version' | 'kind' | 'created'>): string[] {
  const differences: string[] = [];
  const paths = changedPaths(saved.config, now.config);
  if (paths.length > 0) differences.push(`configuration changed at ${firstFive(paths)}`);
  const changed = (a: Record<string, unknown>, b: Record<string, unknown>) => [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((id) => a[id] !== b[id]).sort();
  const stamps = changed(saved.stamps, now.stamps);
  if (stamps.length > 0) differences.push(`state changed for ${firstFive(stamps)} (another run since the plan?)`);
  const definitions = changed(saved.definitions, now.definitions);
  if (definitions.length > 0) differences.push(`task code changed for ${firstFive(definitions)}`);
  const files = saved.sources ? changed(saved.sources, now.sources ?? {}) : [];
  if (files.length > 0) differences.push(`source files changed for ${firstFive(files)}`);
  const steps = (plan: readonly SavedPlan['tasks'][number][]) => new Map(plan.map((step) => [step.task, digestOf(step)]));
  const before = steps(saved.tasks);
  const after = steps(now.tasks);
  const moved = [...new Set([...before.keys(), ...after.keys()])].filter((id) => before.get(id) !== after.get(id)).sort();
  if (moved.length > 0) differences.push(`the plan of ${firstFive(moved)} differs`);
  return differences;
}

const firstFive = (items: readonly string[]) => `${items.slice(0, 5).join(', ')}${items.length > 5 ? ` and ${items.length - 5} more` : ''}`;

/** The paths at which two configurations differ, as every message writes them (`clusters.osdc.workers[1]`). */
function changedPaths(a: unknown, b: unknown, at: readonly string[] = []): string[] {
  if (digestOf(a ?? null) === digestOf(b ?? null)) return [];
  const both = typeof a === 'object' && typeof b === 'object' && a !== null && b !== null && Array.isArray(a) === Array.isArray(b);
  if (!both || (Array.isArray(a) && (a as unknown[]).length !== (b as unknown[]).length)) return [formatConfigPath(at)];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((key) => changedPaths((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], [...at, key]));
}

/** The tasks a saved plan runs. */
export const plannedRuns = (plan: SavedPlan): TaskId[] => plan.tasks.filter((step) => step.action === 'run').map((step) => step.task as TaskId);
