import { confirm } from '../confirm.js';
import { ExitCode } from '../../failures.js';
import { moveStateAside } from '../../state/json-state-store.js';
import { isPathError, unusablePath } from '../../state/prepare-directory.js';
import { environmentNameOf, environmentPaths } from '../project.js';
import { withRunLock } from '../run-lock-scope.js';
import { report, type Invocation, type Session } from '../session.js';

/** `--reset <task>`: forgets these tasks' stamps, under the run lock. */
export function resetTasks(invocation: Invocation, session: Session): Promise<number> {
  return withRunLock(invocation, session, session.store, async () => {
    for (const id of session.reset) session.store.reset(id);
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
  return withRunLock(invocation, paths, undefined, async () => {
    if (!options.yes && !(await confirm(`forget every stamp of environment ${name}?`))) {
      return report(invocation, { reason: 'not-confirmed', option: '--reset-state' }, ExitCode.usage);
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
