import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TaskId } from '../../dsl/ids.js';
import { ExitCode, type ThrownError } from '../../failures.js';
import { RecordedGroups } from '../../process/recorded-groups.js';
import { renderHtmlReport } from '../../reporter/html-report.js';
import { LogFiles, logFileName } from '../../reporter/log-files.js';
import { fanOut } from '../../reporter/reporter.js';
import { runReportModel } from '../../reporter/report-model.js';
import { RunTimeline } from '../../reporter/run-timeline.js';
import { runGraph, type RunHandle } from '../../scheduler/run-graph.js';
import { describeDestructions, destructions, mayDestroy } from '../../scheduler/destruction.js';
import { planRun } from '../../scheduler/plan-run.js';
import { confirm } from '../confirm.js';
import type { RunRecord } from '../../state/run-record.js';
import { runRecordDirectory, runsKept } from '../../state/run-records.js';
import { isShared } from '../../state/state-store.js';
import { removeStaleScratchDirectories } from '../../state/scratch-directory.js';
import { closeRunResources } from '../../tools/run-resources.js';
import { consoleReporter, displayPath } from '../console-reporter.js';
import { poolCapacities } from '../project.js';
import { catchEscapes } from '../escaped-exceptions.js';
import { graceMs, runningGroupsFile, withRunLock } from '../run-lock-scope.js';
import { saveRunHistory, warnUnsaved } from '../save-caches.js';
import { report, type Invocation, type Session } from '../session.js';

/**
 * Tasks at once without --concurrency. Deployment tasks wait on remote machines (a playbook, an API, a VM
 * booting), not on this machine's CPUs: a default of the CPU count kept node preparation of one cluster
 * waiting 8-11 s for a slot on a 2-CPU laptop with a 5-host lab. Terraform's -parallelism is 10 too; pools
 * still limit each API.
 */
export const defaultConcurrency = 10;

/**
 * A run that would destroy what was deployed (a decommission, a worker taken out) is confirmed first: a
 * terminal's y, or --yes; without either it stops before anything runs, exit 2. Planned only when a task
 * of the run may destroy.
 */
async function confirmDestruction(invocation: Invocation, session: Session): Promise<number | undefined> {
  if (invocation.options.yes || !mayDestroy(session.graph)) return undefined;
  const found = destructions(session.graph, await planRun(session));
  if (found.length === 0) return undefined;
  const destroys = describeDestructions(found);
  if (await confirm(`this run destroys or replaces what is deployed: ${destroys}. Go on?`)) return undefined;
  return report(invocation, { reason: 'not-confirmed', option: '--yes', destroys }, ExitCode.usage);
}

/** Runs the targets under the run lock; exit 0, 1 (a task failed), or 130 (interrupted); 2 when not confirmed. */
export function runTargets(invocation: Invocation, session: Session): Promise<number> {
  return withRunLock(invocation, session, session.store, async () => {
    const { options, io } = invocation;
    const refused = await confirmDestruction(invocation, session);
    if (refused !== undefined) return refused;
    // Scratch files (inventories, variables that may hold secrets) of runs killed before they could remove theirs.
    removeStaleScratchDirectories();
    if (options.only.length > 0) io.stderr.write(`warning: --only runs just ${options.only.join(', ')}; their dependencies are assumed done\n`);
    const warn = (message: string) => io.stderr.write(`warning: ${message}\n`);
    const timeline = new RunTimeline();
    const reporter = fanOut([consoleReporter(options, io.stdout, displayPath(session.logDirectory)), new LogFiles(session.logDirectory, warn), timeline]);
    const groups = new RecordedGroups(runningGroupsFile(session.stateDirectory), warn);
    groups.open();
    const interrupt = new AbortController();
    const handle = runGraph({
      ...session,
      targets: options.targets,
      environment: session.environmentName,
      root: invocation.project.root,
      emit: (event) => reporter.handle(event),
      concurrency: options.concurrency ?? defaultConcurrency,
      pools: poolCapacities(invocation.project.pools ?? {}, session.config),
      onFailure: options.onFailure,
      ...(options.timeoutMs !== undefined ? { timeoutOverrideMs: options.timeoutMs } : {}),
      signal: interrupt.signal,
      graceMs: graceMs(),
      retryBaseMs: 2000,
      groupListener: groups,
      outputGate: io.stdout,
    });
    let escaped: ThrownError | undefined;
    const escapes = catchEscapes(session.redactor, (thrown) => {
      escaped = thrown;
      interrupt.abort();
    });
    const stopSignals = stopOnSignals(io.stderr, interrupt, handle);
    let record: RunRecord;
    try {
      record = await handle.done;
    } finally {
      stopSignals();
      escapes.stop();
      await reporter.close();
      await closeRunResources();
      groups.close();
      await session.saveCaches();
    }
    const redacted = session.redactor.redactValue(record);
    await saveRunHistory(io.stderr, session, redacted, runReport(session, redacted, timeline));
    // A shared state keeps the team's run records too: --last-run on any machine shows the last run.
    if (isShared(session.store)) await session.store.saveRun(redacted, runsKept).catch((error: unknown) => warnUnsaved(io.stderr, `the run record in ${session.store.location}`, error));
    if (escaped) return report(invocation, { reason: 'escaped-exception', thrown: escaped }, ExitCode.taskFailed);
    if (record.stoppedBy) return report(invocation, record.stoppedBy, ExitCode.taskFailed);
    if (record.outcome === 'interrupted') return ExitCode.interrupted;
    return record.outcome === 'succeeded' ? ExitCode.success : ExitCode.taskFailed;
  });
}

/** The run's HTML report: its record, the attempts' times, the graph, and links to the logs it wrote. */
function runReport(session: Session, record: RunRecord, timeline: RunTimeline): string {
  const reportDirectory = runRecordDirectory(session.stateDirectory);
  const logHref = (task: TaskId) => {
    const file = path.join(session.logDirectory, record.runId, logFileName(task));
    return existsSync(file) ? path.relative(reportDirectory, file) : undefined;
  };
  return renderHtmlReport(runReportModel(record, session.graph, timeline.spans, logHref));
}

/**
 * Ctrl-C, SIGTERM and SIGHUP (a dropped SSH session) stop the run in order: running tasks get TERM, then
 * KILL after the grace period; a second one kills them at once. Returns the function that stops listening.
 */
function stopOnSignals(stderr: NodeJS.WritableStream, interrupt: AbortController, handle: RunHandle): () => void {
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals > 1) return handle.killNow();
    stderr.write('\ninterrupted: stopping running tasks (press Ctrl-C again to kill them now)\n');
    interrupt.abort();
  };
  const names = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const name of names) process.on(name, onSignal);
  return () => {
    for (const name of names) process.off(name, onSignal);
  };
}
