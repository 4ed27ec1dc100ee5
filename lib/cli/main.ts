import os from 'node:os';
import type { Writable } from 'node:stream';
import path from 'node:path';
import readline from 'node:readline/promises';
import { locationInProject } from '../dsl/call-site.js';
import { formatLocation, type TaskId } from '../dsl/ids.js';
import { buildGraph, resolvePhase, resolveTarget, selectSubgraph, type TaskGraph } from '../graph/build-graph.js';
import { formatGraph } from '../graph/format-graph.js';
import { suggestName } from '../graph/suggest.js';
import { ExitCode, fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import { LogFiles } from '../reporter/log-files.js';
import { renderFailure } from '../reporter/render-failure.js';
import { fanOut } from '../reporter/reporter.js';
import type { EngineEvent, RunRecord } from '../scheduler/events.js';
import { planCommands } from '../scheduler/plan-commands.js';
import { planRun } from '../scheduler/plan-run.js';
import { Redactor } from '../scheduler/redactor.js';
import { describeRunReason, describeSkipReason } from '../scheduler/run-reason.js';
import { runGraph } from '../scheduler/run-graph.js';
import { closeSpawnService } from '../scheduler/spawn-service.js';
import { withoutTracking } from '../stamps/read-tracker.js';
import { SourceDigests } from '../stamps/source-digests.js';
import { toolVersions } from '../stamps/tool-versions.js';
import { JsonStateStore } from '../state/json-state-store.js';
import { acquireRunLock } from '../state/run-lock.js';
import { removeStaleScratchDirectories } from '../state/scratch-directory.js';
import { closeRunResources } from '../tools/run-resources.js';
import { tolerateClosedOutput } from './closed-output.js';
import { saveCaches, saveRunHistory, warnUnsaved } from './save-caches.js';
import { consoleReporter, displayPath, type ConsoleOptions, type ConsoleOutput } from './console-reporter.js';
import { describeEscaped, reportProjectLoadFailures } from './escaped-exceptions.js';
import { preferCompactHeap } from './heap-policy.js';
import { parseCommandLine, type CliOptions } from './parse-args.js';
import { environmentNameOf, environmentPaths, prepareRunDirectories, type LoadedEnvironment, type Project } from './project.js';
import { formatTaskList } from './show-list.js';
import type { UpToDateRun } from './up-to-date-cache.js';
import { formatVersions } from './show-versions.js';
import { answerWithoutProject, showSummary } from './without-project.js';
import { formatStatusTable, statusRows } from './show-status.js';

const projectLoaded = reportProjectLoadFailures();

interface Io {
  readonly stdout: ConsoleOutput;
  readonly stderr: Writable;
}

/** What a caller of the CLI learns about a command beyond its exit code (deploy.ts's start, for its cache). */
export interface CommandObserver {
  /**
   * A command whose whole answer is its output, decided by what it read (--status, --list, --graph): the
   * same command would print the same while that is unchanged. `stateDirectory` when it read the state.
   */
  answered(answer: { readonly stdout: string; readonly stateDirectory?: string }): void;
  /**
   * After a run's record is saved. `upToDate` is set when every task was found up to date with nothing else
   * to report (no warning, no drift probe, no --only): the same command would report the same as long as
   * what it read is unchanged.
   */
  runRecorded(run: {
    readonly environment: string;
    readonly stateDirectory: string;
    readonly logDirectory: string;
    readonly console: ConsoleOptions;
    readonly upToDate: UpToDateRun | undefined;
  }): void;
}

/** The CLI: parse, call the engine, map the outcome to an exit code. */
export async function runCli(project: Project<any>, argv: readonly string[] = process.argv.slice(2), io: Io = process, observer?: CommandObserver): Promise<number> {
  projectLoaded();
  tolerateClosedOutput(io.stdout, io.stderr);
  const parsed = parseCommandLine(argv);
  if (!parsed.ok) return reportError(io, parsed.error);
  const options = parsed.value;
  try {
    if (options.container) return await launchContainer(project, argv, options.container, io);
    return await dispatch(project, options, io, observer);
  } catch (error) {
    io.stderr.write(`error: internal error: ${(error as Error).message}${options.verbose ? `\n${(error as Error).stack}` : ' (run with --verbose for the stack trace)'}\n`);
    return ExitCode.taskFailed;
  }
}

const containerFlags = new Set(['--container', '--container-build', '--container-save']);

async function launchContainer(project: Project<any>, argv: readonly string[], container: NonNullable<CliOptions['container']>, io: Io): Promise<number> {
  const { runInContainer } = await import('../container/launcher.js');
  const launched = await runInContainer({
    root: project.root,
    args: argv.filter((arg) => !containerFlags.has(arg)),
    passEnvironment: ['DEPLOY_ENV', 'NO_COLOR', 'TERM', 'ONBOARDER_GRACE_MS', ...(project.passEnvironment ?? [])],
    build: container.build,
    save: container.save,
    log: (line) => io.stderr.write(`${line}\n`),
  });
  if (!launched.ok) return reportError(io, launched.error);
  return launched.value;
}

function reportError(io: Io, failure: ConfigurationFailure): number {
  io.stderr.write(`error: ${renderFailure(failure)}\n`);
  return ExitCode.usage;
}

async function dispatch(project: Project<any>, options: CliOptions, io: Io, observer: CommandObserver | undefined): Promise<number> {
  const withoutProject = await answerWithoutProject(project, options, io);
  if (withoutProject !== undefined) return withoutProject;
  const cacheDirectory = path.join(project.root, '.cache');
  const toolVersionsFile = path.join(cacheDirectory, 'tool-versions.json');
  const rememberedVersions = { what: 'the tool versions', save: () => toolVersions.save() };
  if (options.command === 'versions') {
    await toolVersions.load(toolVersionsFile);
    io.stdout.write(await formatVersions(project.version ?? '0.0.0'));
    await saveCaches(io.stderr, [rememberedVersions]);
    return ExitCode.success;
  }
  const built = buildGraph(project.catalog);
  if (!built.ok) return reportError(io, built.error);
  const fullGraph = built.value;
  const undeclaredPool = checkPools(fullGraph, project.pools ?? {});
  if (undeclaredPool) return reportError(io, undeclaredPool);
  const answer = (stdout: string, stateDirectory?: string) => {
    io.stdout.write(stdout);
    observer?.answered({ stdout, ...(stateDirectory !== undefined ? { stateDirectory } : {}) });
    return ExitCode.success;
  };
  if (options.command === 'list') return answer(formatTaskList(fullGraph));
  const targetIds = resolveTargets(fullGraph, options.targets);
  if (!targetIds.ok) return reportError(io, targetIds.error);
  const graph = targetIds.value.length > 0 ? selectSubgraph(fullGraph, targetIds.value) : fullGraph;
  if (options.command === 'graph') return answer(formatGraph(graph, options.format));

  const environmentName = environmentNameOf(options.environment, project.defaultEnvironment);
  const { stateDirectory, logDirectory } = environmentPaths(project.root, environmentName);
  if (options.command === 'summary') return showSummary(io, { stateDirectory, logDirectory }, options);

  const environment = await loadEnvironment(project, environmentName);
  if (!environment.ok) return reportError(io, environment.error);
  const listed = (names: readonly string[]) => resolveTargets(fullGraph, names);
  const force = listed(options.force);
  const skip = listed(options.skip);
  const skipPhases = resolveTargets(fullGraph, options.skipPhases, resolvePhase);
  const only = listed(options.only);
  const reset = listed(options.reset);
  for (const result of [force, skip, skipPhases, only, reset]) if (!result.ok) return reportError(io, result.error);
  const ids = (result: Result<TaskId[], ConfigurationFailure>) => new Set(result.ok ? result.value : []);

  preferCompactHeap();
  const opened = JsonStateStore.open(stateDirectory);
  if (!opened.ok) return reportError(io, opened.error);
  const store = opened.value;
  const sources = await SourceDigests.open(project.root, path.join(cacheDirectory, 'source-digests.json'));
  const rememberedDigests = { what: 'the source digests', save: () => sources.save() };
  await toolVersions.load(toolVersionsFile);
  const redactor = new Redactor(environment.value.secrets);
  const planOptions = {
    graph,
    store,
    sources,
    config: environment.value.config,
    force: options.forceAll ? ('all' as const) : ids(force),
    skip: new Set([...ids(skip), ...ids(skipPhases)]),
    ...(options.only.length > 0 ? { only: ids(only) } : {}),
  };

  if (options.command === 'dry-run' || options.command === 'status') {
    const plan = await planRun(planOptions);
    if (options.command === 'status') {
      await saveCaches(io.stderr, [rememberedDigests, rememberedVersions]);
      const rows = statusRows(plan, store);
      // The state holds redacted text already; the table goes to the terminal and the up-to-date cache.
      const table = redactor.redact(options.json ? `${JSON.stringify(rows, null, 2)}\n` : formatStatusTable(rows));
      if (store.warnings.length > 0) {
        io.stdout.write(table);
        return ExitCode.success;
      }
      return answer(table, stateDirectory);
    }
    const walk = new AbortController();
    const escapes = catchEscapes(io, redactor, options.verbose, walk);
    let commands: Awaited<ReturnType<typeof planCommands>>;
    try {
      commands = await planCommands(graph, plan, { root: project.root, config: environment.value.config, redactor, signal: walk.signal });
    } finally {
      escapes.stop();
      await closeRunResources();
      closeSpawnService();
    }
    // After the walk: its helpers ask tool versions too (which of tofu and terraform is there). Saved before
    // it, they were asked again on every dry run, and a dry run that starts a program cannot be cached.
    await saveCaches(io.stderr, [rememberedDigests, rememberedVersions]);
    if (escapes.escaped()) return ExitCode.taskFailed;
    if (options.json) {
      const steps = plan.map((step) => ({ ...step, ...(commands.get(step.task) ?? {}) }));
      return answer(`${JSON.stringify(redactor.redactValue(steps), null, 2)}\n`, stateDirectory);
    }
    const toRun = plan.filter((step) => step.action === 'run').length;
    const lines = [`plan for ${environmentName}: ${toRun} of ${plan.length} tasks would run\n`];
    const width = Math.max(...plan.map((step) => step.task.length));
    for (const step of plan) {
      const detail =
        step.action === 'run'
          ? `run   ${describeRunReason(step.reason)}`
          : step.action === 'skip'
            ? `skip  ${describeSkipReason(step.why)}${step.driftCheck ? ' (drift check runs first)' : ''}`
            : `fail  ${renderFailure(step.failure)}`;
      lines.push(redactor.redact(`  ${String(step.level + 1).padStart(2)}  ${step.task.padEnd(width)}  ${detail}\n`));
      const planned = commands.get(step.task);
      for (const command of planned?.commands ?? []) lines.push(redactor.redact(`        $ ${command}\n`));
      if (planned?.unknown) lines.push(redactor.redact(`        (commands not listed: ${planned.unknown})\n`));
    }
    // A plan is a function of what the command read, as --status is: the up-to-date cache may answer it
    // again. One that cannot be carried out (a task fails to plan) exits non-zero and is not remembered.
    if (plan.some((step) => step.action === 'fail')) {
      io.stdout.write(lines.join(''));
      return ExitCode.usage;
    }
    return answer(lines.join(''), stateDirectory);
  }

  const prepared = prepareRunDirectories({ stateDirectory, logDirectory });
  if (!prepared.ok) return reportError(io, prepared.error);
  const lock = acquireRunLock(path.join(stateDirectory, 'run.lock'));
  if (!lock.ok) return reportError(io, lock.error);
  if (lock.value.takeoverWarning) io.stderr.write(`warning: ${lock.value.takeoverWarning}\n`);
  for (const warning of store.warnings) io.stderr.write(`warning: ${warning}\n`);
  try {
    if (options.command === 'reset') {
      for (const id of ids(reset)) store.reset(id);
      const forgotten = [...ids(reset)];
      io.stdout.write(`reset ${forgotten.join(', ')}: ${forgotten.length === 1 ? 'it runs' : 'they run'} again next time\n`);
      return ExitCode.success;
    }
    if (options.command === 'reset-state') {
      if (!options.yes && !(await confirm(`forget every stamp of environment ${environmentName}?`))) {
        io.stderr.write('error: --reset-state needs confirmation: answer y, or pass --yes\n');
        return ExitCode.usage;
      }
      store.resetAll();
      io.stdout.write(`reset every stamp of ${environmentName}\n`);
      return ExitCode.success;
    }
    // Scratch files (inventories, variables that may hold secrets) of runs that were killed before they
    // could remove their own.
    withoutTracking(removeStaleScratchDirectories);
    if (options.only.length > 0) {
      io.stderr.write(`warning: --only runs just ${options.only.join(', ')}; their dependencies are assumed done\n`);
    }
    const reporter = fanOut([await consoleReporter(options, io.stdout, displayPath(logDirectory)), new LogFiles(logDirectory, (message) => io.stderr.write(`warning: ${message}\n`))]);
    // Kept while every event is a skip: a run that only found tasks up to date can be replayed.
    let skippedInOrder: TaskId[] | undefined =
      observer && store.warnings.length === 0 && !lock.value.takeoverWarning && options.only.length === 0 && !probesDrift(graph) ? [] : undefined;
    let started: Extract<EngineEvent, { type: 'run-started' }> | undefined;
    const interrupt = new AbortController();
    const handle = runGraph({
      ...planOptions,
      targets: options.targets,
      environment: environmentName,
      root: project.root,
      redactor,
      emit: (event) => {
        reporter.handle(event);
        if (skippedInOrder === undefined) return;
        if (event.type === 'task-skipped') skippedInOrder.push(event.task);
        else if (event.type === 'run-started') started = event;
        else if (event.type !== 'run-finished') skippedInOrder = undefined;
      },
      concurrency: options.concurrency ?? Math.max(1, os.availableParallelism()),
      pools: project.pools ?? {},
      keepGoing: options.keepGoing,
      ...(options.timeoutMs !== undefined ? { timeoutOverrideMs: options.timeoutMs } : {}),
      signal: interrupt.signal,
      graceMs: Number(process.env.ONBOARDER_GRACE_MS ?? 5000),
      retryBaseMs: 2000,
    });
    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals === 1) {
        io.stderr.write('\ninterrupted: stopping running tasks (press Ctrl-C again to kill them now)\n');
        interrupt.abort();
      } else {
        handle.killNow();
      }
    };
    // SIGHUP: the terminal went away (a dropped SSH session). Stop as for Ctrl-C rather than die at once
    // and leave the tasks' process groups running with nobody to stop them.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    const escapes = catchEscapes(io, redactor, options.verbose, interrupt);
    let record: RunRecord;
    try {
      record = await handle.done;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
      escapes.stop();
      await reporter.close();
      await closeRunResources();
      closeSpawnService();
      await saveCaches(io.stderr, [rememberedDigests, rememberedVersions]);
    }
    const saved = redactor.redactValue(record);
    await saveRunHistory(io.stderr, { stateDirectory, logDirectory }, saved);
    const replayable = !escapes.escaped() && record.outcome === 'succeeded' && started !== undefined && skippedInOrder !== undefined;
    observer?.runRecorded({ environment: environmentName, stateDirectory, logDirectory, console: { json: options.json, output: options.output, verbose: options.verbose }, upToDate: replayable ? upToDateRun(started!, saved, skippedInOrder!) : undefined });
    if (escapes.escaped()) return ExitCode.taskFailed;
    if (record.outcome === 'interrupted') return ExitCode.interrupted;
    return record.outcome === 'succeeded' ? ExitCode.success : ExitCode.taskFailed;
  } finally {
    try {
      await store.close();
    } catch (error) {
      warnUnsaved(io.stderr, `${store.location} (the journal beside it keeps every stamp and is read on the next run)`, error);
    }
    lock.value.release();
  }
}

