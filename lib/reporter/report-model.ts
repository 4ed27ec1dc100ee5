import type { TaskId } from '../dsl/ids.js';
import type { TaskGraph } from '../graph/build-graph.js';
import type { PlannedTask } from '../scheduler/plan-run.js';
import { describeRunReason, describeSkipReason } from '../scheduler/run-reason.js';
import type { RunRecord } from '../state/run-record.js';
import type { ReportModel, ReportTask } from './html-report.js';
import { renderFailure } from './render-failure.js';
import type { AttemptSpan } from './run-timeline.js';

/**
 * The box a task sits in on the graph: its namespace (`base`, `foundation`), or for a top-level task with
 * several instances the task itself (every `node-prep[node=...]` together); other top-level tasks share one.
 */
function groupOf(graph: TaskGraph, id: TaskId): string {
  const definition = graph.nodes.get(id)!.instance.definition;
  if (definition.namespace.length > 0) return definition.namespace.join(':');
  return id !== definition.name ? definition.name : 'top level';
}

function levelsOf(graph: TaskGraph): Map<TaskId, number> {
  const levels = new Map<TaskId, number>();
  graph.generations.forEach((generation, index) => generation.forEach((id) => levels.set(id, index + 1)));
  return levels;
}

function graphTask(graph: TaskGraph, levels: ReadonlyMap<TaskId, number>, id: TaskId): Pick<ReportTask, 'id' | 'group' | 'level' | 'dependencies'> {
  return { id, group: groupOf(graph, id), level: levels.get(id) ?? 1, dependencies: graph.nodes.get(id)!.dependencies.filter((dependency) => graph.nodes.has(dependency)) };
}

/** A finished run: its record, when each attempt ran, and where each task's log is (relative to the report). */
export function runReportModel(record: RunRecord, graph: TaskGraph, spans: ReadonlyMap<TaskId, readonly AttemptSpan[]>, logHref: (task: TaskId) => string | undefined): ReportModel {
  const levels = levelsOf(graph);
  const critical = new Set(record.criticalPath);
  const tasks = record.tasks
    .filter((task) => graph.nodes.has(task.task))
    .map((task): ReportTask => {
      const ran = (spans.get(task.task)?.length ?? 0) > 0;
      const reason =
        task.failure ? renderFailure(task.failure)
        : task.reason ? describeRunReason(task.reason)
        : task.skipped ? describeSkipReason(task.skipped)
        : task.waitingOn ? `waiting on ${task.waitingOn}`
        : '';
      return {
        ...graphTask(graph, levels, task.task),
        outcome: task.outcome,
        reason,
        durationMs: task.durationMs,
        attempts: task.attempts,
        spans: spans.get(task.task) ?? [],
        ...(ran ? { logHref: logHref(task.task) } : {}),
        critical: critical.has(task.task),
      };
    });
  const { counts } = record;
  return {
    kind: 'run',
    title: `Run ${record.runId}: ${record.environment}, ${record.targets.join(' ')}`,
    subtitle: `${record.outcome}, started ${record.startedAt}, ${tasks.length} tasks${record.criticalPath.length > 0 ? `; critical path ${record.criticalPath.join(' → ')}` : ''}`,
    counts: [['ran', counts.succeeded], ['skipped', counts.skipped], ['failed', counts.failed], ['blocked', counts.blocked], ['not started', counts['not-started']], ['interrupted', counts.interrupted]],
    tasks,
  };
}

/** A dry run's plan: what would run, level by level, and why; no times (none are known yet). */
export function planReportModel(environment: string, plan: readonly PlannedTask[], graph: TaskGraph): ReportModel {
  const levels = levelsOf(graph);
  const tasks = plan.map((step): ReportTask => ({
    ...graphTask(graph, levels, step.task),
    outcome: step.action === 'run' ? 'planned' : step.action === 'skip' ? 'up-to-date' : 'failed',
    reason: step.action === 'run' ? describeRunReason(step.reason) : step.action === 'skip' ? describeSkipReason(step.why) : renderFailure(step.failure),
    spans: [],
    critical: false,
  }));
  const count = (outcome: string) => tasks.filter((task) => task.outcome === outcome).length;
  return {
    kind: 'plan',
    title: `Plan: ${environment}`,
    subtitle: `${tasks.length} tasks in ${Math.max(0, ...tasks.map((task) => task.level))} levels`,
    counts: [['would run', count('planned')], ['up to date', count('up-to-date')], ['cannot be planned', count('failed')]],
    tasks,
  };
}

/** The graph alone (`--graph --format html`). */
export function graphReportModel(environment: string, graph: TaskGraph): ReportModel {
  const levels = levelsOf(graph);
  const tasks = [...graph.nodes.keys()].map((id): ReportTask => ({ ...graphTask(graph, levels, id), outcome: 'task', reason: graph.nodes.get(id)!.instance.definition.spec.description ?? '', spans: [], critical: false }));
  return { kind: 'graph', title: `Graph: ${environment}`, subtitle: `${tasks.length} tasks in ${graph.generations.length} levels`, counts: [], tasks };
}
