import type { z } from 'zod';
import type { TaskContext } from './context.js';
import { callerLocation } from './call-site.js';
import { instanceId } from './instance-id.js';
import { firstIssue } from './schema-issue.js';
import type { SourceLocation, TaskId } from './ids.js';

/** The schemas of a task's inputs: one zod schema per input name. */
export type InputSchemas = Record<string, z.ZodType>;

type ObjectOf<Schemas extends InputSchemas> = z.ZodObject<Schemas, z.core.$strict>;
/** The values a task's run function sees (defaults applied). */
export type InputValues<Schemas extends InputSchemas> = z.output<ObjectOf<Schemas>>;
/** The values a caller passes to `.with()` (inputs with defaults are optional). */
export type InputArguments<Schemas extends InputSchemas> = z.input<ObjectOf<Schemas>>;

/**
 * How a task decides to run when its stamp exists: `fingerprint` (the default) when the fingerprint
 * changed or check() reports drift; `always` on every invocation (token refresh, desired-state configuration).
 */
export const runPolicies = ['fingerprint', 'always'] as const;
export type RunPolicy = (typeof runPolicies)[number];

/** The answer of a drift probe: `true` when the real resource matches, otherwise what differs. */
export type CheckResult = true | { readonly drift: string };

/**
 * What the environment's state says was deployed: the instances with a stamp, for tasks that take down
 * what the configuration no longer declares (a removed cluster's decommission).
 */
export interface DeployedState {
  /** The inputs of every stamped instance of a task (by its definition or qualified name). */
  stampedInputs(task: { readonly name: string } | string): Readonly<Record<string, unknown>>[];
  /** Every stamped instance id. */
  stamped(): readonly TaskId[];
  /** A configuration value a stamp kept (short values only; see lib/stamps/config-reads.ts), by its path. */
  keptValue(id: TaskId, path: readonly string[]): unknown;
}

/**
 * A dependency: a task instance, or a thunk returning one for forward references. The third member can
 * never be satisfied (its property is `never`): a task that takes inputs, put in `deps` without `.with()`,
 * matches it best, so the compiler's message names the fix instead of listing TaskInstance's properties.
 */
export type Dependency = TaskInstance | (() => TaskInstance) | NeedsInputsBound;

interface NeedsInputsBound {
  with(inputs: never): TaskInstance;
  readonly 'this task takes inputs: depend on one instance, task.with({ input: value })': never;
}

export interface TaskSpec<Schemas extends InputSchemas, Config, Vars> {
  /** The name within its namespace, e.g. `copy-ssh-key`. */
  readonly name: string;
  readonly description?: string;
  readonly inputs?: Schemas;
  /**
   * What must be done first. A function computes them from the task's inputs and the chosen environment's
   * configuration (every cluster the site declares, say); the whole graph is still built before anything runs.
   */
  readonly deps?: readonly Dependency[] | ((inputs: InputValues<Schemas>, config: Config) => readonly Dependency[]);
  /**
   * Tasks that must be done first whose changes do not re-run this one (make's order-only prerequisites):
   * the workers a cluster's charts schedule on, say, where a worker added later must not re-install them.
   * They are part of the graph like `deps` (ordering, selection, blocking on failure), not of the fingerprint.
   */
  readonly after?: readonly Dependency[] | ((inputs: InputValues<Schemas>, config: Config) => readonly Dependency[]);
  /**
   * The instances a parameterised task has in an environment (one per declared cluster, say). They are part of
   * the environment's graph (--list, --graph, targets), and an instance bound with other inputs is refused
   * before anything runs, with the valid ones named.
   */
  readonly instances?: (config: Config, deployed: DeployedState) => readonly InputArguments<Schemas>[];
  /**
   * What this task retires once it succeeds: the stamped instances it takes down (a decommissioned
   * cluster's), whose stamps are then forgotten. Decided when the graph is built.
   */
  readonly retires?: (inputs: InputValues<Schemas>, config: Config, deployed: DeployedState) => readonly TaskId[];
  /**
   * A task that destroys what was deployed: `always` (a decommission), or `removed` when its run reason
   * names entries the configuration no longer declares (a worker taken out). A run that would do so asks
   * first, unless --yes; without a terminal it stops with exit 2.
   */
  readonly destroys?: 'always' | 'removed';
  /**
   * Files and globs (relative to the project root) whose contents decide the result. A plain path must
   * exist unless written `{ path, optional: true }` (an image that only some environments use).
   */
  readonly sources?: readonly SourcePattern[] | ((inputs: InputValues<Schemas>) => readonly SourcePattern[]);
  /** Tools whose version is part of the fingerprint, e.g. `['ansible-playbook']`. */
  readonly tools?: readonly string[];
  readonly run?: (context: TaskContext<InputValues<Schemas>, Config, Vars>) => Promise<void> | void;
  /** Drift probe, called when the stamp is current: validate the real resource, not the record. */
  readonly check?: (context: TaskContext<InputValues<Schemas>, Config, Vars>) => Promise<CheckResult> | CheckResult;
  readonly policy?: RunPolicy;
  /**
   * When the task does not apply to an environment, the reason (e.g. `nodes are provided`): it is then
   * skipped as not applicable, counts as done for its dependents, and leaves its stamp alone.
   */
  readonly skipWhen?: (config: Config, inputs: InputValues<Schemas>) => string | false | undefined;
  /**
   * The body may be walked by `--dry-run` to list its commands: every side effect goes through `$` or the
   * tool helpers (which only report when `context.dryRun`), or is guarded on `context.dryRun`. Like
   * Ansible's check-mode support, it is opt-in: other bodies never run in a dry run.
   */
  readonly supportsDryRun?: boolean;
  /**
   * Its inputs are values a person gives on the command line (a file to load, a path to write), not things
   * the environment declares: `tsx deploy.ts 'bundle:load[file=/media/site.tar]'` makes that instance,
   * its inputs validated by the schemas. Without it, only the instances the catalog and `instances` make exist.
   */
  readonly commandLineInputs?: boolean;
  /** Per-attempt time limit, e.g. `'10m'`, `'90s'` or milliseconds. */
  readonly timeout?: Duration;
  /** Extra attempts after a failure, with exponential backoff (for network steps). */
  readonly retries?: number;
  /**
   * First retry delay (default 2s); doubled each attempt up to 2 minutes (or this delay, when longer), each
   * wait a random point in the upper half of its step (jitter).
   */
  readonly retryDelay?: Duration;
  /** A named pool that limits how many tasks use one API or host at once. */
  readonly pool?: string;
  /**
   * Instances ready at the same time whose key is the same run as one body, in one slot of the run's
   * concurrency and pool (one playbook for all of a cluster's nodes, as kubespray runs them): the body
   * finds them in `context.batch`. Each keeps its own assessment, stamp and outcome; a body that throws
   * MembersFailed fails only the members it names. A dry run walks the planned instances of a key together.
   */
  readonly batch?: (inputs: InputValues<Schemas>, config: Config) => string;
  /** A duration estimate for scheduling when no history exists, e.g. `'5m'`. */
  readonly estimate?: Duration;
}

