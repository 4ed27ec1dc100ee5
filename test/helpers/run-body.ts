import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TaskContext } from '../../lib/dsl/context.js';
import { task } from '../../lib/dsl/define-tasks.js';
import { buildGraph } from '../../lib/graph/build-graph.js';
import type { EngineEvent, RunRecord } from '../../lib/scheduler/events.js';
import { Redactor } from '../../lib/scheduler/redactor.js';
import { runGraph } from '../../lib/scheduler/run-graph.js';
import { SourceDigests } from '../../lib/stamps/source-digests.js';
import { JsonStateStore } from '../../lib/state/json-state-store.js';
import { closeRunResources } from '../../lib/tools/run-resources.js';

/** Runs one task body through the real engine (scoped `$`, events, failures) and returns what happened. */
export async function runBody(
  body: (context: TaskContext<Record<string, unknown>, unknown, unknown>) => Promise<void>,
  options: { readonly secrets?: readonly string[]; readonly root?: string } = {},
): Promise<{ record: RunRecord; events: EngineEvent[]; times: number[]; output: string }> {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-body-'));
  try {
    const built = buildGraph([task({ name: 'body', run: body })]);
    if (!built.ok) throw new Error(built.error.reason);
    const store = JsonStateStore.open(directory);
    if (!store.ok) throw new Error(store.error.reason);
    const events: EngineEvent[] = [];
    const times: number[] = [];
    const record = await runGraph({
      graph: built.value,
      targets: ['body'],
      environment: 'test',
      root: options.root ?? directory,
      config: {},
      store: store.value,
      sources: await SourceDigests.open(directory, path.join(directory, 'digests.json')),
      redactor: new Redactor(options.secrets ?? []),
      emit: (event) => {
        events.push(event);
        times.push(Date.now());
      },
      concurrency: 1,
      pools: {},
      onFailure: 'no-new',
      force: 'all',
      skip: new Set(),
      signal: new AbortController().signal,
      graceMs: 1000,
      retryBaseMs: 10,
    }).done;
    await store.value.close();
    const output = events
      .map((event) => (event.type === 'task-output' ? event.line : event.type === 'task-command' ? `$ ${event.command}` : undefined))
      .filter((line) => line !== undefined)
      .join('\n');
    return { record, events, times, output };
  } finally {
    // As the CLI does when a run ends: pooled SSH connections closed, SSH masters stopped.
    await closeRunResources();
    rmSync(directory, { recursive: true, force: true });
  }
}

/** The failure of the single task, if it failed. */
export function failureOf(record: RunRecord) {
  return record.tasks[0]?.failure;
}
