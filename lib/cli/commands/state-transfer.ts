import { parseArgs } from 'node:util';
import { ExitCode } from '../../failures.js';
import { JsonStateStore } from '../../state/json-state-store.js';
import type { SharedStateStore } from '../../state/state-store.js';
import { openStateStore } from '../open-state.js';
import { parseCommandLine } from '../parse-args.js';
import { environmentNameOf, environmentPaths, type Project } from '../project.js';
import { withRunLock } from '../run-lock-scope.js';
import { report, type Invocation, type Io } from '../session.js';

/**
 * `state push` copies an environment's file state (.cache/state/<env>/) into the PostgreSQL database its
 * environment names; `state pull` copies it back, so a team can move to the shared state and away from it.
 * Refused when the target already has records, unless --force. Both hold the run lock of both places.
 * `state pull` brings back the project's own state kept in the database too (Project.statePulls).
 */
export async function transferState(project: Project<unknown>, words: readonly string[], io: Io): Promise<number> {
  const direction = words[0];
  let values: { env?: string; force?: boolean; verbose?: boolean };
  try {
    values = parseArgs({ args: [...words.slice(1)], options: { env: { type: 'string', short: 'e' }, force: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' } }, strict: true, allowPositionals: false }).values;
  } catch (error) {
    return report({ io }, { reason: 'usage', message: (error as Error).message.split('\n')[0]!, hint: 'state push|pull [--env NAME] [--force]' }, ExitCode.usage);
  }
  if (direction !== 'push' && direction !== 'pull') {
    return report({ io }, { reason: 'usage', message: `'state ${direction ?? ''}' is not a state command`, hint: 'state push (file state into PostgreSQL) or state pull (back into the file state)' }, ExitCode.usage);
  }
  const name = environmentNameOf(values.env, project.defaultEnvironment);
  const parsed = parseCommandLine(['--list', ...(values.env ? ['--env', values.env] : []), ...(values.verbose ? ['--verbose'] : [])]);
  if (!parsed.ok) return report({ io }, parsed.error, ExitCode.usage);
  const invocation: Invocation = { project, options: parsed.value, io };
  if (!Object.hasOwn(project.environments, name)) return report(invocation, { reason: 'unknown-environment', name, known: Object.keys(project.environments).sort() }, ExitCode.usage);
  const loaded = await project.environments[name]!('secrets');
  if (!loaded.ok) return report(invocation, loaded.error, ExitCode.usage);
  if (!loaded.value.stateStore) {
    return report(invocation, { reason: 'usage', message: `environment ${name} keeps its state in files, not in PostgreSQL`, hint: "name the database in the environment's state settings first" }, ExitCode.usage);
  }
  const paths = environmentPaths(project.root, name);
  const file = JsonStateStore.open(paths.stateDirectory);
  if (!file.ok) return report(invocation, file.error, ExitCode.usage);
  const shared = await openStateStore(loaded.value, name, paths.stateDirectory);
  if (!shared.ok) return report(invocation, shared.error, ExitCode.usage);
  const database = shared.value as SharedStateStore;
  return withRunLock(invocation, paths, database, async () => {
    const [from, to] = direction === 'push' ? [file.value, database] : [database, file.value];
    if (to.records().size > 0 && !values.force) {
      return report(invocation, { reason: 'usage', message: `${to.location} already holds ${to.records().size} task records`, hint: `${direction} with --force to replace them` }, ExitCode.usage);
    }
    // What the project keeps in the database beside the records (the VMs' tofu state) comes back first: a
    // refusal there leaves the file state as it was.
    if (direction === 'pull') {
      for (const companion of project.statePulls ?? []) {
        const pulled = await companion.pull({ config: loaded.value.config, url: loaded.value.stateStore!.url!, stateDirectory: paths.stateDirectory, force: values.force ?? false });
        if (!pulled.ok) return report(invocation, { reason: 'usage', ...pulled.error }, ExitCode.usage);
        io.stdout.write(`${pulled.value}\n`);
      }
    }
    await to.replaceAll(from.records());
    io.stdout.write(`${direction === 'push' ? 'pushed' : 'pulled'} ${from.records().size} task records from ${from.location} to ${to.location}\n`);
    return ExitCode.success;
  });
}
