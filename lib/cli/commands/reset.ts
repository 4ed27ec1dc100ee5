import { confirm } from '../confirm.js';
import { moveStateAside } from '../../state/json-state-store.js';
import { isPathError, unusablePath } from '../../state/prepare-directory.js';
import { environmentNameOf, environmentPaths } from '../project.js';
import { withRunLock } from '../run-lock-scope.js';
import { report, type Invocation, type Session } from '../session.js';
import { ExitCode, ok, type ConfigurationFailure, type Result } from '../../failures.js';
import { isShared, type SharedStateStore } from '../../state/state-store.js';
import { openStateStore } from '../open-state.js';

/** `--reset <task>`: forgets these tasks' stamps, under the run lock. */
export function resetTasks(invocation: Invocation, session: Session): Promise<number> {
  return withRunLock(invocation, session, session.store, async () => {
    for (const id of session.reset) await session.store.reset(id);
    const forgotten = [...session.reset];
    invocation.io.stdout.write(`reset ${forgotten.join(', ')}: ${forgotten.length === 1 ? 'it runs' : 'they run'} again next time\n`);
    return ExitCode.success;
  });
}

/**
 * `--reset-state`: forgets every stamp of the environment, once confirmed (a terminal's y, or --yes). It
 * works on any state, a corrupt one above all: its files are not read, only moved aside (named with the
 * time), and neither the configuration nor the catalog is needed.
 */
export async function resetState(invocation: Invocation): Promise<number> {
  const { project, options, io } = invocation;
  const name = environmentNameOf(options.environment, project.defaultEnvironment);
  if (!Object.hasOwn(project.environments, name)) return report(invocation, { reason: 'unknown-environment', name, known: Object.keys(project.environments).sort() }, ExitCode.usage);
  const paths = environmentPaths(project.root, name);
  const shared = await sharedState(invocation, name, paths.stateDirectory);
  if (shared && !shared.ok) return report(invocation, shared.error, ExitCode.usage);
  const store = shared?.value;
  return withRunLock(invocation, paths, store, async () => {
    if (!options.yes && !(await confirm(`forget every stamp of environment ${name}?`))) {
      return report(invocation, { reason: 'not-confirmed', option: '--reset-state' }, ExitCode.usage);
    }
    if (store) {
      const aside = await store.moveStateAside(new Date());
      io.stdout.write(`reset every stamp of ${name}; the old state is kept in ${store.location} as environment ${aside}\n`);
      return ExitCode.success;
    }
    let moved: string[];
    try {
      moved = moveStateAside(paths.stateDirectory, new Date());
    } catch (error) {
      if (!isPathError(error)) throw error;
      return report(invocation, unusablePath(paths.stateDirectory, "the environment's state", error), ExitCode.usage);
    }
    io.stdout.write(`reset every stamp of ${name}${moved.length > 0 ? `; the old state is kept as ${moved.join(', ')}` : ''}\n`);
    return ExitCode.success;
  });
}

/**
 * The environment's shared (PostgreSQL) state, opened, when it has one; its configuration is read for that
 * and nothing else (a broken configuration leaves a file state to reset as before).
 */
async function sharedState(invocation: Invocation, name: string, stateDirectory: string): Promise<Result<SharedStateStore, ConfigurationFailure> | undefined> {
  const loaded = await invocation.project.environments[name]!('configuration');
  if (!loaded.ok || !loaded.value.stateStore) return undefined;
  const withSecrets = await invocation.project.environments[name]!('secrets');
  if (!withSecrets.ok) return withSecrets;
  const opened = await openStateStore(withSecrets.value, name, stateDirectory);
  if (!opened.ok) return opened;
  return isShared(opened.value) ? ok(opened.value) : undefined;
}
