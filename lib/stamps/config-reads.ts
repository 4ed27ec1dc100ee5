import { keyedRecord } from '../dsl/keyed-record.js';
import { decodePath, encodePath, formatConfigPath, type ConfigPath } from './config-path.js';
import { canonicalJson } from '../dsl/canonical-json.js';
import type { Change } from './fingerprint.js';
import { digestOf } from './digest.js';


/**
 * What a task read from the configuration: each path with what it saw, written `=` and its canonical JSON
 * when short (so that a plan can say `1 -> 2`), else its digest. Configuration holds no secret value (only
 * references to them), so a value here is never one. Stamps from before values were kept hold digests:
 * each entry is replayed in the form it was recorded in, so they stay fresh.
 */
export type ConfigReads = Readonly<Record<string, string>>;

const missing = { missing: true };
const longestKeptValue = 200;

/** How a read value is recorded: its JSON when short, its digest when long. */
function recordedForm(value: unknown): string {
  const json = canonicalJson(value ?? missing);
  return json.length <= longestKeptValue ? `=${json}` : digestOf(json);
}

/** A read as it was recorded (`=json`, or a digest from an older stamp), for the same value now. */
function replayed(value: unknown, form: string): string {
  return form.startsWith('=') ? recordedForm(value) : digestOf(value ?? missing);
}

/** The value of a recorded read, when it was kept (not a digest). */
export function recordedValue(entry: string | undefined): unknown {
  return entry?.startsWith('=') ? JSON.parse(entry.slice(1)) : undefined;
}

/** Whether a read's recorded value says its key was not set (a plan says `not set`). */
export function isUnset(value: unknown): boolean {
  return value !== null && typeof value === 'object' && canonicalJson(value) === canonicalJson(missing);
}
const untrackedValue = Symbol('untracked');

/**
 * The configuration a task was given, without recording what is read from it: for finding where a value
 * is (a node by its name among a cluster's nodes), so that only what the task then reads at that place
 * joins its fingerprint, and another node added or changed does not.
 */
export function untracked<Value>(value: Value): Value {
  if (value === null || typeof value !== 'object') return value;
  return ((value as Record<symbol, unknown>)[untrackedValue] as Value | undefined) ?? value;
}

/**
 * One value that a batch's body reads on behalf of all its members (their cluster, say), given as each
 * member's own tracked copy of it: reading it reads every copy, so each member's fingerprint records the read,
 * whichever member the body took it from. Read through the first copy alone, a change would re-run only the
 * member that happened to be first.
 */
export function readByEach<Value>(copies: readonly Value[]): Value {
  const [first] = copies;
  if (copies.length <= 1 || first === null || typeof first !== 'object') return first as Value;
  const others = copies.slice(1) as unknown as object[];
  return new Proxy(first as object, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof key === 'symbol' || typeof value === 'function') return value;
      return readByEach([value, ...others.map((copy) => Reflect.get(copy, key))]);
    },
    has(target, key) {
      for (const copy of others) Reflect.has(copy, key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      for (const copy of others) Reflect.ownKeys(copy);
      return Reflect.ownKeys(target);
    },
  }) as Value;
}

/**
 * A read-only view of a configuration object that reads each of `keys` from `source` only when the task reads
 * it, with `extra` values beside (or instead of) them. Listing or copying `source` itself would read every
 * value and the set of its keys: a key added to it (an optional setting turned on) would then re-run every
 * task that looked at any part of it. The view lists `keys`, the settings its schema can hold, without reading
 * the configuration.
 */
export function settingsView<Source extends object, Key extends keyof Source & string, Extra extends object>(source: Source, keys: readonly Key[], extra: Extra): Pick<Source, Key> & Extra {
  const view = {};
  for (const key of keys) {
    if (!Object.hasOwn(extra, key)) Object.defineProperty(view, key, { get: () => source[key], enumerable: true, configurable: true });
  }
  for (const [key, value] of Object.entries(extra)) Object.defineProperty(view, key, { value, enumerable: true, configurable: true, writable: false });
  return view as Pick<Source, Key> & Extra;
}

