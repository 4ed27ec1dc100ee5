import path from 'node:path';
import type { Writable } from 'node:stream';
import { formatLocation, type TaskId } from '../dsl/ids.js';
import { DetailedExitCode, ExitCode, fail, ok, type ConfigurationFailure, type EngineFailure, type Result } from '../failures.js';
import { commandLineInstances } from '../graph/command-line-instances.js';
import { buildGraph, resolvePhase, resolveTarget, selectSubgraph, type TaskGraph } from '../graph/build-graph.js';
import { suggestName } from '../graph/suggest.js';
import { renderFailure, stackOf } from '../reporter/render-failure.js';
import type { PlanOptions } from '../scheduler/plan-run.js';
import { Redactor } from '../scheduler/redactor.js';
import { SourceDigests } from '../stamps/source-digests.js';
import { toolVersions } from '../stamps/tool-versions.js';
import type { StateStore } from '../state/state-store.js';
import { openStateStore } from './open-state.js';
import { deployedState } from '../state/deployed-state.js';
import { definedTasks, type DeployedState } from '../dsl/task.js';
import type { ConsoleOutput } from './console-reporter.js';
import { thrownError } from './escaped-exceptions.js';
import type { CliOptions } from './parse-args.js';
import { environmentNameOf, environmentPaths, type LoadedEnvironment, type Project } from './project.js';
import { saveCaches } from './save-caches.js';

export interface Io {
  readonly stdout: ConsoleOutput;
  readonly stderr: Writable;
}

/** What every command gets: the project, the parsed command line and where to write. */
export interface Invocation {
  readonly project: Project<unknown>;
  readonly options: CliOptions;
  readonly io: Io;
  /** The command line as given (a saved plan keeps the run's part of it). */
  readonly argv?: readonly string[];
}

/** Writes the one line of a failure (its stack under --verbose) and returns the command's exit code. */
export function report(invocation: Pick<Invocation, 'io'> & { readonly options?: Pick<CliOptions, 'verbose'> & Partial<Pick<CliOptions, 'detailedExitcode'>> }, failure: ConfigurationFailure | EngineFailure, exitCode: number): number {
  const stack = stackOf(failure);
  const verbose = invocation.options?.verbose ?? false;
  const more = stack === undefined ? '' : verbose ? `\n${stack}` : ' (run with --verbose for the stack trace)';
  // Whatever the message quotes (a value from a file, a name typed), it stays one line.
  const line = renderFailure(failure).replace(/[\u0000-\u001f\u007f]/g, (character) => JSON.stringify(character).slice(1, -1));
  invocation.io.stderr.write(`error: ${line}${more}\n`);
  // With --detailed-exitcode, 2 means "something would run": every error is 1.
  return invocation.options?.detailedExitcode && exitCode !== ExitCode.success ? DetailedExitCode.error : exitCode;
}

/**
 * The chosen environment's configuration and what its state says was deployed, for the commands that show
 * its graph: no secret is read, nothing is written.
 */
export async function environmentConfiguration(invocation: Invocation): Promise<Result<{ readonly config: unknown; readonly deployed: DeployedState }, ConfigurationFailure>> {
  const name = environmentNameOf(invocation.options.environment, invocation.project.defaultEnvironment);
  let loaded = await loadEnvironment(invocation.project, name, 'configuration');
  if (!loaded.ok) return loaded;
  // A shared state's URL is a secret: read the secrets to reach what is deployed.
  if (loaded.value.stateStore) loaded = await loadEnvironment(invocation.project, name, 'secrets');
  if (!loaded.ok) return loaded;
  const opened = await openStateStore(loaded.value, name, environmentPaths(invocation.project.root, name).stateDirectory);
  if (!opened.ok) return opened;
  const deployed = deployedState(opened.value);
  await opened.value.close();
  return ok({ config: loaded.value.config, deployed });
}

/**
 * The project's whole graph for an environment's configuration (validated, pools checked) and the part the
 * command's targets need.
 */
export function selectGraph(invocation: Invocation, config: unknown, deployed: DeployedState): Result<{ readonly all: TaskGraph; readonly selected: TaskGraph }, ConfigurationFailure> {
  // Instances with free inputs may be named as targets, or in --only and --force (a plan of `--only` alone).
  const { targets: typedTargets, only, force } = invocation.options;
  const named = commandLineInstances(invocation.project.catalog, [...new Set([...typedTargets, ...only, ...force])]);
  if (!named.ok) return named;
  // The catalog as deploy.ts gave it (buildGraph reports one that is not a list), with the instances named.
  const built = buildGraph(named.value.size === 0 ? invocation.project.catalog : [...invocation.project.catalog, ...named.value.values()], config, deployed);
  if (!built.ok) return built;
  const all = built.value;
  const undeclaredPool = checkPools(all, invocation.project.pools ?? {});
  if (undeclaredPool) return fail(undeclaredPool);
  const targets = resolveTargets(all, invocation.options.targets.map((target) => named.value.get(target)?.id ?? target));
  if (!targets.ok) return fail(notInCatalog(targets.error, all) ?? targets.error);
  return ok({ all, selected: targets.value.length > 0 ? selectSubgraph(all, targets.value) : all });
}

