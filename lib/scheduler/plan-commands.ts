import type { TaskId } from '../dsl/ids.js';
import type { TaskGraph } from '../graph/build-graph.js';
import type { PlannedTask } from './plan-run.js';
import type { ProcessGroups } from './process-groups.js';
import type { Redactor } from './redactor.js';
import { runAttempt } from './run-task.js';
import { renderFailure } from '../reporter/render-failure.js';
import { withScratchPathsNamed } from '../state/scratch-directory.js';

/** The commands a planned task would run, found by running its body in dry-run mode. */
export interface PlannedCommands {
  readonly commands: readonly string[];
  /** Set when the body could not be walked through without the real results of earlier commands. */
  readonly unknown?: string;
}

/**
 * Walks every task the plan would run through its body with `dryRun` set: processes are replaced by
 * `true`, helpers report instead of acting, so the plan can show the exact, redacted commands.
 */
export async function planCommands(
  graph: TaskGraph,
  plan: readonly PlannedTask[],
  options: { readonly root: string; readonly config: unknown; readonly redactor: Redactor; readonly signal?: AbortSignal },
): Promise<Map<TaskId, PlannedCommands>> {
  const result = new Map<TaskId, PlannedCommands>();
  const allGroups = new Set<ProcessGroups>();
  for (const step of plan) {
    if (step.action !== 'run') continue;
    const instance = graph.nodes.get(step.task)!.instance;
    if (!instance.definition.spec.run) continue;
    if (!instance.definition.spec.supportsDryRun) {
      result.set(step.task, { commands: [], unknown: 'its body does not declare supportsDryRun, so it is not walked' });
      continue;
    }
    const commands: string[] = [];
    const attempt = await runAttempt(instance, {
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
    result.set(step.task, attempt.ok ? { commands } : { commands, unknown: renderFailure(attempt.failure) });
  }
  return result;
}
