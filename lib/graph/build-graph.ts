import { DirectedGraph } from 'graphology';
import { topologicalGenerations } from 'graphology-dag';
import type { SourceLocation, TaskId } from '../dsl/ids.js';
import {
  TaskDefinitionError,
  type DeployedState,
  resolveDependency,
  type AnyTaskDefinition,
  type Dependency,
  type TaskInstance,
} from '../dsl/task.js';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import { instanceId, parseTypedInputs } from '../dsl/instance-id.js';
import { suggestName } from './suggest.js';
import { declarationOrder } from './declaration-order.js';

/** What deploy.ts hands to the CLI: tasks (also parameterised ones, for --list) and instances. */
export type CatalogEntry = TaskInstance | AnyTaskDefinition;

export interface TaskNode {
  readonly instance: TaskInstance;
  /** Direct dependencies, in declaration order (`deps`, then `after`). */
  readonly dependencies: readonly TaskId[];
  /** Those of them declared with `after`: ordering only, left out of the fingerprint. */
  readonly orderOnly?: ReadonlySet<TaskId>;
  /** Stamped instances this one takes down (`retires`): their stamps are forgotten once it succeeds. */
  readonly retires?: readonly TaskId[];
  /** Its `batch` key, with its task's name: ready instances with the same one run as one body. */
  readonly batch?: string;
}

/**
 * A validated, acyclic graph of task instances. Edges run from a dependency to its dependent, the order in
 * which things happen.
 */
export interface TaskGraph {
  readonly graph: DirectedGraph;
  readonly nodes: ReadonlyMap<TaskId, TaskNode>;
  /** Nodes grouped by depth: every node's dependencies are in earlier generations. */
  readonly generations: readonly (readonly TaskId[])[];
  /** Every task definition known to the catalog, by qualified name (parameterised ones included). */
  readonly definitions: ReadonlyMap<string, AnyTaskDefinition>;
  /**
   * Each task's position in the order the project declares them (see declaration-order.ts: the catalog's
   * entries in order, each after its `deps`, in the order written). Ties in the run's priority go by it.
   */
  readonly declared: ReadonlyMap<TaskId, number>;
}

/** What is wrong with a catalog that is not a list of task() results (modules tsx does not typecheck can pass anything). */
function checkCatalog(catalog: unknown): string | undefined {
  if (!Array.isArray(catalog)) return `is ${catalog === null ? 'null' : typeof catalog === 'object' ? 'an object, not an array' : typeof catalog}`;
  const index = catalog.findIndex((entry) => typeof entry !== 'object' || entry === null || !('definedAt' in entry || 'definition' in entry));
  if (index === -1) return undefined;
  const entry: unknown = catalog[index];
  return `holds ${entry === null ? 'null' : typeof entry === 'object' ? 'an object that is not a task' : typeof entry === 'function' ? 'a function (a thunk? only deps take those)' : typeof entry} at index ${index}`;
}

/** The state of an environment nothing was deployed to (and of graphs built without one). */
export const nothingDeployed: DeployedState = { stampedInputs: () => [], stamped: () => [], keptValue: () => undefined };

function isInstance(entry: CatalogEntry): entry is TaskInstance {
  return 'id' in entry && 'inputs' in entry;
}

/**
 * Builds the graph of everything reachable from the catalog for an environment's configuration (what
 * `deps` and `instances` functions read), and validates it before anything runs.
 */
