import type { TaskId } from '../dsl/ids.js';
import type { PlannedCommands } from '../scheduler/plan-commands.js';
import { describeDestructions, type Destruction } from '../scheduler/destruction.js';
import type { PlannedTask } from '../scheduler/plan-run.js';
import { describeRunReason, describeSkipReason } from '../scheduler/run-reason.js';
import { renderFailure } from './render-failure.js';

/**
 * `--dry-run`: the plan in order, each task with its level, what would happen and why, and the commands it
 * would run. Text from the engine is redacted already; `redact` covers what this adds around it.
 */
export function formatPlan(environment: string, plan: readonly PlannedTask[], commands: ReadonlyMap<TaskId, PlannedCommands>, destroyed: readonly Destruction[] = []): string {
  const toRun = plan.filter((step) => step.action === 'run').length;
  const lines = [`plan for ${environment}: ${toRun} of ${plan.length} tasks would run`];
  const width = Math.max(...plan.map((step) => step.task.length));
  for (const step of plan) {
    lines.push(`  ${String(step.level + 1).padStart(2)}  ${step.task.padEnd(width)}  ${describeStep(step)}`);
    const planned = commands.get(step.task);
    for (const command of planned?.commands ?? []) lines.push(`        $ ${command}`);
    if (planned?.runsWith) lines.push(`        (runs as one body with ${planned.runsWith}: its commands are listed there)`);
    if (planned?.notWalked) lines.push(`        (commands not listed: ${withoutTaskName(step.task, renderFailure(planned.notWalked))})`);
  }
  if (destroyed.length > 0) lines.push(`this run would destroy: ${describeDestructions(destroyed)} (a run asks first, unless --yes)`);
  return `${lines.join('\n')}\n`;
}

function describeStep(step: PlannedTask): string {
  switch (step.action) {
    case 'run':
      return `run   ${describeRunReason(step.reason)}`;
    case 'skip':
      return `skip  ${describeSkipReason(step.why)}${step.driftCheck ? ' (drift check runs first)' : ''}`;
    case 'fail':
      return `fail  ${renderFailure(step.failure)}`;
  }
}

/** A failure's message without the task's name in front, where the line names the task already. */
export function withoutTaskName(task: string, message: string): string {
  return message.startsWith(`${task}: `) ? message.slice(task.length + 2) : message;
}