/**
 * An exception that escaped every task (thrown in a callback, a rejected promise nobody awaited) would end
 * the process on the spot, its tasks' processes orphaned and no record written: report it in one line and
 * abort instead, so the run (or the dry run's walk) stops in order and fails.
 */
function catchEscapes(io: Io, redactor: Redactor, verbose: boolean, stop: AbortController): { escaped(): boolean; stop(): void } {
  let escaped = false;
  const onEscaped = (error: unknown) => {
    if (escaped) return;
    escaped = true;
    const what = 'an exception escaped the tasks (thrown in a callback, or a promise nobody awaited): ';
    const hint = 'the run stops; catch it in the task, or await the promise';
    io.stderr.write(redactor.redact(`error: ${describeEscaped(error, what, hint, verbose)}\n`));
    stop.abort();
  };
  process.on('uncaughtException', onEscaped);
  process.on('unhandledRejection', onEscaped);
  return {
    escaped: () => escaped,
    stop: () => {
      process.off('uncaughtException', onEscaped);
      process.off('unhandledRejection', onEscaped);
    },
  };
}

/** The run in the cache's terms: the order of its skips as indexes into its record (undefined if they differ). */
function upToDateRun(started: Extract<EngineEvent, { type: 'run-started' }>, record: RunRecord, skippedInOrder: readonly TaskId[]): UpToDateRun | undefined {
  const index = new Map(record.tasks.map((task, position) => [task.task, position]));
  const order = skippedInOrder.map((task) => index.get(task));
  if (order.length !== record.tasks.length || order.some((position) => position === undefined)) return undefined;
  if (record.tasks.some((task) => task.outcome !== 'skipped' || !task.skipped)) return undefined;
  return { started, record, order: order as number[] };
}

