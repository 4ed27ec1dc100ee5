import path from 'node:path';
import { ExitCode } from '../failures.js';
import { LogFiles } from '../reporter/log-files.js';
import { fanOut } from '../reporter/reporter.js';
import type { RunRecord } from '../scheduler/events.js';
import { acquireRunLock } from '../state/run-lock.js';
import { newRunId } from '../state/run-records.js';
import { consoleReporter, displayPath, type ConsoleOutput } from './console-reporter.js';
import { prepareRunDirectories } from './project.js';
import { saveRunHistory } from './save-caches.js';
import { unchanged, type UpToDateEntry } from './up-to-date-cache.js';

/**
 * Answers a command from the up-to-date cache. A command whose answer is its output prints it. A run the
 * cache says would find every task up to date is reported: the same events through the
 * same reporters and log directory, under a new run id and times, and a run record like any run's. Holds
 * the environment's run lock as a run does. Undefined when it cannot (the lock is held, the state changed
 * meanwhile): the caller then runs the command in full, which says why.
 */
export async function replayUpToDateRun(
  entry: UpToDateEntry,
  io: { readonly stdout: ConsoleOutput; readonly stderr: NodeJS.WritableStream },
): Promise<number | undefined> {
  const { answer } = entry;
  if (answer.kind === 'output') {
    io.stdout.write(answer.stdout);
    return ExitCode.success;
  }
  // As a run checks them first; when one is unusable the full command runs and says so.
  if (!prepareRunDirectories(answer).ok) return undefined;
  const lock = acquireRunLock(path.join(answer.stateDirectory, 'run.lock'));
  if (!lock.ok) return undefined;
  try {
    // Another run may have changed the state between the check and taking the lock (the lock guards the
    // state; any other file changing now is no different from changing just after the check).
    const stateFiles = Object.fromEntries(Object.entries(entry.files).filter(([file]) => file.startsWith(answer.stateDirectory + path.sep)));
    if (!unchanged(stateFiles)) return undefined;
    if (lock.value.takeoverWarning) io.stderr.write(`warning: ${lock.value.takeoverWarning}\n`);
    const reporter = fanOut([await consoleReporter(answer.console, io.stdout, displayPath(answer.logDirectory)), new LogFiles(answer.logDirectory, (message) => io.stderr.write(`warning: ${message}\n`))]);
    const started = new Date();
    const runId = newRunId(started);
    const { run } = answer;
    reporter.handle({ ...run.started, runId, at: started.toISOString() });
    for (const position of run.order) {
      const task = run.record.tasks[position]!;
      reporter.handle({ type: 'task-skipped', task: task.task, why: task.skipped! });
    }
    const finished = new Date();
    const record: RunRecord = { ...run.record, runId, startedAt: started.toISOString(), finishedAt: finished.toISOString(), durationMs: finished.getTime() - started.getTime() };
    reporter.handle({ type: 'run-finished', record });
    await reporter.close();
    await saveRunHistory(io.stderr, answer, record);
    return ExitCode.success;
  } finally {
    lock.value.release();
  }
}
