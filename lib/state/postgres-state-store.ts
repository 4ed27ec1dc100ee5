import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TaskId } from '../dsl/ids.js';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import type { RunRecord } from './run-record.js';
import { changedRecord, type StateChange } from './state-changes.js';
import { snapshotSchema } from './state-schema.js';
import { StateWriteFailed, type LastAttempt, type SharedStateStore, type Stamp, type TaskRecord } from './state-store.js';

/**
 * The schema, one step per version: a database at version N gets steps N+1.. on first use. Never edit a step
 * that shipped; add one.
 */
const migrations: readonly string[] = [
  `CREATE TABLE onboarder_tasks (environment text NOT NULL, task text NOT NULL, record jsonb NOT NULL, PRIMARY KEY (environment, task));
   CREATE TABLE onboarder_locks (environment text PRIMARY KEY, generation bigint NOT NULL, holder jsonb);
   CREATE TABLE onboarder_runs (environment text NOT NULL, run_id text NOT NULL, record jsonb NOT NULL, PRIMARY KEY (environment, run_id));`,
];

/** Who holds an environment's run lock, as the row beside the advisory lock says. */
export interface LockHolderRow {
  readonly user: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly targets: readonly string[];
}

export interface PostgresStoreOptions {
  /** How long a write waits for a lost connection to come back (with the same lock) before it fails. */
  readonly reconnectMs?: number;
}

/** The URL as messages may show it: no password. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'postgresql://(a URL that does not parse)';
  }
}

/**
 * An environment's state in a PostgreSQL database a team shares: each task's record a row of
 * onboarder_tasks, keyed by the environment's name. The run lock is a session advisory lock held by the
 * run's own connection for the whole run, beside a row of onboarder_locks naming the holder and a
 * generation that every takeover increments. A killed holder's connection ends and with it the lock: the
 * next run needs no timeout. Every change is one statement that writes only while the lock row still has
 * this run's generation (locked FOR SHARE, so a takeover waits for it or it sees the takeover): a run that
 * lost its lock can never write over a newer run's state. A write whose connection broke reconnects with
 * backoff and goes on only with the advisory lock and the same generation back; else StateWriteFailed.
 */
export class PostgresStateStore implements SharedStateStore {
  readonly warnings: readonly string[] = [];
  private generation: number | undefined;
  /** Changes are written one at a time, in the order they were made. */
  private queue: Promise<unknown> = Promise.resolve();
  private broken = false;

  private constructor(
    private client: pg.Client,
    private readonly url: string,
    private readonly environment: string,
    private readonly tasks: Map<TaskId, TaskRecord>,
    private readonly options: PostgresStoreOptions,
  ) {}

  get location(): string {
    return `${displayUrl(this.url)} (environment ${this.environment})`;
  }

  /** Connects, brings the schema up to date, and reads the environment's records. */
  static async open(url: string, environment: string, options: PostgresStoreOptions = {}): Promise<Result<PostgresStateStore, ConfigurationFailure>> {
    let client: pg.Client | undefined;
    try {
      client = await connect(url);
      await migrate(client);
      const store = new PostgresStateStore(client, url, environment, new Map(), options);
      await store.load();
      return ok(store);
    } catch (error) {
      await client?.end().catch(() => undefined);
      return fail({ reason: 'state-unreachable', location: `${displayUrl(url)} (environment ${environment})`, detail: describePgError(error, url) });
    }
  }

  record(id: TaskId): TaskRecord | undefined {
    return this.tasks.get(id);
  }

  records(): ReadonlyMap<TaskId, TaskRecord> {
    return this.tasks;
  }

  markStarted(id: TaskId, at: string): Promise<void> {
    return this.change({ op: 'start', id, at });
  }

  markSucceeded(id: TaskId, stamp: Stamp): Promise<void> {
    return this.change({ op: 'success', id, stamp });
  }