export function buildGraph(catalog: readonly CatalogEntry[], config?: unknown, deployed: DeployedState = nothingDeployed): Result<TaskGraph, ConfigurationFailure> {
  const definitions = new Map<string, AnyTaskDefinition>();
  const nodes = new Map<TaskId, TaskNode>();
  const pending: TaskInstance[] = [];

  const registerDefinition = (definition: AnyTaskDefinition): ConfigurationFailure | undefined => {
    const known = definitions.get(definition.name);
    if (known && known !== definition) {
      return { reason: 'duplicate-task', name: definition.name, first: known.definedAt, second: definition.definedAt };
    }
    definitions.set(definition.name, definition);
    return undefined;
  };

  const invalid = checkCatalog(catalog);
  if (invalid) return fail({ reason: 'invalid-catalog', detail: invalid });
  const roots: TaskInstance[] = [];
  for (const entry of catalog) {
    const definition = isInstance(entry) ? entry.definition : entry;
    const duplicate = registerDefinition(definition);
    if (duplicate) return fail(duplicate);
    if (isInstance(entry)) roots.push(entry);
  }
  const declaredInstances = environmentInstances(definitions, config, deployed);
  if (!declaredInstances.ok) return declaredInstances;
  for (const instances of declaredInstances.value.values()) roots.push(...instances);
  pending.push(...roots);

  while (pending.length > 0) {
    const instance = pending.pop()!;
    if (nodes.has(instance.id)) continue;
    const duplicate = registerDefinition(instance.definition);
    if (duplicate) return fail(duplicate);
    const undeclared = checkDeclared(instance, declaredInstances.value);
    if (undeclared) return fail(undeclared);
    const dependencies = resolveDependencies(instance, config, 'deps');
    if (!dependencies.ok) return dependencies;
    const after = resolveDependencies(instance, config, 'after');
    if (!after.ok) return after;
    const ids = [...new Set(dependencies.value.map((dependency) => dependency.id))];
    const orderOnly = new Set(after.value.map((dependency) => dependency.id).filter((id) => !ids.includes(id)));
    const retires = retiredBy(instance, config, deployed);
    if (!retires.ok) return retires;
    const batch = batchKey(instance, config);
    if (!batch.ok) return batch;
    nodes.set(instance.id, {
      instance,
      dependencies: [...ids, ...orderOnly],
      ...(orderOnly.size > 0 ? { orderOnly } : {}),
      ...(retires.value.length > 0 ? { retires: retires.value } : {}),
      ...(batch.value !== undefined ? { batch: batch.value } : {}),
    });
    pending.push(...[...dependencies.value, ...after.value].filter((dependency) => !nodes.has(dependency.id)));
  }

  const graph = new DirectedGraph();
  for (const id of [...nodes.keys()].sort()) graph.addNode(id);
  for (const [id, node] of nodes) {
    for (const dependency of node.dependencies) graph.mergeEdge(dependency, id);
  }
  const cycle = findCycle(nodes);
  if (cycle) {
    return fail({
      reason: 'cycle',
      path: cycle,
      locations: cycle.slice(0, -1).map((id) => nodes.get(id)!.instance.definition.definedAt),
    });
  }
  const declared = declarationOrder((id) => nodes.get(id)!.dependencies, [...roots.map((root) => root.id), ...nodes.keys()]);
  return ok({ graph, nodes, generations: sortedGenerations(graph), definitions, declared });
}

/** The instances each parameterised task of the catalog declares for this environment (`instances`). */
function environmentInstances(definitions: ReadonlyMap<string, AnyTaskDefinition>, config: unknown, deployed: DeployedState): Result<Map<AnyTaskDefinition, TaskInstance[]>, ConfigurationFailure> {
  const found = new Map<AnyTaskDefinition, TaskInstance[]>();
  for (const definition of definitions.values()) {
    const instancesOf = definition.spec.instances;
    if (!instancesOf) continue;
    try {
      found.set(definition, instancesOf(config, deployed).map((inputs: Record<string, unknown>) => definition.with(inputs)));
    } catch (error) {
      if (error instanceof TaskDefinitionError) return fail({ reason: 'invalid-definition', message: error.message, location: definition.definedAt, hint: error.hint });
      const message = error instanceof Error ? error.message : String(error);
      return fail({ reason: 'invalid-definition', message: `computing the instances of task '${definition.name}' threw: ${message}`, location: definition.definedAt, hint: 'fix the instances function of this task' });
    }
  }
  return ok(found);
}

