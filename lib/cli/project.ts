import path from 'node:path';
import type { CatalogEntry } from '../graph/build-graph.js';
import { ok, type ConfigurationFailure, type Result } from '../failures.js';
import { checkWritableIfExists, prepareDirectory } from '../state/prepare-directory.js';
import { runRecordDirectory } from '../state/run-records.js';

/** An environment after loading: its validated configuration and the secret values to redact. */
export interface LoadedEnvironment<Config = unknown> {
  readonly config: Config;
  readonly secrets: readonly string[];
  /** Said once on stderr before the command runs (a secret too short to be redacted, say). */
  readonly warnings?: readonly string[];
  /**
   * Where the environment's state lives: the project's .cache/ (absent), or a PostgreSQL database the team
   * shares; its URL (a secret) is there once secrets were read.
   */
  readonly stateStore?: { readonly kind: 'postgres'; readonly url?: string };
}

/**
 * Loads an environment. `configuration` is enough for the commands that only show the graph (--list,
 * --graph): they need no secret; `secrets` also resolves every secret reference.
 */
export type EnvironmentLoader<Config = unknown> = (needs: 'configuration' | 'secrets') =>
  | Promise<Result<LoadedEnvironment<Config>, ConfigurationFailure>>
  | Result<LoadedEnvironment<Config>, ConfigurationFailure>;

/**
 * State a project keeps in the environment's PostgreSQL database beside the engine's records (tofu's, say),
 * which `state pull` brings back into files with them. `pull` gets the database's URL and the environment's
 * state directory, and answers with one line saying what it moved, or why it would not (a file there
 * already, unless `force`). A method, so that a project typed by its configuration is still a Project.
 */
export interface StatePull<Config = unknown> {
  pull(input: {
    readonly config: Config;
    readonly url: string;
    readonly stateDirectory: string;
    readonly force: boolean;
  }): Promise<Result<string, { readonly message: string; readonly hint: string }>>;
}

/**
 * A pool's capacity: a number, or what the environment's configuration decides (how many clones a site's
 * storage takes at once, say). A method's type, so that a project typed by its configuration is still a Project.
 */
export type PoolCapacity<Config = unknown> = number | { capacity(config: Config): number }['capacity'];

/** The capacity of each pool for this configuration; one that is not a whole number of at least 1 counts as 1. */
export function poolCapacities<Config>(pools: Readonly<Record<string, PoolCapacity<Config>>>, config: Config): Record<string, number> {
  return Object.fromEntries(
    Object.entries(pools).map(([name, capacity]) => {
      const resolved = typeof capacity === 'function' ? capacity(config) : capacity;
      return [name, Number.isInteger(resolved) && resolved >= 1 ? resolved : 1];
    }),
  );
}

/** What deploy.ts hands to the CLI. */
export interface Project<Config = unknown> {
  /** The project root: sources are relative to it and state lives in its .cache/. */
  readonly root: string;
  readonly catalog: readonly CatalogEntry[];
  readonly environments: Readonly<Record<string, EnvironmentLoader<Config>>>;
  readonly defaultEnvironment: string;
  /** Capacity of each named pool; a task naming a pool not declared here is a configuration error. */
  readonly pools?: Readonly<Record<string, PoolCapacity<Config>>>;
  readonly version?: string;
  /** Environment variables `--container` passes into the container by name (e.g. secrets' variables). */
  readonly passEnvironment?: readonly string[];
  /** The project's own state in the environment's database, pulled back into files by `state pull`. */
  readonly statePulls?: readonly StatePull<Config>[];
}

/** Where a project keeps an environment's state and logs, under its .cache/. */
export function environmentPaths(root: string, environment: string): { readonly stateDirectory: string; readonly logDirectory: string } {
  const cacheDirectory = path.join(root, '.cache');
  return { stateDirectory: path.join(cacheDirectory, 'state', environment), logDirectory: path.join(cacheDirectory, 'logs', environment) };
}

/** The environment a command is for: --env, else DEPLOY_ENV, else the project's default. */
export function environmentNameOf(requested: string | undefined, defaultEnvironment: string): string {
  return requested ?? process.env.DEPLOY_ENV ?? defaultEnvironment;
}

/**
 * Creates (if missing) and checks the directories a run writes to, before it starts anything: a file in the
 * way found after a two-hour run would lose its logs or its record. Every command that takes the run lock calls it.
 */
export function prepareRunDirectories(paths: { readonly stateDirectory: string; readonly logDirectory: string }): Result<void, ConfigurationFailure> {
  const needed: readonly (readonly [string, string])[] = [
    [paths.stateDirectory, "the environment's state"],
    [runRecordDirectory(paths.stateDirectory), 'run records'],
    [paths.logDirectory, 'task logs'],
  ];
  for (const [directory, purpose] of needed) {
    const prepared = prepareDirectory(directory, purpose);
    if (!prepared.ok) return prepared;
  }
  // The files a run appends to or replaces: one another user owns (a run with sudo) fails every task late.
  for (const name of ['state.journal', 'run.lock', 'running-groups.json']) {
    const checked = checkWritableIfExists(path.join(paths.stateDirectory, name), "the environment's state");
    if (!checked.ok) return checked;
  }
  return ok(undefined);
}
