import { readFileSync } from 'node:fs';
import { ExitCode, type ConfigurationFailure } from '../../failures.js';
import { firstIssue } from '../../dsl/schema-issue.js';
import { planRun } from '../../scheduler/plan-run.js';
import { planBasis, planDifferences, plannedRuns, savedPlanShape, savedStep, type SavedPlan } from '../../scheduler/saved-plan.js';
import { parseCommandLine } from '../parse-args.js';
import { openSession, report, type Invocation, type Session } from '../session.js';
import { runTargets } from './run.js';

/** Reads a plan saved by --dry-run --out, or says why it is not one. */
function readSavedPlan(file: string): { ok: true; plan: SavedPlan } | { ok: false; failure: ConfigurationFailure } {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, failure: { reason: 'plan-unreadable', file, detail: code === 'ENOENT' ? 'no such file' : code ?? `not JSON: ${(error as Error).message}` } };
  }
  const parsed = savedPlanShape.safeParse(value);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    return { ok: false, failure: { reason: 'plan-unreadable', file, detail: `at ${issue.path.join('.') || '(top)'}: ${issue.message}` } };
  }
  return { ok: true, plan: parsed.data };
}

/**
 * `--apply FILE`: the saved plan's command line planned again, and run only if nothing it was computed from
 * changed (configuration, stamps, task code) and the plan is the same; then exactly its tasks run (a drift
 * check that would add one is not run). Otherwise refused with what changed, exit 2.
 */
export async function applyPlan(invocation: Invocation): Promise<number> {
  const file = invocation.options.planFile!;
  const read = readSavedPlan(file);
  if (!read.ok) return report(invocation, read.failure, ExitCode.usage);
  const saved = read.plan;
  const namesEnvironment = saved.command.some((arg) => arg === '--env' || arg === '-e' || arg.startsWith('--env='));
  const argv = namesEnvironment ? saved.command : [...saved.command, '--env', saved.environment];
  const parsed = parseCommandLine(argv);
  if (!parsed.ok || parsed.value.command !== 'run') return report(invocation, { reason: 'plan-unreadable', file, detail: `its command line (${saved.command.join(' ')}) is not a run` }, ExitCode.usage);
  const chosen = invocation.options.environment;
  if (chosen !== undefined && chosen !== saved.environment) {
    return report(invocation, { reason: 'usage', message: `the plan ${file} is for environment ${saved.environment}, not ${chosen}`, hint: 'apply it without --env, or make a plan for that environment' }, ExitCode.usage);
  }
  const { output, json, yes, verbose } = invocation.options;
  const replay: Invocation = { ...invocation, options: { ...parsed.value, output, json, verbose, yes: yes || parsed.value.yes }, argv };
  const session = await openSession(replay);
  if (!session.ok) return report(replay, session.error, ExitCode.usage);
  try {
    return await applySession(invocation, replay, session.value, saved, file);
  } finally {
    await session.value.store.close();
  }
}

/** Plans again on the opened session and runs the saved plan's tasks, or refuses naming what changed. */
async function applySession(invocation: Invocation, replay: Invocation, session: Session, saved: SavedPlan, file: string): Promise<number> {
  const plan = await planRun(session);
  const normalized = JSON.parse(JSON.stringify({ config: session.config, tasks: session.redactor.redactValue(plan.map(savedStep)) })) as Pick<SavedPlan, 'config' | 'tasks'>;
  const differences = planDifferences(saved, { environment: saved.environment, command: saved.command, ...(await planBasis(session.graph, session.store, session.sources)), ...normalized });
  if (differences.length > 0) return report(invocation, { reason: 'plan-outdated', file, differences }, ExitCode.usage);
  const runs = plannedRuns(saved);
  if (runs.length === 0) {
    invocation.io.stdout.write(`the plan ${file} runs nothing: every task was up to date\n`);
    return ExitCode.success;
  }
  return runTargets(replay, { ...session, only: new Set(runs) });
}
