import { canonicalJson } from '../dsl/canonical-json.js';
import type { Fingerprint, TaskId } from '../dsl/ids.js';
import type { AnyTaskDefinition, TaskInstance } from '../dsl/task.js';
import { decodePath } from './config-path.js';
import { configChange, type ConfigReads } from './config-reads.js';
import { digestOf, sha256Hex } from './digest.js';

/** Everything that decides a task's result, kept apart so a changed fingerprint can say what changed. */
export interface FingerprintComponents {
  readonly task: string;
  /** Digest of each input's canonical JSON, by input name. */
  readonly inputs: Readonly<Record<string, string>>;
  /** Digest of the task's own definition: its run and check functions and its options. */
  readonly definition: string;
  readonly sources: Readonly<Record<string, string>>;
  readonly tools: Readonly<Record<string, string>>;
  readonly dependencies: Readonly<Record<string, Fingerprint>>;
  /** Configuration values the task read on its last run. */
  readonly config: ConfigReads;
}

/** One reason a fingerprint differs from the stamp's. */
export type Change =
  | { readonly component: 'task' }
  | { readonly component: 'definition' }
  | { readonly component: 'input'; readonly name: string }
  | { readonly component: 'source'; readonly path: string }
  | { readonly component: 'tool'; readonly tool: string }
  | { readonly component: 'dependency'; readonly task: TaskId }
  | {
      readonly component: 'config';
      readonly path: string;
      /** The values before and now, where the stamp kept them (short values; see config-reads.ts). */
      readonly before?: unknown;
      readonly after?: unknown;
      /** For a list's length: the names of the entries it gained or lost (a node added to a cluster). */
      readonly added?: readonly string[];
      readonly removed?: readonly string[];
    };

const definitionDigests = new WeakMap<AnyTaskDefinition, string>();

/** Digest of a task's definition. Its description is left out: rewording it must not re-run anything. */
export function definitionDigest(definition: AnyTaskDefinition): string {
  let digest = definitionDigests.get(definition);
  if (digest === undefined) {
    const spec = definition.spec;
    digest = digestOf({
      run: spec.run?.toString() ?? null,
      check: spec.check?.toString() ?? null,
      sources: typeof spec.sources === 'function' ? spec.sources.toString() : (spec.sources ?? []),
      tools: spec.tools ?? [],
      policy: spec.policy ?? 'fingerprint',
      timeout: spec.timeout ?? null,
      retries: spec.retries ?? 0,
      retryDelay: spec.retryDelay ?? null,
      pool: spec.pool ?? null,
      vars: definition.vars ?? null,
    });
    definitionDigests.set(definition, digest);
  }
  return digest;
}

const noInputs: Readonly<Record<string, string>> = Object.freeze({});

export function inputDigests(instance: TaskInstance): Readonly<Record<string, string>> {
  const digests: Record<string, string> = {};
  let any = false;
  for (const name in instance.inputs) {
    digests[name] = digestOf(canonicalJson(instance.inputs[name]));
    any = true;
  }
  return any ? digests : noInputs;
}

export function computeFingerprint(components: FingerprintComponents): Fingerprint {
  return sha256Hex(fingerprintText(components)) as Fingerprint;
}

/**
 * Exactly canonicalJson(components) (the test pins that), written for this one shape: it runs for every
 * task on every run, and the generic serialiser's key lists and sorts were its largest allocation.
 */
export function fingerprintText(components: FingerprintComponents): string {
  return (
    `{"config":${stringRecord(components.config)},"definition":${JSON.stringify(components.definition)},` +
    `"dependencies":${stringRecord(components.dependencies)},"inputs":${stringRecord(components.inputs)},` +
    `"sources":${stringRecord(components.sources)},"task":${JSON.stringify(components.task)},"tools":${stringRecord(components.tools)}}`
  );
}

function stringRecord(record: Readonly<Record<string, string>>): string {
  const keys = Object.keys(record);
  if (keys.length === 0) return '{}';
  if (keys.length > 1) keys.sort();
  let text = '{';
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    text += `${index > 0 ? ',' : ''}${JSON.stringify(key)}:${JSON.stringify(record[key])}`;
  }
  return `${text}}`;
}

/**
 * What differs between the components a stamp recorded and the current ones, most fundamental first. Given
 * the configuration, a changed list says which entries it gained.
 */
export function diffComponents(recorded: FingerprintComponents, current: FingerprintComponents, config?: unknown): Change[] {
  const changes: Change[] = [];
  if (recorded.task !== current.task) changes.push({ component: 'task' });
  if (recorded.definition !== current.definition) changes.push({ component: 'definition' });
  for (const name of changedKeys(recorded.inputs, current.inputs)) changes.push({ component: 'input', name });
  for (const path of changedKeys(recorded.sources, current.sources)) changes.push({ component: 'source', path });
  for (const tool of changedKeys(recorded.tools, current.tools)) changes.push({ component: 'tool', tool });
  for (const task of changedKeys(recorded.dependencies, current.dependencies)) {
    changes.push({ component: 'dependency', task: task as TaskId });
  }
  const configChanges = changedKeys(recorded.config, current.config).map((path) => configChange(path, recorded.config, current.config, config));
  changes.push(...withoutRemovedEntries(configChanges));
  return changes;
}

/**
 * A list that lost entries (`workers changed: 2 -> 1 entries (removes osdc-w2)`) says it once: the reads
 * of the entries it lost (`workers[1].address`, `workers[1] keys`...) are left out.
 */
function withoutRemovedEntries(changes: readonly (Change & { readonly component: 'config' })[]): Change[] {
  const shrunk = changes.flatMap((change) => {
    const at = change.path.endsWith('#keys') ? undefined : decodePath(change.path);
    return at?.at(-1) === 'length' && typeof change.before === 'number' && typeof change.after === 'number' && change.after < change.before ? [{ list: at.slice(0, -1), length: change.after }] : [];
  });
  if (shrunk.length === 0) return [...changes];
  return changes.filter((change) => {
    const at = decodePath(change.path.replace(/#keys$/, ''));
    return !shrunk.some(({ list, length }) => at.length > list.length && list.every((key, index) => at[index] === key) && Number(at[list.length]) >= length);
  });
}

function changedKeys(recorded: Readonly<Record<string, string>>, current: Readonly<Record<string, string>>): string[] {
  const keys = new Set([...Object.keys(recorded), ...Object.keys(current)]);
  return [...keys].filter((key) => recorded[key] !== current[key]).sort();
}
