import { existsSync } from 'node:fs';
import path from 'node:path';
import { renderHtmlReport } from '../../reporter/html-report.js';
import { graphReportModel } from '../../reporter/report-model.js';
import { resolveTarget } from '../../graph/build-graph.js';
import { formatGraph } from '../../graph/format-graph.js';
import { formatTaskSummary, summarizeTask, type TaskSummary } from '../../reporter/task-summary.js';
import { jsonDocument } from '../../dsl/json-document.js';
import { formatRunTable, summarizeRun } from '../../reporter/summary.js';
import { formatTaskList, taskListEntries } from '../../reporter/task-list.js';
import { toolVersions } from '../../stamps/tool-versions.js';
import { readLastRunRecord, runReportFile } from '../../state/run-records.js';
import type { RunRecord } from '../../state/run-record.js';
import { isShared } from '../../state/state-store.js';
import { ExitCode, ok, type ConfigurationFailure, type Result } from '../../failures.js';
import { openStateStore } from '../open-state.js';
import { displayPath } from '../console-reporter.js';
import { environmentNameOf, environmentPaths } from '../project.js';
import { saveCaches } from '../save-caches.js';
import { environmentConfiguration, report, selectGraph, type Invocation } from '../session.js';
import { formatVersions, versionsOf } from '../show-versions.js';

/** `--list`: every task with its description, grouped by namespace, with the instances of parameterised ones. */
export async function showList(invocation: Invocation): Promise<number> {
  const config = await environmentConfiguration(invocation);
  if (!config.ok) return report(invocation, config.error, ExitCode.usage);
  const graphs = selectGraph({ ...invocation, options: { ...invocation.options, targets: [] } }, config.value.config, config.value.deployed);
  if (!graphs.ok) return report(invocation, graphs.error, ExitCode.usage);
  const environment = environmentNameOf(invocation.options.environment, invocation.project.defaultEnvironment);
  invocation.io.stdout.write(invocation.options.json ? jsonDocument('tasks', { environment, tasks: taskListEntries(graphs.value.all) }) : formatTaskList(graphs.value.all));
  return ExitCode.success;
}

/** `--graph [targets]`: the graph of the targets, or of every task, in the chosen format. */
export async function showGraph(invocation: Invocation): Promise<number> {
  const config = await environmentConfiguration(invocation);
  if (!config.ok) return report(invocation, config.error, ExitCode.usage);
  const graphs = selectGraph(invocation, config.value.config, config.value.deployed);
  if (!graphs.ok) return report(invocation, graphs.error, ExitCode.usage);
  const { format } = invocation.options;
  const environment = environmentNameOf(invocation.options.environment, invocation.project.defaultEnvironment);
  // --json with --format html is refused when parsed.
  invocation.io.stdout.write(format === 'html' ? renderHtmlReport(graphReportModel(environment, graphs.value.selected)) : formatGraph(graphs.value.selected, invocation.options.json ? 'json' : format));
  return ExitCode.success;
}

/** `--summary TARGET...`: what each task is (go-task's --summary), its deps resolved for the environment. */
export async function showTaskSummary(invocation: Invocation): Promise<number> {
  const config = await environmentConfiguration(invocation);
  if (!config.ok) return report(invocation, config.error, ExitCode.usage);
  const graphs = selectGraph({ ...invocation, options: { ...invocation.options, targets: [] } }, config.value.config, config.value.deployed);
  if (!graphs.ok) return report(invocation, graphs.error, ExitCode.usage);
  const { all } = graphs.value;
  const summaries: TaskSummary[] = [];
  for (const target of invocation.options.targets) {
    const resolved = resolveTarget(all, target);
    const definition = resolved.ok ? all.nodes.get(resolved.value)!.instance.definition : all.definitions.get(target);
    if (!definition) return report(invocation, resolved.ok ? { reason: 'unknown-target', target } : resolved.error, ExitCode.usage);
    summaries.push(summarizeTask(all, definition, resolved.ok ? resolved.value : undefined));
  }
  const environment = environmentNameOf(invocation.options.environment, invocation.project.defaultEnvironment);
  invocation.io.stdout.write(invocation.options.json ? jsonDocument('task', { environment, tasks: summaries }) : summaries.map(formatTaskSummary).join('\n'));
  return ExitCode.success;
}

/** `--last-run` (and `--summary` alone): the last run's record, each task's outcome and why, and the run's summary. */
export async function showLastRun(invocation: Invocation): Promise<number> {
  const { project, options, io } = invocation;
  const environment = environmentNameOf(options.environment, project.defaultEnvironment);
  const paths = environmentPaths(project.root, environment);
  const read = await lastRunRecord(invocation, environment, paths.stateDirectory);
  if (!read.ok) return report(invocation, read.error, ExitCode.usage);
  const record = read.value;
  if (!record) return report(invocation, { reason: 'no-run-recorded', environment }, ExitCode.usage);
  if (options.json) {
    io.stdout.write(jsonDocument('run', record as unknown as Record<string, unknown>));
    return ExitCode.success;
  }
  io.stdout.write(`run ${record.runId} (${record.environment}: ${record.targets.join(' ')}) ${record.startedAt}\n`);
  io.stdout.write(formatRunTable(record));
  io.stdout.write(`${summarizeRun(record, { logDirectory: displayPath(paths.logDirectory) }).join('\n')}\n`);
  const htmlReport = runReportFile(paths.stateDirectory, record.runId);
  if (existsSync(htmlReport)) io.stdout.write(`report: ${displayPath(htmlReport)}\n`);
  return ExitCode.success;
}

/** `--versions`: Onboarder, Node and every tool the tasks call, asked now. */
export async function showVersions(invocation: Invocation): Promise<number> {
  await toolVersions.load(path.join(invocation.project.root, '.cache', 'tool-versions.json'));
  const version = invocation.project.version ?? '0.0.0';
  invocation.io.stdout.write(invocation.options.json ? jsonDocument('versions', await versionsOf(version)) : await formatVersions(version));
  await saveCaches(invocation.io.stderr, [{ what: 'the tool versions', save: () => toolVersions.save() }]);
  return ExitCode.success;
}

/** The last run's record: the team's, from a shared state, or this checkout's, from its run records. */
async function lastRunRecord(invocation: Invocation, environment: string, stateDirectory: string): Promise<Result<RunRecord | undefined, ConfigurationFailure>> {
  const loaded = await invocation.project.environments[environment]!('configuration');
  if (!loaded.ok || !loaded.value.stateStore) return readLastRunRecord(stateDirectory);
  const withSecrets = await invocation.project.environments[environment]!('secrets');
  if (!withSecrets.ok) return withSecrets;
  const opened = await openStateStore(withSecrets.value, environment, stateDirectory);
  if (!opened.ok) return opened;
  try {
    return ok(isShared(opened.value) ? await opened.value.lastRun() : undefined);
  } finally {
    await opened.value.close();
  }
}
