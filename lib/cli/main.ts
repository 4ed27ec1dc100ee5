import { ExitCode, type ConfigurationFailure } from '../failures.js';
import { parseCommandLine, helpText, type Command } from './parse-args.js';
import { tolerateClosedOutput } from './closed-output.js';
import { showPlan, showStatus } from './commands/plan.js';
import { resetState, resetTasks } from './commands/reset.js';
import { runTargets } from './commands/run.js';
import { applyPlan } from './commands/apply.js';
import { printCompletions, showCompletionScript } from './commands/complete.js';
import { transferState } from './commands/state-transfer.js';
import { showGraph, showLastRun, showList, showTaskSummary, showVersions } from './commands/show.js';
import { catchProjectLoadFailures, isCircularImport, thrownError } from './escaped-exceptions.js';
import { environmentNameOf, type Project } from './project.js';
import { openSession, report, type Invocation, type Io, type Session } from './session.js';

/** Until the CLI starts, an exception is one of the project's modules failing to load (see catchProjectLoadFailures). */
const verboseArgument = { verbose: process.argv.includes('--verbose') || process.argv.includes('-v') };
const projectLoaded = catchProjectLoadFailures(
  (error) => report({ io: process, options: verboseArgument }, { reason: 'project-load-failed', thrown: thrownError(error), circular: isCircularImport(error) }, ExitCode.usage),
  () => report({ io: process }, { reason: 'project-never-loaded' }, ExitCode.usage),
);

type CommandFunction = (invocation: Invocation) => number | Promise<number>;
type SessionCommandFunction = (invocation: Invocation, session: Session) => Promise<number>;

/** Commands that answer from the project and the command line alone. */
const commands: Partial<Record<Command, CommandFunction>> = {
  // `TARGET --help`: that task's own help, its description and what it takes (--summary).
  help: (invocation) => (invocation.options.targets.length > 0 ? showTaskSummary(invocation) : (invocation.io.stdout.write(`${helpText}\n`), ExitCode.success)),
  completion: showCompletionScript,
  version: ({ io, project }) => (io.stdout.write(`onboarder ${project.version ?? '0.0.0'}\n`), ExitCode.success),
  versions: showVersions,
  list: showList,
  graph: showGraph,
  summary: showTaskSummary,
  'last-run': showLastRun,
  'reset-state': resetState,
  apply: applyPlan,
};

/** Commands on an environment: its configuration loaded, its state open. */
const sessionCommands: Partial<Record<Command, SessionCommandFunction>> = {
  status: showStatus,
  'dry-run': showPlan,
  reset: resetTasks,
  run: runTargets,
};

/** The CLI: parse, call the command, return its exit code. */
export async function runCli<Config>(project: Project<Config>, argv: readonly string[] = process.argv.slice(2), io: Io = process): Promise<number> {
  projectLoaded();
  tolerateClosedOutput(io.stdout, io.stderr);
  // The completion scripts' question: the words typed so far, which need not parse yet.
  if (argv[0] === '--complete') return printCompletions(project, argv.slice(argv[1] === '--' ? 2 : 1), io);
  // `state push|pull`: between the file state and the environment's PostgreSQL state.
  if (argv[0] === 'state') return transferState(project, argv.slice(1), io);
  const parsed = parseCommandLine(argv);
  if (!parsed.ok) return report({ io }, parsed.error, ExitCode.usage);
  const invocation: Invocation = { project, options: parsed.value, io, argv };
  try {
    if (parsed.value.container) return await launchContainer(invocation, argv);
    const unknownEnvironment = checkEnvironmentName(invocation);
    if (unknownEnvironment) return report(invocation, unknownEnvironment, ExitCode.usage);
    const command = commands[parsed.value.command];
    if (command) return await command(invocation);
    const session = await openSession(invocation);
    if (!session.ok) return report(invocation, session.error, ExitCode.usage);
    try {
      return await sessionCommands[parsed.value.command]!(invocation, session.value);
    } finally {
      // Nothing to do for a JSON state a run already closed; a database connection must end, or the process stays.
      await session.value.store.close();
    }
  } catch (error) {
    return report(invocation, { reason: 'internal-error', thrown: thrownError(error) }, ExitCode.taskFailed);
  }
}

/**
 * The environment a command names (--env, DEPLOY_ENV) must be one of the project's, for every command: a
 * name is a name, never a path (`--env ../../x` would read state outside the project).
 */
function checkEnvironmentName({ project, options }: Invocation): ConfigurationFailure | undefined {
  if ((options.command === 'help' && options.targets.length === 0) || options.command === 'version' || options.command === 'completion') return undefined;
  const name = environmentNameOf(options.environment, project.defaultEnvironment);
  if (Object.hasOwn(project.environments, name)) return undefined;
  return { reason: 'unknown-environment', name, known: Object.keys(project.environments).sort() };
}

const containerFlags = new Set(['--container', '--container-build', '--container-save']);

/** `--container`: the same command inside the Onboarder image. */
async function launchContainer(invocation: Invocation, argv: readonly string[]): Promise<number> {
  const { runInContainer } = await import('../container/launcher.js');
  const { project, io, options } = invocation;
  const launched = await runInContainer({
    root: project.root,
    args: argv.filter((arg) => !containerFlags.has(arg)),
    passEnvironment: ['DEPLOY_ENV', 'NO_COLOR', 'TERM', 'ONBOARDER_GRACE_MS', ...(project.passEnvironment ?? [])],
    build: options.container!.build,
    save: options.container!.save,
    log: (line) => io.stderr.write(`${line}\n`),
  });
  return launched.ok ? launched.value : report(invocation, launched.error, ExitCode.usage);
}
