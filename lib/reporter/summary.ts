import path from 'node:path';
import type { RunRecord } from '../state/run-record.js';
import { describeRunReason, describeSkipReason } from '../scheduler/run-reason.js';
import { logFileName } from './log-files.js';
import { formatDuration, renderFailure } from './render-failure.js';
import { formatTable } from './table.js';

export interface SummaryOptions {
  /** The environment's log directory (`.cache/logs/<env>`): each failed task's log file is named. */
  readonly logDirectory?: string;
}

/**
 * The end of a run: counts and total time; each task that failed, with why and where its log is (its
 * FAILED line may be thousands of lines up); the critical path.
 */
export function summarizeRun(record: RunRecord, options: SummaryOptions = {}): string[] {
  const { counts } = record;
  const parts = [`${counts.succeeded} ran`, `${counts.skipped} skipped`, `${counts.failed} failed`, `${counts.blocked} blocked`];
  if (counts['not-started'] > 0) parts.push(`${counts['not-started']} not started`);
  if (counts.interrupted > 0) parts.push(`${counts.interrupted} interrupted`);
  const lines = [`${record.outcome}: ${parts.join(', ')} in ${formatDuration(record.durationMs)}`];
  for (const task of record.tasks) {
    if (task.outcome !== 'failed' || !task.failure) continue;
    lines.push(`  FAILED ${renderFailure(task.failure)}`);
    if (options.logDirectory) lines.push(`    log: ${path.join(options.logDirectory, record.runId, logFileName(task.task))}`);
  }
  if (record.criticalPath.length > 0) {
    const byTask = new Map(record.tasks.map((task) => [task.task, task]));
    const steps = record.criticalPath.map((id) => `${id} (${formatDuration(byTask.get(id)?.durationMs ?? 0)})`);
    lines.push(`critical path: ${steps.join(' -> ')}`);
  }
  return lines;
}

/**
 * Each task of a run, a row each: its outcome, how many attempts and how long, and why it ran, was
 * skipped, or is blocked (the failed task it waits on). What failed is told by `summarizeRun`.
 */
export function formatRunTable(record: RunRecord): string {
  const rows = record.tasks.map((task) => {
    const ran = task.attempts > 0;
    const why = task.waitingOn ? `waiting on ${task.waitingOn}` : task.reason ? describeRunReason(task.reason) : task.skipped ? describeSkipReason(task.skipped) : '';
    return [`  ${task.task}`, task.outcome, ran ? String(task.attempts) : '-', ran ? formatDuration(task.durationMs) : '-', why];
  });
  return formatTable(['  TASK', 'OUTCOME', 'ATTEMPTS', 'DURATION', 'WHY'], rows);
}
