import type { TaskId } from '../dsl/ids.js';
import type { TaskFailure } from '../failures.js';
import type { TaskGraph } from '../graph/build-graph.js';
import type { ProcessGroups } from '../process/process-groups.js';
import { withScratchPathsNamed } from '../state/scratch-directory.js';
import type { PlannedTask } from './plan-run.js';
import type { Redactor } from './redactor.js';
import { runAttempt } from './run-task.js';

/** The commands a planned task would run, found by running its body in dry-run mode. */
export interface PlannedCommands {
  readonly commands: readonly string[];
  /** Why the commands after these are not known: the body was not walked, or needed the real results of earlier commands. */
  readonly notWalked?: TaskFailure;
  /** The task of its batch whose body it runs in (whose commands are listed): a run starts them together. */
  readonly runsWith?: TaskId;
}

/**
 * Walks every task the plan would run through its body with `dryRun` set: processes are replaced by
 * `true`, helpers report instead of acting, so the plan can show the exact, redacted commands. The tasks
 * of one batch key that the plan runs are walked as one body, the first of them listing its commands, as
 * a run starts them together when they are ready at once (a cluster's nodes are).
 */
export async function planCommands(
  graph: TaskGraph,
  plan: readonly PlannedTask[],
  options: { readonly root: string; readonly config: unknown; readonly redactor: Redactor; readonly signal?: AbortSignal },
): Promise<Map<TaskId, PlannedCommands>> {
  const result = new Map<TaskId, PlannedCommands>();
  const allGroups = new Set<ProcessGroups>();
  const toRun = plan.filter((step) => step.action === 'run').map((step) => graph.nodes.get(step.task)!);
  for (const node of toRun) {
    const instance = node.instance;
    if (!instance.definition.spec.run || result.has(instance.id)) continue;
    if (!instance.definition.spec.supportsDryRun) {
      result.set(instance.id, { commands: [], notWalked: { reason: 'no-dry-run', task: instance.id } });
      continue;
    }
    const commands: string[] = [];
    const batch = node.batch === undefined ? [instance] : toRun.filter((other) => other.batch === node.batch).map((other) => other.instance);
    for (const member of batch.slice(1)) result.set(member.id, { commands: [], runsWith: instance.id });
    const attempts = await runAttempt(batch, {
      root: options.root,
      config: options.config,
      redactor: options.redactor,
      emit: (event) => {
        // Paths inside the project read better relative to it; scratch files by a name that does not change.
        if (event.type === 'task-command') commands.push(withScratchPathsNamed(event.command.split(`${options.root}/`).join('')));
      },
      runSignal: options.signal ?? new AbortController().signal,
      graceMs: 1000,
      allGroups,
      dryRun: true,
    });
    const attempt = attempts.get(instance.id)!;
    result.set(instance.id, attempt.ok ? { commands } : { commands, notWalked: attempt.failure });
  }
  return result;
}
