import { keyedRecord } from '../dsl/keyed-record.js';
import { decodePath, encodePath, formatConfigPath, type ConfigPath } from './config-path.js';
import { digestOf } from './digest.js';


/** What a task read from the configuration: each path with the digest of what it saw. */
export type ConfigReads = Readonly<Record<string, string>>;

const missing = { missing: true };

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
        const child = Reflect.get(target, key, receiver);
        if (typeof key === 'symbol' || typeof child === 'function') return child;
        const childPath = [...at, key];
        if (child === null || typeof child !== 'object') recorder.values.set(encodePath(childPath), childPath);
        return recorder.wrap(child, childPath);
      },
      has(target, key) {
        if (typeof key === 'string') recorder.values.set(encodePath([...at, key]), [...at, key]);
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
    for (const [encoded, at] of this.values) result[encoded] = digestOf(lookup(config, at) ?? missing);
    for (const [encoded, at] of this.keyLists) result[`${encoded}#keys`] = digestOf(keysAt(config, at));
    return result;
  }
}

/** Re-evaluates recorded reads against a (possibly changed) configuration. */
export function replayReads(config: unknown, recorded: ConfigReads): ConfigReads {
  const result = keyedRecord<string>();
  for (const encoded of Object.keys(recorded)) {
    if (encoded.endsWith('#keys')) {
      result[encoded] = digestOf(keysAt(config, decodePath(encoded.slice(0, -'#keys'.length))));
    } else {
      result[encoded] = digestOf(lookup(config, decodePath(encoded)) ?? missing);
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
