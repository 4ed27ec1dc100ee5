import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { RunRecord } from './run-record.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import { fileErrorCode, isPathError, unusablePath } from './prepare-directory.js';
import { issueLine } from '../dsl/schema-issue.js';
import { runRecordSchema } from './state-schema.js';

/** How many runs of an environment keep their record, and how many of those that wrote logs keep them. */
export const runsKept = 50;

/** A run's id: its start time (sortable, usable in a file name) and a random suffix. */
export function newRunId(startedAt: Date): string {
  return `${startedAt.toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
}

/** What newRunId makes, and only that: files of any other name next to the runs are never touched. */
const runIdPattern = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[0-9a-f]{8}$/;

/** Where an environment's run records are kept. */
export function runRecordDirectory(stateDirectory: string): string {
  return path.join(stateDirectory, 'runs');
}

/** The places a run leaves something: its record (`runs/<run id>.json`) and its logs (`<run id>/`, if any). */
export interface RunHistoryPaths {
  readonly stateDirectory: string;
  readonly logDirectory: string;
}

/** Where a run's HTML report is kept: beside its record, `runs/<run id>.html`. */
export function runReportFile(stateDirectory: string, runId: string): string {
  return path.join(runRecordDirectory(stateDirectory), `${runId}.html`);
}

/** Saves a run's record as `runs/<run id>.json` (mode 0600). */
export async function saveRunRecord(stateDirectory: string, record: RunRecord): Promise<void> {
  await writeFileAtomic(path.join(runRecordDirectory(stateDirectory), `${record.runId}.json`), `${JSON.stringify(record, null, 1)}\n`);
}

/**
 * Keeps the records of the newest `runsKept` runs and the log directories of the newest `runsKept` runs
 * that wrote logs, and removes older ones: without it a year of deployments would keep every run's logs.
 * Counted apart, so that runs which only found everything up to date (a record, no logs) do not push the
 * logs of the last real runs out. Names that are not run ids are never touched. Returns what could not be
 * removed, with the file system's code.
 */
export async function pruneRunHistory(paths: RunHistoryPaths): Promise<string[]> {
  const records = runRecordDirectory(paths.stateDirectory);
  const [recorded, logNames] = await Promise.all([recordFiles(records), listed(paths.logDirectory)]);
  const logged = logNames.filter((name) => runIdPattern.test(name)).sort();
  const unremoved: string[] = [];
  const remove = async (target: string, recursive: boolean) => {
    try {
      await fs.rm(target, { force: true, recursive });
    } catch (error) {
      unremoved.push(`${target} (${fileErrorCode(error)})`);
    }
  };
  await Promise.all([
    ...recorded.slice(0, -runsKept).flatMap((name) => [remove(path.join(records, name), false), remove(path.join(records, name.replace(/\.json$/, '.html')), false)]),
    ...logged.slice(0, -runsKept).map((name) => remove(path.join(paths.logDirectory, name), true)),
  ]);
  return unremoved;
}

async function listed(directory: string): Promise<string[]> {
  return fs.readdir(directory).catch(() => []);
}

/** The run records in `directory`, oldest first: `<run id>.json` only, not a backup or notes next to them. */
async function recordFiles(directory: string): Promise<string[]> {
  return (await listed(directory)).filter((name) => name.endsWith('.json') && runIdPattern.test(name.slice(0, -'.json'.length))).sort();
}

/** The newest run record; undefined when there is none, a failure naming the file when it cannot be read. */
export async function readLastRunRecord(stateDirectory: string): Promise<Result<RunRecord | undefined, ConfigurationFailure>> {
  const directory = runRecordDirectory(stateDirectory);
  const last = (await recordFiles(directory)).at(-1);
  if (!last) return ok(undefined);
  const file = path.join(directory, last);
  let value: unknown;
  try {
    value = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    if (isPathError(error)) return fail(unusablePath(file, 'the last run record', error));
    const reason = error instanceof SyntaxError ? 'not valid JSON' : `unreadable (${fileErrorCode(error)})`;
    return fail({ reason: 'state-corrupt', file, detail: reason });
  }
  const parsed = runRecordSchema.safeParse(value);
  if (!parsed.success) return fail({ reason: 'state-corrupt', file, detail: `not a run record Onboarder writes (${issueLine(parsed.error)})` });
  return ok(parsed.data as unknown as RunRecord);
}
