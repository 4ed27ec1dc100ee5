import { readFileSync } from 'node:fs';
import https from 'node:https';
import { PermanentFailure } from '../dsl/command-failure.js';
import type { ToolContext } from './command.js';

/** An OPNsense firewall's API: its address, the CA its certificate is checked against, the API key pair. */
export interface OpnsenseEndpoint {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** PEM file of the CA that signed the firewall's certificate; the system's CAs when absent. */
  readonly caFile?: string;
  readonly apiKey: string;
  readonly apiSecret: string;
}

/**
 * One kind of object the API keeps (aliases, VLANs, filter rules), as its MVC controller names it: where
 * to search, get, add, set and delete items, the key the item is wrapped in, and the call that applies
 * the saved configuration.
 */
export interface OpnsenseCollection {
  readonly label: string;
  readonly controller: string;
  readonly item: string;
  readonly verbs: { readonly search: string; readonly get: string; readonly add: string; readonly set: string; readonly del: string };
  /** The call that applies the saved configuration, under /api (the controller's own, or its service's: Unbound's). */
  readonly apply: string;
  /** The field that names an item (unique among what Onboarder manages). */
  readonly key: string;
}

/** One item as the environment wants it: its fields as the API stores them (strings). */
export type OpnsenseItem = Readonly<Record<string, string>>;

/** What reconciling one collection did: the names added, changed and deleted (none: it was up to date). */
export interface OpnsenseChanges {
  readonly added: string[];
  readonly changed: string[];
  readonly deleted: string[];
}

type Json = Record<string, unknown>;

/** The firewall has no such endpoint (HTTP 404): its OPNsense release predates that part of the API. */
export class OpnsenseEndpointMissing extends Error {}

/** A JSON call to the API; a refused or failed call is an error naming the firewall, the call and the status. */
async function call(context: ToolContext, endpoint: OpnsenseEndpoint, method: 'GET' | 'POST', path: string, body?: Json): Promise<Json> {
  const url = `https://${endpoint.address}:${endpoint.port}/api/${path}`;
  const finished = context.commands.started(`${method} ${url}`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  try {
    const result = await new Promise<Json>((resolve, reject) => {
      const request = https.request(
        url,
        {
          method,
          ...(endpoint.caFile ? { ca: readFileSync(endpoint.caFile) } : {}),
          auth: `${endpoint.apiKey}:${endpoint.apiSecret}`,
          headers: { accept: 'application/json', ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }) },
          signal: context.signal,
          timeout: 30_000,
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            if (response.statusCode !== 200) return reject(new (response.statusCode === 401 || response.statusCode === 403 ? PermanentFailure : response.statusCode === 404 ? OpnsenseEndpointMissing : Error)(`OPNsense ${endpoint.name}: ${method} /api/${path} answered HTTP ${response.statusCode}${response.statusCode === 401 ? ' (check the API key and secret)' : ''}: ${text.slice(0, 200)}`));
            try {
              resolve(JSON.parse(text) as Json);
            } catch {
              reject(new Error(`OPNsense ${endpoint.name}: ${method} /api/${path} answered what is not JSON: ${text.slice(0, 200)}`));
            }
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error('no answer in 30 s')));
      request.on('error', (error) => reject(error.message.startsWith('OPNsense') ? error : new Error(`OPNsense ${endpoint.name}: ${method} ${url} failed: ${error.message}`)));
      request.end(payload);
    });
    finished(0);
    return result;
  } catch (error) {
    finished(1);
    throw error;
  }
}

/**
 * A field as getItem returns it, as a plain string: selects come as `{option: {value, selected}}` and
 * become the selected options' keys, sorted (a multiple select is a set, listed in the firewall's own
 * order), joined by ','.
 */
function plain(value: unknown): string {
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, { selected?: unknown }>)
      .filter(([, option]) => Number(option?.selected) === 1)
      .map(([key]) => key)
      .sort()
      .join(',');
  }
  return String(value ?? '');
}

/** A save the API refused (`result` not `saved`): its validation messages, by field. */
function saved(endpoint: OpnsenseEndpoint, what: string, answer: Json): void {
  if (answer.result === 'saved' || answer.result === 'deleted') return;
  throw new PermanentFailure(`OPNsense ${endpoint.name}: ${what} was refused: ${JSON.stringify(answer.validations ?? answer)}`);
}

/**
 * Makes the firewall's `collection` hold exactly the `desired` items among those Onboarder manages (the
 * items whose `key` starts with `managedPrefix`), as the ansibleguy.opnsense modules do: search, then add
 * what is missing, set only what differs, delete what is no longer declared, and apply once, only when
 * something changed. A second run changes nothing.
 */
export async function reconcileCollection(context: ToolContext, endpoint: OpnsenseEndpoint, collection: OpnsenseCollection, desired: readonly OpnsenseItem[], managedPrefix: string): Promise<OpnsenseChanges> {
  const base = collection.controller;
  const found = (await call(context, endpoint, 'GET', `${base}/${collection.verbs.search}`)).rows as Json[] | undefined;
  const current = new Map((found ?? []).filter((row) => String(row[collection.key] ?? '').startsWith(managedPrefix)).map((row) => [String(row[collection.key]), String(row.uuid)]));
  const changes: OpnsenseChanges = { added: [], changed: [], deleted: [] };
  for (const item of desired) {
    const name = item[collection.key]!;
    const uuid = current.get(name);
    current.delete(name);
    if (uuid === undefined) {
      saved(endpoint, `adding ${collection.label} ${name}`, await call(context, endpoint, 'POST', `${base}/${collection.verbs.add}`, { [collection.item]: item }));
      changes.added.push(name);
      continue;
    }
    const stored = ((await call(context, endpoint, 'GET', `${base}/${collection.verbs.get}/${uuid}`))[collection.item] ?? {}) as Json;
    if (Object.entries(item).some(([field, value]) => plain(stored[field]) !== value)) {
      saved(endpoint, `setting ${collection.label} ${name}`, await call(context, endpoint, 'POST', `${base}/${collection.verbs.set}/${uuid}`, { [collection.item]: item }));
      changes.changed.push(name);
    }
  }
  for (const [name, uuid] of current) {
    saved(endpoint, `deleting ${collection.label} ${name}`, await call(context, endpoint, 'POST', `${base}/${collection.verbs.del}/${uuid}`));
    changes.deleted.push(name);
  }
  if (changes.added.length + changes.changed.length + changes.deleted.length > 0) await call(context, endpoint, 'POST', collection.apply);
  return changes;
}
