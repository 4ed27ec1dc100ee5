import type { RunRecord } from '../scheduler/events.js';
import { formatDuration } from './render-failure.js';

/** The end-of-run line: counts, total time and the critical path. */
export function summarizeRun(record: RunRecord): string[] {
  const { counts } = record;
  const parts = [`${counts.succeeded} ran`, `${counts.skipped} skipped`, `${counts.failed} failed`, `${counts.blocked} blocked`];
  if (counts['not-started'] > 0) parts.push(`${counts['not-started']} not started`);
  if (counts.interrupted > 0) parts.push(`${counts.interrupted} interrupted`);
  const lines = [`${record.outcome}: ${parts.join(', ')} in ${formatDuration(record.durationMs)}`];
  if (record.criticalPath.length > 0) {
    const byTask = new Map(record.tasks.map((task) => [task.task, task]));
    const steps = record.criticalPath.map((id) => `${id} (${formatDuration(byTask.get(id)?.durationMs ?? 0)})`);
    lines.push(`critical path: ${steps.join(' -> ')}`);
  }
  return lines;
}
