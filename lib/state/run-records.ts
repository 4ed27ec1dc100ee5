import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { RunRecord } from '../scheduler/events.js';
import { writeFileAtomic } from './atomic-write.js';

const keptRuns = 50;

/** A run's id: its start time (sortable, usable in a file name) and a random suffix. */
export function newRunId(startedAt: Date): string {
  return `${startedAt.toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
}

/** Where an environment's run records are kept. */
export function runRecordDirectory(stateDirectory: string): string {
  return path.join(stateDirectory, 'runs');
}

/** Saves a run's record as `runs/<run id>.json` (mode 0600) and keeps the newest 50. */
export async function saveRunRecord(stateDirectory: string, record: RunRecord): Promise<void> {
  const directory = runRecordDirectory(stateDirectory);
  await writeFileAtomic(path.join(directory, `${record.runId}.json`), `${JSON.stringify(record, null, 1)}\n`);
  const names = (await fs.readdir(directory)).filter((name) => name.endsWith('.json')).sort();
  await Promise.all(names.slice(0, -keptRuns).map((name) => fs.rm(path.join(directory, name), { force: true })));
}

export async function readLastRunRecord(stateDirectory: string): Promise<RunRecord | undefined> {
  const directory = runRecordDirectory(stateDirectory);
  const names = (await fs.readdir(directory).catch(() => [] as string[])).filter((name) => name.endsWith('.json')).sort();
  const last = names.at(-1);
  return last ? (JSON.parse(await fs.readFile(path.join(directory, last), 'utf8')) as RunRecord) : undefined;
}