export type SourcePattern = string | { readonly path: string; readonly optional: true };

export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h'}`;

/** A task definition after task(): its qualified name, where it was written, and its typed spec. */
export interface TaskDefinition<Schemas extends InputSchemas = InputSchemas, Config = unknown, Vars = unknown> {
  /** Qualified name, namespaces joined by ':'. */
  readonly name: string;
  readonly namespace: readonly string[];
  readonly spec: TaskSpec<Schemas, Config, Vars>;
  readonly vars: Vars;
  readonly definedAt: SourceLocation;
  /** Binds inputs, producing one graph node. Missing, unknown or mistyped inputs do not compile. */
  with(inputs: InputArguments<Schemas>): TaskInstance;
}

/** A task bound to its inputs: one node of the graph. */
export interface TaskInstance {
  readonly id: TaskId;
  readonly definition: AnyTaskDefinition;
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Where `.with()` was called (or the task itself for input-less tasks). */
  readonly boundAt: SourceLocation;
}

/**
 * A definition of any inputs, config and vars, as the graph holds them side by side. `any` must stay: `run`
 * takes its context as a parameter, so a TaskDefinition<S, SiteConfig, V> is not a TaskDefinition<unknown...>.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTaskDefinition = TaskDefinition<any, any, any>;

type HasRequiredInputs<Schemas extends InputSchemas> = {} extends InputArguments<Schemas> ? false : true;

/**
 * What task() returns. A task whose inputs are all optional is also its own default instance, so it can be
 * used directly in `deps`; a task with required inputs must be bound with `.with({...})` first.
 */
export type TaskHandle<Schemas extends InputSchemas, Config, Vars> = HasRequiredInputs<Schemas> extends true
  ? TaskDefinition<Schemas, Config, Vars>
  : TaskDefinition<Schemas, Config, Vars> & TaskInstance;

/** An error in task code (a bad name, inputs that fail validation), pointing at the line that caused it. */
export class TaskDefinitionError extends Error {
  constructor(
    message: string,
    readonly location: SourceLocation,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'TaskDefinitionError';
  }
}

const namePattern = /^[a-z0-9][a-z0-9._-]*$/;

/** Every task defined so far in this process, catalogued or not (see definedTasks). */
const everyDefinition: AnyTaskDefinition[] = [];

/**
 * Every task defined by a module that has been loaded, in the order they were defined: the CLI tells a task
 * that exists but is missing from the catalog (not exported) from a name that means nothing.
 */
export function definedTasks(): readonly AnyTaskDefinition[] {
  return everyDefinition;
}

