import type { TaskId } from '../../dsl/ids.js';
import path from 'node:path';
import { DetailedExitCode, ExitCode, type ThrownError } from '../../failures.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { planBasis, savedStep, type SavedPlan } from '../../scheduler/saved-plan.js';
import { destructions } from '../../scheduler/destruction.js';
import { jsonDocument } from '../../dsl/json-document.js';
import { renderHtmlReport } from '../../reporter/html-report.js';
import { formatPlan } from '../../reporter/plan-text.js';
import { planReportModel } from '../../reporter/report-model.js';
import { formatStatusTable, statusRows, type Orphan } from '../../reporter/status-table.js';
import { planCommands, type PlannedCommands } from '../../scheduler/plan-commands.js';
import { planRun, type PlannedTask } from '../../scheduler/plan-run.js';
import { closeRunResources } from '../../tools/run-resources.js';
import { catchEscapes } from '../escaped-exceptions.js';
import { report, type Invocation, type Session } from '../session.js';

/** `--status`: each task's state (done, stale and why, pending, failed), when it last ran, how long it took. */
export async function showStatus(invocation: Invocation, session: Session): Promise<number> {
  const plan = await planRun(session);
  await session.saveCaches();
  const asked = onRequest(invocation, session);
  const rows = statusRows(plan, session.store, orphans(session), asked);
  // The state holds redacted text already; the table is redacted again for what this run's secrets are.
  invocation.io.stdout.write(session.redactor.redact(invocation.options.json ? jsonDocument('status', { environment: session.environmentName, tasks: rows }) : formatStatusTable(rows)));
  return invocation.options.detailedExitcode ? detailedExitCode(plan.filter((step) => !asked.has(step.task) || session.store.record(step.task))) : ExitCode.success;
}

/**
 * In a status of the whole environment (no targets), the tasks that run only when named (their inputs are
 * given on the command line: a restore, a bundle): never having run is not pending work, nor a change.
 */
function onRequest(invocation: Invocation, session: Session): Set<TaskId> {
  if (invocation.options.targets.length > 0) return new Set();
  return new Set([...session.graph.nodes].filter(([, node]) => node.instance.definition.spec.commandLineInputs).map(([id]) => id));
}

/** Stamps of tasks the environment's graph no longer has, each with the task that retires it, if any. */
function orphans(session: Session): Orphan[] {
  const retiredBy = new Map<string, string>();
  for (const [id, node] of session.graph.nodes) for (const retired of node.retires ?? []) retiredBy.set(retired, id);
  return [...session.store.records()]
    .filter(([id, record]) => record.stamp !== undefined && !session.declared.has(id))
    .map(([id]) => ({ task: id, ...(retiredBy.has(id) ? { retiredBy: retiredBy.get(id)! } : {}) }))
    .sort((a, b) => a.task.localeCompare(b.task));
}

/**
 * `--dry-run`: what would run and why, with the commands each task's body would start (walked with every
 * program replaced). Exits 2 when a task cannot be planned (a source missing, say).
 */
export async function showPlan(invocation: Invocation, session: Session): Promise<number> {
  const plan = await planRun(session);
  const commands = await walkCommands(invocation, session, plan);
  // After the walk: its helpers ask tool versions too (which of tofu and terraform is there).
  await session.saveCaches();
  if (!commands.ok) return report(invocation, { reason: 'escaped-exception', thrown: commands.thrown }, ExitCode.taskFailed);
  const { redactor } = session;
  if (invocation.options.format === 'html') {
    invocation.io.stdout.write(redactor.redact(renderHtmlReport(planReportModel(session.environmentName, plan, session.graph))));
  } else if (invocation.options.json) {
    const steps = plan.map((step) => ({ ...step, ...(commands.value.get(step.task) ?? {}) }));
    invocation.io.stdout.write(jsonDocument('plan', { environment: session.environmentName, tasks: redactor.redactValue(steps) }));
  } else {
    invocation.io.stdout.write(redactor.redact(formatPlan(session.environmentName, plan, commands.value, destructions(session.graph, plan))));
  }
  if (invocation.options.planFile !== undefined) {
    const saved: SavedPlan = { version: 1, kind: 'saved-plan', environment: session.environmentName, created: new Date().toISOString(), command: runCommandLine(invocation.argv ?? []), config: session.config, ...(await planBasis(session.graph, session.store, session.sources)), tasks: redactor.redactValue(plan.map(savedStep)) };
    await writeFileAtomic(path.resolve(invocation.options.planFile), `${JSON.stringify(saved, null, 2)}\n`);
    invocation.io.stderr.write(`plan saved to ${invocation.options.planFile}: apply it with \`tsx deploy.ts --apply ${invocation.options.planFile}\`\n`);
  }
  if (invocation.options.detailedExitcode) return detailedExitCode(plan);
  return plan.some((step) => step.action === 'fail') ? ExitCode.usage : ExitCode.success;
}

/** The run's part of a command line: without --dry-run, --out, --json and --detailed-exitcode. */
function runCommandLine(argv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--out') index++;
    else if (!['--dry-run', '-n', '--json', '--detailed-exitcode'].includes(arg) && !arg.startsWith('--out=')) kept.push(arg);
  }
  return kept;
}

/**
 * `--detailed-exitcode`: 1 when a task cannot be planned, 2 when one would run, else 0. A task that runs on
 * every run (policy 'always': a check, a validation) is not a change by itself.
 */
function detailedExitCode(plan: readonly PlannedTask[]): number {
  if (plan.some((step) => step.action === 'fail')) return DetailedExitCode.error;
  return plan.some((step) => step.action === 'run' && step.reason.kind !== 'always') ? DetailedExitCode.changes : DetailedExitCode.upToDate;
}

type Walked = { readonly ok: true; readonly value: Map<TaskId, PlannedCommands> } | { readonly ok: false; readonly thrown: ThrownError };

/** The commands of every task that would run, or the exception that escaped the walk. */
async function walkCommands(invocation: Invocation, session: Session, plan: readonly PlannedTask[]): Promise<Walked> {
  const walk = new AbortController();
  let escapedWith: ThrownError | undefined;
  const escapes = catchEscapes(session.redactor, (thrown) => {
    escapedWith = thrown;
    walk.abort();
  });
  try {
    const commands = await planCommands(session.graph, plan, { root: invocation.project.root, config: session.environment.config, redactor: session.redactor, signal: walk.signal });
    return escapedWith ? { ok: false, thrown: escapedWith } : { ok: true, value: commands };
  } finally {
    escapes.stop();
    await closeRunResources();
  }
}
