// Runs a catalog through the engine itself (runGraph), with a file state in `directory`: for tests of the
// scheduler's behaviour without the CLI around it.
import path from 'node:path';
import { buildGraph, type CatalogEntry } from '../../lib/graph/build-graph.js';
import type { EngineEvent } from '../../lib/scheduler/events.js';
import { Redactor } from '../../lib/scheduler/redactor.js';
import { runGraph, type FailureMode } from '../../lib/scheduler/run-graph.js';
import { SourceDigests } from '../../lib/stamps/source-digests.js';
import type { RunRecord } from '../../lib/state/run-record.js';
import { JsonStateStore } from '../../lib/state/json-state-store.js';

export interface CatalogRun {
  readonly directory: string;
  readonly catalog: readonly CatalogEntry[];
  readonly config?: unknown;
  readonly concurrency: number;
  readonly pools?: Readonly<Record<string, number>>;
  readonly onFailure?: FailureMode;
  readonly signal?: AbortSignal;
}

export async function runCatalog(options: CatalogRun): Promise<{ readonly record: RunRecord; readonly events: EngineEvent[] }> {
  const { directory } = options;
  const built = buildGraph(options.catalog, options.config ?? {});
  if (!built.ok) throw new Error(JSON.stringify(built.error));
  const store = JsonStateStore.open(directory);
  if (!store.ok) throw new Error(store.error.reason);
  const events: EngineEvent[] = [];
  const record = await runGraph({
    graph: built.value,
    targets: [],
    environment: 'test',
    root: directory,
    config: options.config ?? {},
    store: store.value,
    sources: await SourceDigests.open(directory, path.join(directory, 'digests.json')),
    redactor: new Redactor(),
    emit: (event) => events.push(event),
    concurrency: options.concurrency,
    pools: options.pools ?? {},
    onFailure: options.onFailure ?? 'no-new',
    force: new Set(),
    skip: new Set(),
    signal: options.signal ?? new AbortController().signal,
    graceMs: 500,
    retryBaseMs: 10,
  }).done;
  await store.value.close();
  return { record, events };
}