export function defineTask<Schemas extends InputSchemas, Config, Vars>(
  spec: TaskSpec<Schemas, Config, Vars>,
  namespace: readonly string[],
  vars: Vars,
  definedAt: SourceLocation = callerLocation(),
): TaskHandle<Schemas, Config, Vars> {
  if (!namePattern.test(spec.name)) {
    throw new TaskDefinitionError(
      `task name '${spec.name}' is not valid`,
      definedAt,
      'use lower-case letters, digits, dots, dashes and underscores, starting with a letter or digit',
    );
  }
  const name = [...namespace, spec.name].join(':');
  const invalid = checkOptions(spec as unknown as Readonly<Record<string, unknown>>);
  if (invalid) throw new TaskDefinitionError(`task '${name}': ${invalid.message}`, definedAt, invalid.hint);
  const validate = (inputs: unknown) => validateInputs((spec.inputs ?? {}) as InputSchemas, inputs);

  const bind = (inputs: unknown, boundAt: SourceLocation): TaskInstance => {
    const parsed = validate(inputs);
    if (!parsed.success) {
      const issue = parsed.issue;
      throw new TaskDefinitionError(
        `inputs of task '${name}' are invalid: ${issue.path}: ${issue.message}`,
        boundAt,
        `pass inputs matching the schemas declared in task '${name}' (${definition.definedAt.file}:${definition.definedAt.line})`,
      );
    }
    const values = parsed.data;
    return { id: instanceId(name, values), definition, inputs: values, boundAt };
  };

  const definition: TaskDefinition<Schemas, Config, Vars> = {
    name,
    namespace,
    spec,
    vars,
    definedAt,
    with: (inputs) => bind(inputs, callerLocation()),
  };
  everyDefinition.push(definition);

  const defaults = validate({});
  if (!defaults.success) return definition as TaskHandle<Schemas, Config, Vars>;
  const ownInstance = bind({}, definedAt);
  return Object.assign(definition, {
    id: ownInstance.id,
    definition,
    inputs: ownInstance.inputs,
    boundAt: definedAt,
  }) as unknown as TaskHandle<Schemas, Config, Vars>;
}

/**
 * The options of a task, checked where it is defined: tsx does not typecheck, so a bogus timeout or policy
 * would otherwise surface only when the task runs, or never.
 */
function checkOptions(spec: Readonly<Record<string, unknown>>): { readonly message: string; readonly hint: string } | undefined {
  for (const key of ['timeout', 'retryDelay', 'estimate'] as const) {
    const value = spec[key];
    if (value === undefined) continue;
    const valid = typeof value === 'number' ? Number.isFinite(value) && value >= 0 : typeof value === 'string' && /^\d+(\.\d+)?(ms|s|m|h)$/.test(value);
    if (!valid) return { message: `${key} ${JSON.stringify(value)} is not a duration`, hint: 'write milliseconds (a number of 0 or more) or a string such as 500ms, 90s, 10m or 2h' };
  }
  if (spec.retries !== undefined && !(Number.isInteger(spec.retries) && (spec.retries as number) >= 0)) {
    return { message: `retries ${JSON.stringify(spec.retries)} is not a whole number of 0 or more`, hint: 'e.g. retries: 2' };
  }
  if (spec.policy !== undefined && !(runPolicies as readonly unknown[]).includes(spec.policy)) {
    return { message: `policy ${JSON.stringify(spec.policy)} is not known`, hint: `use one of ${runPolicies.join(', ')}` };
  }
  for (const key of ['run', 'check', 'skipWhen', 'instances', 'retires', 'batch'] as const) {
    if (spec[key] !== undefined && typeof spec[key] !== 'function') return { message: `${key} is ${typeof spec[key]}, not a function`, hint: `give ${key} a function: ${key}: async (context) => { ... }` };
  }
  if (spec.destroys !== undefined && spec.destroys !== 'always' && spec.destroys !== 'removed') return { message: `destroys ${JSON.stringify(spec.destroys)} is not known`, hint: "use 'always' or 'removed'" };
  if (spec.pool !== undefined && (typeof spec.pool !== 'string' || spec.pool === '')) return { message: 'pool is not a name', hint: "name a pool declared in deploy.ts, e.g. pool: 'proxmox-api'" };
  return undefined;
}

type Validation =
  | { readonly success: true; readonly data: Record<string, unknown> }
  | { readonly success: false; readonly issue: { readonly path: string; readonly message: string } };

/**
 * Checks inputs against the task's own schemas (each schema's safeParse applies defaults), and refuses
 * unknown names. The engine never builds a zod object of its own: it costs load time and memory per task.
 */
function validateInputs(schemas: InputSchemas, inputs: unknown): Validation {
  if (inputs !== undefined && (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs))) {
    return { success: false, issue: { path: '(root)', message: 'inputs must be an object' } };
  }
  const given = (inputs ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(given).find((key) => !(key in schemas));
  if (unknown !== undefined) {
    const known = Object.keys(schemas);
    return { success: false, issue: { path: unknown, message: known.length ? `unknown input (known: ${known.join(', ')})` : 'this task takes no inputs' } };
  }
  const data: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(schemas)) {
    const parsed = schema.safeParse(given[key]);
    if (!parsed.success) return { success: false, issue: { path: key, message: firstIssue(parsed.error).message } };
    if (parsed.data !== undefined) data[key] = parsed.data;
  }
  return { success: true, data };
}

/** Resolves a dependency (thunk or instance) to its instance. */
export function resolveDependency(dependency: Dependency): TaskInstance {
  // No value is a NeedsInputsBound (its property's type is never): only a task instance is left.
  return typeof dependency === 'function' ? dependency() : (dependency as TaskInstance);
}
