import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

const bin = '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL 15 server of the test's own (Debian's postgresql-15): initdb into a temporary directory as
 * the `postgres` user (the server refuses to run as root; its PID is the server's own), listening on a loopback port the test picked,
 * password authentication for TCP. Stopped by its PID; `restart()` starts it again on the same data and port.
 */
export class TestPostgres {
  private server: ChildProcess | undefined;

  private constructor(
    private readonly directory: string,
    readonly port: number,
    /** postgresql://onboarder:<password>@127.0.0.1:<port>/onboarder */
    readonly url: string,
    readonly password: string,
    /** Whether commits reach the disk (fsync): off for tests, on for a benchmark that stands for a real server. */
    private readonly durable: boolean,
  ) {}

  static async start(options: { readonly durable?: boolean } = {}): Promise<TestPostgres> {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-pg-'));
    const owner = postgresUser();
    chownSync(directory, owner.uid, owner.gid);
    mkdirSync(path.join(directory, 'socket'));
    chownSync(path.join(directory, 'socket'), owner.uid, owner.gid);
    const superPassword = `super-${process.pid}-${Date.now()}`;
    writeFileSync(path.join(directory, 'superpw'), `${superPassword}\n`);
    chownSync(path.join(directory, 'superpw'), owner.uid, owner.gid);
    asPostgres([`${bin}/initdb`, '-D', path.join(directory, 'data'), '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${path.join(directory, 'superpw')}`, '--no-sync']);
    const port = await freePort();
    const password = `pw-${process.pid}-q8zr4t`;
    const database = new TestPostgres(directory, port, `postgresql://onboarder:${password}@127.0.0.1:${port}/onboarder`, password, options.durable ?? false);
    await database.restart();
    database.psql(`CREATE ROLE onboarder LOGIN PASSWORD '${password}'`);
    database.psql('CREATE DATABASE onboarder OWNER onboarder');
    return database;
  }

  /** A new database the onboarder role owns, and its URL: each test its own state. */
  newDatabase(name: string): string {
    this.psql(`CREATE DATABASE ${name} OWNER onboarder`);
    return this.url.replace(/\/onboarder$/, `/${name}`);
  }

  /** Runs SQL as the superuser over the unix socket; its output, unaligned. */
  psql(sql: string, database = 'postgres'): string {
    return asPostgres([`${bin}/psql`, '-h', path.join(this.directory, 'socket'), '-p', String(this.port), '-d', database, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
  }

  /** Starts the server (again) and waits until it accepts connections. */
  async restart(): Promise<void> {
    this.server = spawn(`${bin}/postgres`, ['-D', path.join(this.directory, 'data'), '-p', String(this.port), '-k', path.join(this.directory, 'socket'), '-c', 'listen_addresses=127.0.0.1', '-c', `fsync=${this.durable ? 'on' : 'off'}`], { stdio: 'ignore', ...postgresUser() });
    for (let tries = 0; tries < 200; tries++) {
      const ready = spawnSync(`${bin}/pg_isready`, ['-h', '127.0.0.1', '-p', String(this.port)]);
      if (ready.status === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`PostgreSQL did not start on port ${this.port}`);
  }

  /** Stops the server by its PID (a fast shutdown: clients are disconnected) and waits for it to end. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server || server.exitCode !== null) return;
    const ended = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGINT');
    await ended;
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/** The `postgres` user's ids: the server and its tools run as it (PostgreSQL refuses to run as root). */
function postgresUser(): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) };
}

function asPostgres(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: '/', ...postgresUser() });
}