  markFinishedWithoutSuccess(id: TaskId, last: LastAttempt): Promise<void> {
    return this.change({ op: 'finish', id, last });
  }

  reset(id: TaskId): Promise<void> {
    return this.change({ op: 'reset', id });
  }

  /**
   * Takes the environment's run lock: the advisory lock on this connection, then the holder row with the
   * next generation, then the records again (what the last holder wrote after they were read). Refused at
   * once, with the holder, while another connection holds it.
   */
  async acquireRunLock(targets: readonly string[]): Promise<Result<void, ConfigurationFailure>> {
    const holder: LockHolderRow = { user: os.userInfo().username, host: os.hostname(), pid: process.pid, startedAt: new Date().toISOString(), targets };
    try {
      const { rows } = await this.client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [lockKey(this.environment)]);
      if (!rows[0]!.locked) {
        const held = await this.client.query<{ holder: LockHolderRow | null }>('SELECT holder FROM onboarder_locks WHERE environment = $1', [this.environment]);
        const other = held.rows[0]?.holder;
        return fail({ reason: 'state-locked', file: this.location, pid: other?.pid ?? 0, host: other ? `${other.host} as ${other.user}, ${other.targets.join(' ')}` : 'another machine', startedAt: other?.startedAt ?? 'unknown' });
      }
      const taken = await this.client.query<{ generation: string }>(
        `INSERT INTO onboarder_locks (environment, generation, holder) VALUES ($1, 1, $2)
         ON CONFLICT (environment) DO UPDATE SET generation = onboarder_locks.generation + 1, holder = EXCLUDED.holder
         RETURNING generation`,
        [this.environment, JSON.stringify(holder)],
      );
      this.generation = Number(taken.rows[0]!.generation);
      await this.load();
      return ok(undefined);
    } catch (error) {
      return fail({ reason: 'state-unreachable', location: this.location, detail: describePgError(error, this.url) });
    }
  }

  /** `state push`: the environment's records become `records`, in one transaction, under the run lock. */
  async replaceAll(records: ReadonlyMap<TaskId, TaskRecord>): Promise<void> {
    if (this.generation === undefined) throw new StateWriteFailed(this.location, 'ENOLCK', 'the push');
    await this.client.query('BEGIN');
    try {
      const held = await this.client.query('SELECT 1 FROM onboarder_locks WHERE environment = $1 AND generation = $2 FOR SHARE', [this.environment, this.generation]);
      if (held.rowCount !== 1) throw new StateWriteFailed(this.location, 'lock lost to another run', 'the push');
      await this.client.query('DELETE FROM onboarder_tasks WHERE environment = $1', [this.environment]);
      for (const [task, record] of records) {
        await this.client.query('INSERT INTO onboarder_tasks (environment, task, record) VALUES ($1, $2, $3::jsonb)', [this.environment, task, JSON.stringify(record)]);
      }
      await this.client.query('COMMIT');
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    this.tasks.clear();
    for (const [task, record] of records) this.tasks.set(task, record);
  }

  /** The run's record, and the oldest beyond `keep` gone: one transaction, committed without waiting for the disk (a record, not a stamp). */
  async saveRun(record: RunRecord, keep: number): Promise<void> {
    await this.client.query('BEGIN');
    try {
      await this.client.query('SET LOCAL synchronous_commit TO OFF');
      await this.client.query('INSERT INTO onboarder_runs (environment, run_id, record) VALUES ($1, $2, $3::jsonb) ON CONFLICT (environment, run_id) DO UPDATE SET record = EXCLUDED.record', [this.environment, record.runId, JSON.stringify(record)]);
      await this.client.query('DELETE FROM onboarder_runs WHERE environment = $1 AND run_id NOT IN (SELECT run_id FROM onboarder_runs WHERE environment = $1 ORDER BY run_id DESC LIMIT $2)', [this.environment, keep]);
      await this.client.query('COMMIT');
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  async lastRun(): Promise<RunRecord | undefined> {
    const { rows } = await this.client.query<{ record: RunRecord }>('SELECT record FROM onboarder_runs WHERE environment = $1 ORDER BY run_id DESC LIMIT 1', [this.environment]);
    return rows[0]?.record;
  }

  /**
   * --reset-state: the environment's records are kept under another key (`<environment>@<time>`), never
   * read again; the environment starts with none. Under the run lock.
   */
  async moveStateAside(at: Date): Promise<string> {
    if (this.generation === undefined) throw new StateWriteFailed(this.location, 'ENOLCK', 'the reset');
    const aside = `${this.environment}@${at.toISOString()}`;
    await this.client.query('UPDATE onboarder_tasks SET environment = $2 WHERE environment = $1', [this.environment, aside]);
    this.tasks.clear();
    return aside;
  }

  /** Waits for the last change, releases the run lock (if held) and disconnects. */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    try {
      if (this.generation !== undefined && !this.broken) {
        // The holder row only names who holds the lock; the advisory lock is the lock. No need to wait for the disk.
        await this.client.query("UPDATE onboarder_locks SET holder = NULL WHERE environment = $1 AND generation = $2 AND set_config('synchronous_commit', 'off', true) = 'off'", [this.environment, this.generation]);
        await this.client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey(this.environment)]);
      }
    } finally {
      this.generation = undefined;
      await this.client.end().catch(() => undefined);
    }
  }

  private async load(): Promise<void> {
    const { rows } = await this.client.query<{ task: string; record: unknown }>('SELECT task, record FROM onboarder_tasks WHERE environment = $1', [this.environment]);
    const parsed = snapshotSchema.safeParse({ version: 1, tasks: Object.fromEntries(rows.map((row) => [row.task, row.record])) });
    if (!parsed.success) throw new Error(`onboarder_tasks holds a record Onboarder does not write (${parsed.error.issues[0]?.path.join('.')})`);
    this.tasks.clear();
    for (const [task, record] of Object.entries(parsed.data.tasks)) this.tasks.set(task as TaskId, record as TaskRecord);
  }

  private change(change: Exclude<StateChange, { op: 'reset-all' }>): Promise<void> {
    const written = this.queue.then(() => this.write(change));
    this.queue = written.catch(() => undefined);
    return written;
  }

  /**
   * Writes one change under the lock's generation; applied in memory only once the database has it.
   * Durable as the file store's journal is: a change that removes a stamp (a stamped task starting again,
   * a reset) waits for the server's disk, since that removal must survive a crash before the task's first
   * side effect; any other change commits asynchronously (synchronous_commit off for its own transaction):
   * the server has it when the call returns, so a killed client loses nothing, and a server that crashes
   * loses at most its last fraction of a second, which only makes those tasks run again. One fsync per
   * task on this machine's disk made a 2,000-task run 39% slower (bench/README.md).
   */
  private async write(change: Exclude<StateChange, { op: 'reset-all' }>): Promise<void> {
    const what = `'${change.op}' of ${change.id}`;
    if (this.generation === undefined) throw new StateWriteFailed(this.location, 'ENOLCK', what);
    const current = this.tasks.get(change.id);
    const record = changedRecord(current, change);
    const durable = current?.stamp !== undefined && record?.stamp === undefined;
    const commit = durable ? `'on'` : `set_config('synchronous_commit', 'off', true)`;
    const deadline = Date.now() + (this.options.reconnectMs ?? 60_000);
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        if (this.broken) await this.reconnect();
        const held = await this.client.query<{ held: string }>({
          // Prepared once per connection: parsed and planned once, not for every change.
          name: `onboarder-${record ? 'upsert' : 'delete'}-${durable ? 'durable' : 'relaxed'}`,
          text: record
            ? `WITH held AS (SELECT generation FROM onboarder_locks WHERE environment = $1 AND generation = $3 FOR SHARE),
                    written AS (INSERT INTO onboarder_tasks (environment, task, record) SELECT $1, $2, $4::jsonb WHERE EXISTS (SELECT 1 FROM held)
                                ON CONFLICT (environment, task) DO UPDATE SET record = EXCLUDED.record RETURNING 1)
               SELECT (SELECT count(*) FROM held) AS held, (SELECT count(*) FROM written) AS written, ${commit} AS commit`
            : `WITH held AS (SELECT generation FROM onboarder_locks WHERE environment = $1 AND generation = $3 FOR SHARE),
                    gone AS (DELETE FROM onboarder_tasks WHERE environment = $1 AND task = $2 AND EXISTS (SELECT 1 FROM held) RETURNING 1)
               SELECT (SELECT count(*) FROM held) AS held, (SELECT count(*) FROM gone) AS gone, ${commit} AS commit`,
          values: record ? [this.environment, change.id, this.generation, JSON.stringify(record)] : [this.environment, change.id, this.generation],
        });
        if (Number(held.rows[0]!.held) !== 1) throw new LockLost();
        break;
      } catch (error) {
        if (error instanceof LockLost) throw new StateWriteFailed(this.location, 'lock lost to another run', what);
        this.broken = true;
        if (Date.now() + delay > deadline) throw new StateWriteFailed(this.location, `unreachable: ${describePgError(error, this.url)}`, what);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    if (record) this.tasks.set(change.id, record);
    else this.tasks.delete(change.id);
  }

  /** A new connection with the advisory lock and this run's generation back, or LockLost. */
  private async reconnect(): Promise<void> {
    await this.client.end().catch(() => undefined);
    this.client = await connect(this.url);
    const { rows } = await this.client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [lockKey(this.environment)]);
    if (!rows[0]!.locked) throw new LockLost();
    const current = await this.client.query<{ generation: string }>('SELECT generation FROM onboarder_locks WHERE environment = $1', [this.environment]);
    if (Number(current.rows[0]?.generation) !== this.generation) throw new LockLost();
    this.broken = false;
  }
}

