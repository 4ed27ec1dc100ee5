import type { Fingerprint, TaskId } from '../dsl/ids.js';
import type { TaskInstance } from '../dsl/task.js';
import type { TaskFailure } from '../failures.js';
import { replayReads } from '../stamps/config-reads.js';
import {
  computeFingerprint,
  definitionDigest,
  diffComponents,
  inputDigests,
  type FingerprintComponents,
} from '../stamps/fingerprint.js';
import type { SourceDigests } from '../stamps/source-digests.js';
import { toolVersion } from '../stamps/tool-versions.js';
import type { TaskRecord } from '../state/state-store.js';
import type { RunReason } from './run-reason.js';

export interface AssessmentInput {
  readonly instance: TaskInstance;
  readonly record: TaskRecord | undefined;
  /** Current fingerprints of the direct dependencies (after they ran or were found fresh). */
  readonly dependencies: Readonly<Record<string, Fingerprint>>;
  readonly config: unknown;
  readonly sources: SourceDigests;
  readonly forced: boolean;
}

/** The decision for one task before its drift check: run (and why), or fresh (check may still find drift). */
export type Assessment =
  | {
      readonly decision: 'run';
      readonly reason: RunReason;
      readonly components: FingerprintComponents;
      readonly fingerprint: Fingerprint;
    }
  | { readonly decision: 'fresh'; readonly components: FingerprintComponents; readonly fingerprint: Fingerprint };

export type AssessmentResult = { readonly ok: true; readonly assessment: Assessment } | { readonly ok: false; readonly failure: TaskFailure };

/** Asks every tool the tasks declare at once, so that assessing them one by one finds the answers ready. */
export function askDeclaredTools(nodes: Iterable<{ readonly instance: TaskInstance }>): void {
  const tools = new Set<string>();
  for (const { instance } of nodes) for (const tool of instance.definition.spec.tools ?? []) tools.add(tool);
  for (const tool of tools) void toolVersion(tool);
}

/**
 * Computes a task's current fingerprint and compares it with its stamp. Config reads are replayed from the
 * stamp: the paths the task read last time, evaluated against today's configuration.
 */
export async function assessTask(input: AssessmentInput): Promise<AssessmentResult> {
  const { instance, record } = input;
  const spec = instance.definition.spec;
  const patterns = typeof spec.sources === 'function' ? spec.sources(instance.inputs) : (spec.sources ?? []);
  let sources: Readonly<Record<string, string>> = {};
  if (patterns.length > 0) {
    const digested = await input.sources.digest(patterns);
    if (!digested.ok) return { ok: false, failure: { reason: 'source-missing', task: instance.id, path: digested.missing } };
    sources = digested.digests;
  }
  const tools: Record<string, string> = {};
  const declared = spec.tools ?? [];
  const versions = await Promise.all(declared.map((tool) => toolVersion(tool)));
  for (const [index, tool] of declared.entries()) tools[tool] = versions[index]!;

  const stamp = record?.stamp;
  const components: FingerprintComponents = {
    task: instance.definition.name,
    inputs: inputDigests(instance),
    definition: definitionDigest(instance.definition),
    sources,
    tools,
    dependencies: input.dependencies,
    config: stamp ? replayReads(input.config, stamp.components.config) : {},
  };
  const fingerprint = computeFingerprint(components);
  if (input.forced) return runBecause({ kind: 'forced' }, components, fingerprint);
  if (!stamp) {
    const lastOutcome = record?.startedAt ? 'interrupted' : record?.last?.outcome;
    return runBecause({ kind: 'no-stamp', ...(lastOutcome === 'failed' || lastOutcome === 'interrupted' ? { lastOutcome } : {}) }, components, fingerprint);
  }
  if (stamp.fingerprint !== fingerprint) {
    const changes = diffComponents(stamp.components, components, input.config);
    return runBecause({ kind: 'changed', changes: changes.length > 0 ? changes : [{ component: 'definition' }] }, components, fingerprint);
  }
  if ((spec.policy ?? 'fingerprint') === 'always') return runBecause({ kind: 'always' }, components, fingerprint);
  return { ok: true, assessment: { decision: 'fresh', components, fingerprint } };
}

function runBecause(reason: RunReason, components: FingerprintComponents, fingerprint: Fingerprint): AssessmentResult {
  return { ok: true, assessment: { decision: 'run', reason, components, fingerprint } };
}

export type { TaskId };