/** A task with a drift probe must be asked every run: its result is not in any file. */
function probesDrift(graph: TaskGraph): boolean {
  for (const node of graph.nodes.values()) if (node.instance.definition.spec.check) return true;
  return false;
}

/** A pool a task names but the project does not declare is a typo until proven otherwise. */
function checkPools(graph: TaskGraph, pools: Readonly<Record<string, number>>): ConfigurationFailure | undefined {
  for (const definition of graph.definitions.values()) {
    const pool = definition.spec.pool;
    if (pool === undefined || pool in pools) continue;
    const suggestion = suggestName(pool, Object.keys(pools));
    return {
      reason: 'invalid-definition',
      message: `task '${definition.name}' uses pool '${pool}', which is not declared`,
      location: definition.definedAt,
      hint: suggestion ? `did you mean '${suggestion}'? (pools are declared in deploy.ts)` : `declare it with its capacity in deploy.ts: pools: { '${pool}': 1 }`,
    };
  }
  return undefined;
}

function resolveTargets(graph: TaskGraph, names: readonly string[], resolve = resolveTarget): Result<TaskId[], ConfigurationFailure> {
  const ids: TaskId[] = [];
  for (const name of names) {
    const resolved = resolve(graph, name);
    if (!resolved.ok) return resolved;
    ids.push(resolved.value);
  }
  return ok(ids);
}

async function loadEnvironment(project: Project<any>, name: string): Promise<Result<LoadedEnvironment, ConfigurationFailure>> {
  const loader = project.environments[name];
  if (!loader) return fail({ reason: 'unknown-environment', name, known: Object.keys(project.environments).sort() });
  try {
    return await loader();
  } catch (error) {
    // The project's own code threw (a file it parses, a variable it expects): where, not an internal error.
    const thrown = error instanceof Error ? error : new Error(String(error));
    const at = locationInProject(thrown.stack);
    return fail({
      reason: 'invalid-environment',
      environment: name,
      path: at ? formatLocation(at) : 'its loader',
      message: `loading it threw: ${thrown.message}`,
      hint: 'fix the file it reads or its loader in the project',
    });
  }
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const prompt = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}
