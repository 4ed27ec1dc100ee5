import { fail, type ConfigurationFailure, type Result } from '../failures.js';
import { JsonStateStore } from '../state/json-state-store.js';
import type { StateStore } from '../state/state-store.js';
import type { LoadedEnvironment } from './project.js';

/**
 * The environment's state store: the JSON files under the project's .cache/ by default, or the PostgreSQL
 * database the environment names (its URL is a secret: the environment is loaded with its secrets for it).
 */
export async function openStateStore(environment: LoadedEnvironment<unknown>, environmentName: string, stateDirectory: string): Promise<Result<StateStore, ConfigurationFailure>> {
  const shared = environment.stateStore;
  if (!shared) return JsonStateStore.open(stateDirectory);
  if (shared.url === undefined) return fail({ reason: 'state-unreachable', location: `the PostgreSQL state of environment ${environmentName}`, detail: 'its URL (a secret) was not read' });
  const reconnectMs = process.env.ONBOARDER_STATE_RECONNECT_MS ? Number(process.env.ONBOARDER_STATE_RECONNECT_MS) : undefined;
  // Loaded only for an environment that uses it: the driver costs every other command ~60 ms of start-up.
  const { PostgresStateStore } = await import('../state/postgres-state-store.js');
  return PostgresStateStore.open(shared.url, environmentName, reconnectMs !== undefined ? { reconnectMs } : {});
}