/** An unknown target that names a task some loaded module defined, but the catalog does not hold. */
function notInCatalog(failure: ConfigurationFailure, graph: TaskGraph): ConfigurationFailure | undefined {
  if (failure.reason !== 'unknown-target') return undefined;
  const name = failure.target.replace(/\[.*$/, '');
  const defined = definedTasks().find((definition) => definition.name === name && !graph.definitions.has(name));
  return defined ? { reason: 'task-not-in-catalog', target: failure.target, definedAt: defined.definedAt } : undefined;
}

/** Everything a command that reads or changes an environment's state works with: what a plan needs, and more. */
export interface Session extends PlanOptions {
  readonly environmentName: string;
  readonly stateDirectory: string;
  readonly logDirectory: string;
  readonly environment: LoadedEnvironment<unknown>;
  readonly store: StateStore;
  readonly redactor: Redactor;
  readonly reset: ReadonlySet<TaskId>;
  /** Every task of the environment's whole graph: a stamp of another is orphaned (its cluster or node was taken out). */
  readonly declared: ReadonlySet<TaskId>;
  /** Saves the source digests and tool versions learnt (a warning if they cannot be). */
  saveCaches(): Promise<void>;
}

/** Loads the environment, resolves the task lists of the command line, and opens the state and caches. */
export async function openSession(invocation: Invocation): Promise<Result<Session, ConfigurationFailure>> {
  const { project, options } = invocation;
  const environmentName = environmentNameOf(options.environment, project.defaultEnvironment);
  const environment = await loadEnvironment(project, environmentName, 'secrets');
  if (!environment.ok) return environment;
  const paths = environmentPaths(project.root, environmentName);
  const opened = await openStateStore(environment.value, environmentName, paths.stateDirectory);
  if (!opened.ok) return opened;
  const session = await sessionOn(invocation, environmentName, environment.value, opened.value);
  // A session that is not handed over closes its store (a database connection would keep the process alive).
  if (!session.ok) await opened.value.close();
  return session;
}

async function sessionOn(invocation: Invocation, environmentName: string, environment: LoadedEnvironment<unknown>, store: StateStore): Promise<Result<Session, ConfigurationFailure>> {
  const { project, options } = invocation;
  const paths = environmentPaths(project.root, environmentName);
  const graphs = selectGraph(invocation, environment.config, deployedState(store));
  if (!graphs.ok) return graphs;
  const { all, selected } = graphs.value;
  for (const warning of environment.warnings ?? []) invocation.io.stderr.write(`warning: ${warning}\n`);
  const lists = [options.force, options.skip, options.only].map((names) => resolveTargets(all, names));
  // --reset also takes a stamp the graph no longer has (a node or cluster taken out of the environment).
  const reset = resolveTargets(all, options.reset, (graph, name) => (store.record(name as TaskId)?.stamp && !graph.nodes.has(name as TaskId) ? ok(name as TaskId) : resolveTarget(graph, name)));
  const skipPhases = resolveTargets(all, options.skipPhases, resolvePhase);
  for (const list of [...lists, reset, skipPhases]) if (!list.ok) return list;
  const [force, skip, only] = lists.map((list) => new Set(list.ok ? list.value : []));
  const cacheDirectory = path.join(project.root, '.cache');
  const sources = await SourceDigests.open(project.root, path.join(cacheDirectory, 'source-digests.json'));
  await toolVersions.load(path.join(cacheDirectory, 'tool-versions.json'));
  return ok({
    environmentName,
    ...paths,
    environment,
    config: environment.config,
    graph: selected,
    store,
    sources,
    redactor: new Redactor(environment.secrets),
    force: options.forceAll ? 'all' : force!,
    skip: new Set([...skip!, ...(skipPhases.ok ? skipPhases.value : [])]),
    ...(options.only.length > 0 ? { only: only! } : {}),
    reset: new Set(reset.ok ? reset.value : []),
    declared: new Set(all.nodes.keys()),
    saveCaches: () =>
      saveCaches(invocation.io.stderr, [
        { what: 'the source digests', save: () => sources.save() },
        { what: 'the tool versions', save: () => toolVersions.save() },
      ]),
  });
}

/** A pool a task names but the project does not declare is a typo until proven otherwise. */
function checkPools(graph: TaskGraph, pools: Readonly<Record<string, unknown>>): ConfigurationFailure | undefined {
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

async function loadEnvironment(project: Project<unknown>, name: string, needs: 'configuration' | 'secrets'): Promise<Result<LoadedEnvironment<unknown>, ConfigurationFailure>> {
  const loader = Object.hasOwn(project.environments, name) ? project.environments[name] : undefined;
  if (!loader) return fail({ reason: 'unknown-environment', name, known: Object.keys(project.environments).sort() });
  try {
    return await loader(needs);
  } catch (error) {
    // The project's own code threw (a file it parses, a variable it expects): where, not an internal error.
    const thrown = thrownError(error);
    return fail({
      reason: 'invalid-environment',
      environment: name,
      path: thrown.location ? formatLocation(thrown.location) : 'its loader',
      message: `loading it threw: ${thrown.message}`,
      hint: 'fix the file it reads or its loader in the project',
    });
  }
}