class LockLost extends Error {}

function lockKey(environment: string): string {
  return `onboarder:${environment}`;
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: `onboarder ${path.basename(process.argv[1] ?? 'deploy.ts')}` });
  // A connection that breaks between queries emits 'error': the next query fails and is handled there.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * Brings the schema to the last migration, one first user at a time (a transaction-scoped advisory lock).
 * A database already at the last version costs one read: a command that only reads writes nothing.
 */
async function migrate(client: pg.Client): Promise<void> {
  const current = await client.query<{ version: number }>('SELECT version FROM onboarder_schema').catch(() => undefined);
  if (current?.rows.length === 1 && current.rows[0]!.version === migrations.length) return;
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('onboarder:schema', 0))");
    await client.query('CREATE TABLE IF NOT EXISTS onboarder_schema (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM onboarder_schema');
    const version = rows[0]?.version ?? 0;
    if (version > migrations.length) throw new Error(`the database's Onboarder schema is version ${version}, newer than this Onboarder knows (${migrations.length}): update Onboarder`);
    for (let step = version; step < migrations.length; step++) await client.query(migrations[step]!);
    if (rows.length === 0) await client.query('INSERT INTO onboarder_schema (version) VALUES ($1)', [migrations.length]);
    else await client.query('UPDATE onboarder_schema SET version = $1', [migrations.length]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** A PostgreSQL or connection error in one phrase, never with the URL's password. */
export function describePgError(error: unknown, url: string): string {
  const failure = error as { message?: string; code?: string };
  let message = failure.message ?? String(error);
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) message = message.split(password).join('***');
  } catch {
    // A URL that does not parse has no password to hide here; the redactor has the whole URL.
  }
  return failure.code && /^[0-9A-Z]{5}$/.test(failure.code) ? `${message} (SQLSTATE ${failure.code})` : message;
}