/** An instance of a task that declares its instances must be one of them: `node-prep[cluster=osdc-c]` on a site without that cluster. */
function checkDeclared(instance: TaskInstance, declared: ReadonlyMap<AnyTaskDefinition, TaskInstance[]>): ConfigurationFailure | undefined {
  const valid = declared.get(instance.definition);
  if (!valid || valid.some((entry) => entry.id === instance.id)) return undefined;
  const ids = valid.map((entry) => entry.id);
  if (instance.definition.spec.commandLineInputs) {
    // The command line adds free inputs (a file) to one of the instances the environment declares: the
    // inputs those instances have must be one of theirs.
    const inputs = instance.inputs as Record<string, unknown>;
    const agrees = (entry: TaskInstance) => Object.entries(entry.inputs as Record<string, unknown>).every(([key, value]) => inputs[key] === value);
    if (valid.some(agrees)) return undefined;
    return { reason: 'usage', message: `${instance.id} is not one of the instances of task '${instance.definition.name}' this environment declares`, hint: ids.length === 0 ? 'this environment declares none' : `its instances: ${ids.join(', ')} (with the other inputs added)` };
  }
  const suggestion = suggestName(instance.id, ids);
  return {
    reason: 'invalid-definition',
    message: `${instance.id} is not an instance of task '${instance.definition.name}' in this environment`,
    location: instance.boundAt,
    hint: ids.length === 0 ? 'this environment declares none' : `${suggestion ? `did you mean '${suggestion}'? ` : ''}its instances: ${ids.join(', ')}`,
  };
}

