import type { Fingerprint, TaskId } from '../dsl/ids.js';
import { keyedRecord } from '../dsl/keyed-record.js';
import type { TaskGraph } from '../graph/build-graph.js';
import type { TaskFailure } from '../failures.js';
import type { SourceDigests } from '../stamps/source-digests.js';
import type { StateStore } from '../state/state-store.js';
import { askDeclaredTools, assessTask } from './assess-task.js';
import type { RunReason, SkipReason } from './run-reason.js';
import { skipDecision, skippedFingerprint } from './skip-decision.js';

/** One step of a dry run: what would happen to a task, and why. */
export type PlannedTask =
  | { readonly task: TaskId; readonly level: number; readonly action: 'run'; readonly reason: RunReason }
  | { readonly task: TaskId; readonly level: number; readonly action: 'skip'; readonly why: SkipReason; readonly driftCheck: boolean }
  | { readonly task: TaskId; readonly level: number; readonly action: 'fail'; readonly failure: TaskFailure };

export interface PlanOptions {
  readonly graph: TaskGraph;
  readonly store: StateStore;
  readonly sources: SourceDigests;
  readonly config: unknown;
  readonly force: ReadonlySet<TaskId> | 'all';
  readonly skip: ReadonlySet<TaskId>;
  readonly only?: ReadonlySet<TaskId>;
}

/**
 * What a run would do, without running anything: drift checks are listed, not run.
 * A task that would run with a fingerprint that cannot be known yet (no stamp to replay its reads from)
 * counts as changed for its dependents, as it will in the real run.
 */
export async function planRun(options: PlanOptions): Promise<PlannedTask[]> {
  const predicted = new Map<TaskId, Fingerprint>();
  const plan: PlannedTask[] = [];
  askDeclaredTools(options.graph.nodes.values());
  for (const [level, generation] of options.graph.generations.entries()) {
    for (const id of generation) {
      const node = options.graph.nodes.get(id)!;
      const record = options.store.record(id);
      const skip = skipDecision(node.instance, options);
      if (skip) {
        predicted.set(id, skippedFingerprint(id, skip, record));
        plan.push({ task: id, level, action: 'skip', why: skip, driftCheck: false });
        continue;
      }
      const dependencies = keyedRecord<Fingerprint>();
      for (const dependency of node.dependencies) if (!node.orderOnly?.has(dependency)) dependencies[dependency] = predicted.get(dependency)!;
      const assessed = await assessTask({
        instance: node.instance,
        record,
        dependencies,
        config: options.config,
        sources: options.sources,
        forced: options.force === 'all' || options.force.has(id),
      });
      if (!assessed.ok && assessed.failure.reason === 'source-missing' && node.dependencies.some((dependency) => predicted.get(dependency)?.startsWith('pending:'))) {
        // A dependency that runs first (a fetch, a render) will create it.
        predicted.set(id, `pending:${id}` as Fingerprint);
        plan.push({ task: id, level, action: 'run', reason: { kind: 'changed', changes: [{ component: 'source', path: assessed.failure.path }] } });
        continue;
      }
      if (!assessed.ok) {
        predicted.set(id, `failed:${id}` as Fingerprint);
        plan.push({ task: id, level, action: 'fail', failure: assessed.failure });
        continue;
      }
      const assessment = assessed.assessment;
      if (assessment.decision === 'fresh') {
        predicted.set(id, assessment.fingerprint);
        plan.push({ task: id, level, action: 'skip', why: { kind: 'fresh' }, driftCheck: node.instance.definition.spec.check !== undefined });
        continue;
      }
      const knowable = record?.stamp !== undefined;
      predicted.set(id, knowable ? assessment.fingerprint : (`pending:${id}` as Fingerprint));
      plan.push({ task: id, level, action: 'run', reason: assessment.reason });
    }
  }
  return plan;
}