/** Records which configuration values a task reads, so that exactly those values join its fingerprint. */
export class ConfigReadRecorder {
  private readonly values = new Map<string, ConfigPath>();
  private readonly keyLists = new Map<string, ConfigPath>();

  /** A read-only view of `config` that records every primitive read and every enumeration of keys. */
  track<Config>(config: Config): Config {
    return this.wrap(config, []) as Config;
  }

  private wrap(value: unknown, at: ConfigPath): unknown {
    if (value === null || typeof value !== 'object') return value;
    const recorder = this;
    return new Proxy(value as object, {
      get(target, key, receiver) {
        if (key === untrackedValue) return target;
        const child = Reflect.get(target, key, receiver);
        if (typeof key === 'symbol' || typeof child === 'function') return child;
        const childPath = [...at, key];
        if (child === null || typeof child !== 'object') recorder.values.set(encodePath(childPath), childPath);
        return recorder.wrap(child, childPath);
      },
      has(target, key) {
        if (typeof key === 'string') {
          // An array's methods (map, filter, some) ask whether each index is there before they read it: in the
          // configuration's dense arrays its length answers that, where the entry itself would record every
          // setting of each node a step only takes the name of.
          const presence = Array.isArray(target) && /^\d+$/.test(key) ? [...at, 'length'] : [...at, key];
          recorder.values.set(encodePath(presence), presence);
        }
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        recorder.keyLists.set(encodePath(at), at);
        return Reflect.ownKeys(target);
      },
      set() {
        throw new TypeError(`the environment's configuration is read-only (tried to change ${formatConfigPath(at)})`);
      },
      deleteProperty() {
        throw new TypeError(`the environment's configuration is read-only (tried to change ${formatConfigPath(at)})`);
      },
    });
  }

  /** The digests of everything read so far, against the given configuration. */
  reads(config: unknown): ConfigReads {
    const result = keyedRecord<string>();
    for (const [encoded, at] of this.values) result[encoded] = recordedForm(lookup(config, at));
    for (const [encoded, at] of this.keyLists) result[`${encoded}#keys`] = recordedForm(keysAt(config, at));
    return result;
  }
}

/** Re-evaluates recorded reads against a (possibly changed) configuration. */
export function replayReads(config: unknown, recorded: ConfigReads): ConfigReads {
  const result = keyedRecord<string>();
  for (const [encoded, form] of Object.entries(recorded)) {
    if (encoded.endsWith('#keys')) {
      result[encoded] = replayed(keysAt(config, decodePath(encoded.slice(0, -'#keys'.length))), form);
    } else {
      result[encoded] = replayed(lookup(config, decodePath(encoded)), form);
    }
  }
  return result;
}

function lookup(config: unknown, at: ConfigPath): unknown {
  let current = config;
  for (const key of at) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function keysAt(config: unknown, at: ConfigPath): string[] {
  const value = lookup(config, at);
  return value !== null && typeof value === 'object' ? Object.keys(value).sort() : [];
}

/**
 * A changed read, with its values before and now where the stamp kept them. A list's length names the
 * entries gained (from the configuration now) and lost (from the names the stamp kept), by their `name`.
 */
export function configChange(path: string, recorded: ConfigReads, current: ConfigReads, config: unknown): Change & { readonly component: 'config' } {
  const before = recordedValue(recorded[path]);
  const after = recordedValue(current[path]);
  const change = { component: 'config' as const, path, ...(before !== undefined && after !== undefined ? { before, after } : {}) };
  const at = path.endsWith('#keys') ? undefined : decodePath(path);
  if (!at || at.at(-1) !== 'length' || typeof before !== 'number' || typeof after !== 'number') return change;
  const list = at.slice(0, -1);
  const nameAt = (index: number) => encodePath([...list, String(index), 'name']);
  const added: string[] = [];
  for (let index = before; index < after; index++) {
    const name = lookup(config, [...list, String(index), 'name']);
    if (typeof name === 'string') added.push(name);
  }
  const removed: string[] = [];
  for (let index = after; index < before; index++) {
    const name = recordedValue(recorded[nameAt(index)]);
    if (typeof name === 'string') removed.push(name);
  }
  return { ...change, ...(added.length > 0 ? { added } : {}), ...(removed.length > 0 ? { removed } : {}) };
}