function batchKey(instance: TaskInstance, config: unknown): Result<string | undefined, ConfigurationFailure> {
  const batch = instance.definition.spec.batch;
  if (!batch) return ok(undefined);
  try {
    return ok(`${instance.definition.name}\0${String(batch(instance.inputs, config))}`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return fail({ reason: 'invalid-definition', message: `computing the batch of task '${instance.id}' threw: ${message}`, location: instance.definition.definedAt, hint: 'fix the batch function of this task' });
  }
}

function retiredBy(instance: TaskInstance, config: unknown, deployed: DeployedState): Result<readonly TaskId[], ConfigurationFailure> {
  try {
    return ok(instance.definition.spec.retires?.(instance.inputs, config, deployed) ?? []);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return fail({ reason: 'invalid-definition', message: `computing what task '${instance.id}' retires threw: ${message}`, location: instance.definition.definedAt, hint: 'fix the retires function of this task' });
  }
}

function resolveDependencies(instance: TaskInstance, config: unknown, key: 'deps' | 'after'): Result<TaskInstance[], ConfigurationFailure> {
  const spec = instance.definition.spec;
  const option = spec[key];
  try {
    const declared: readonly Dependency[] = typeof option === 'function' ? option(instance.inputs, config) : (option ?? []);
    const resolved: TaskInstance[] = [];
    for (const [index, dependency] of declared.entries()) {
      const target = dependency === undefined ? undefined : resolveDependency(dependency);
      if (!target || typeof target !== 'object' || !('id' in target)) {
        return fail({
          reason: 'invalid-definition',
          message: `${key === 'deps' ? 'dependency' : "entry of 'after'"} ${index + 1} of task '${instance.id}' is ${describeBadDependency(dependency, target)}`,
          location: instance.definition.definedAt,
          hint: 'a task defined later or in a module that imports this one must be written as a thunk: () => otherTask; a parameterised task needs .with({...})',
        });
      }
      resolved.push(target);
    }
    return ok(resolved);
  } catch (error) {
    if (error instanceof TaskDefinitionError) {
      return fail({ reason: 'invalid-definition', message: error.message, location: error.location, hint: error.hint });
    }
    const message = error instanceof Error ? error.message : String(error);
    return fail({
      reason: 'invalid-definition',
      message: `computing the ${key === 'deps' ? 'dependencies' : "'after' tasks"} of task '${instance.id}' threw: ${message}`,
      location: instance.definition.definedAt,
      hint: `fix the ${key} function of this task`,
    });
  }
}

function describeBadDependency(dependency: unknown, target: unknown): string {
  if (dependency === undefined) return 'undefined (used before it was defined: a circular import?)';
  if (target === undefined) return 'a thunk that returned undefined';
  if (typeof target === 'object' && target !== null && 'with' in target) return 'a parameterised task without inputs';
  return `not a task (${typeof target})`;
}

/** Depth-first search; returns the first cycle as a closed path `a, b, a`, where a depends on b. */
function findCycle(nodes: ReadonlyMap<TaskId, TaskNode>): TaskId[] | undefined {
  const state = new Map<TaskId, 'visiting' | 'done'>();
  const stack: TaskId[] = [];
  const visit = (id: TaskId): TaskId[] | undefined => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const dependency of nodes.get(id)!.dependencies) {
      const seen = state.get(dependency);
      if (seen === 'visiting') return [...stack.slice(stack.indexOf(dependency)), dependency];
      if (seen === undefined) {
        const cycle = visit(dependency);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of [...nodes.keys()].sort()) {
    if (state.has(id)) continue;
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * A phase name as the Python runner took it (`--skip-phases tools_storage`): a task name as for targets,
 * or else the one task whose name ends with it after a namespace, `_` read as `-`
 * (foundation:tools-storage). Only for skipping: what runs is always named exactly.
 */
export function resolvePhase(taskGraph: TaskGraph, phase: string): Result<TaskId, ConfigurationFailure> {
  const exact = resolveTarget(taskGraph, phase);
  if (exact.ok || phase.includes(':')) return exact;
  const name = phase.replace(/_/g, '-');
  const matches = [...taskGraph.nodes.keys()].filter((node) => {
    const taskName = taskGraph.nodes.get(node)!.instance.definition.name;
    return taskName === name || taskName.endsWith(`:${name}`);
  });
  return matches.length === 1 ? ok(matches[0]!) : exact;
}

/** Finds the node a user typed: an instance id, or the name of a task without required inputs. */
export function resolveTarget(taskGraph: TaskGraph, target: string): Result<TaskId, ConfigurationFailure> {
  const id = target as TaskId;
  if (taskGraph.nodes.has(id)) return ok(id);
  // An instance typed with its keys in another order than its id's (`--only 'x[cluster=a,backup=b]'`).
  const typed = target.includes('[') ? parseTypedInputs(target) : undefined;
  const canonical = typed ? instanceId(typed.name, typed.inputs) : undefined;
  if (canonical && taskGraph.nodes.has(canonical)) return ok(canonical);
  const instances = [...taskGraph.nodes.keys()].filter((node) => taskGraph.nodes.get(node)!.instance.definition.name === target);
  if (instances.length === 1) return ok(instances[0]!);
  if (instances.length > 1) {
    // A task with inputs, named without them: which input, and the instances there are to choose from.
    const inputs = [...new Set(instances.flatMap((node) => Object.keys(taskGraph.nodes.get(node)!.instance.inputs)))].sort();
    return fail({ reason: 'needs-input', task: target, inputs, instances: instances.sort() });
  }
  const suggestion = suggestName(target, [...taskGraph.nodes.keys(), ...taskGraph.definitions.keys()]);
  return fail({ reason: 'unknown-target', target, ...(suggestion ? { suggestion } : {}) });
}

/** The targets and everything they depend on, transitively. */
export function selectSubgraph(taskGraph: TaskGraph, targets: readonly TaskId[]): TaskGraph {
  const selected = new Set<TaskId>();
  const visit = (id: TaskId) => {
    if (selected.has(id)) return;
    selected.add(id);
    for (const dependency of taskGraph.nodes.get(id)!.dependencies) visit(dependency);
  };
  targets.forEach(visit);
  // The targets reach every task (the usual `all`-style target): the graph is already this subgraph.
  if (selected.size === taskGraph.nodes.size) return taskGraph;
  const nodes = new Map([...taskGraph.nodes].filter(([id]) => selected.has(id)));
  const graph = new DirectedGraph();
  for (const id of [...nodes.keys()].sort()) graph.addNode(id);
  for (const [id, node] of nodes) for (const dependency of node.dependencies) graph.mergeEdge(dependency, id);
  return {
    graph,
    nodes,
    generations: sortedGenerations(graph),
    definitions: taskGraph.definitions,
    declared: taskGraph.declared,
  };
}

export type { SourceLocation };

/** Names in the order a reader counts them: node-prep[node=osdc-w2] before node-prep[node=osdc-w10]. */
const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

function sortedGenerations(graph: DirectedGraph): TaskId[][] {
  return (topologicalGenerations(graph) as TaskId[][]).map((generation) => [...generation].sort(naturalOrder));
}
