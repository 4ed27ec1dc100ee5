import { parseArgs } from 'node:util';
import { graphFormats } from '../graph/format-graph.js';
import { suggestName } from '../graph/suggest.js';
import { shown } from '../reporter/render-failure.js';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import type { OutputMode } from '../reporter/plain-reporter.js';
import { failureModes, type FailureMode } from '../scheduler/run-graph.js';

/** What --format accepts: the graph's formats, and a self-contained HTML page (--graph, --dry-run). */
export const outputFormats = [...graphFormats, 'html'] as const;
export type OutputFormat = (typeof outputFormats)[number];

export const completionShells = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof completionShells)[number];

export type Command = 'run' | 'help' | 'completion' | 'version' | 'versions' | 'list' | 'graph' | 'status' | 'summary' | 'last-run' | 'dry-run' | 'apply' | 'reset' | 'reset-state';

export interface CliOptions {
  readonly command: Command;
  readonly targets: readonly string[];
  readonly environment: string | undefined;
  /** --graph's format; `html` also for --dry-run (the plan as a page). */
  readonly format: OutputFormat;
  readonly json: boolean;
  /** `--detailed-exitcode` (with --dry-run or --status): 0 up to date, 2 something would run, 1 an error. */
  readonly detailedExitcode: boolean;
  /** `--dry-run --out FILE`: the plan saved for review; `--apply FILE`: that plan run as it is. */
  readonly planFile: string | undefined;
  readonly force: readonly string[];
  readonly forceAll: boolean;
  readonly reset: readonly string[];
  readonly skip: readonly string[];
  /** `--skip-phases`: skipped too, named as the Python runner's phases were (see resolvePhase). */
  readonly skipPhases: readonly string[];
  readonly only: readonly string[];
  readonly concurrency: number | undefined;
  /** What a failed task does to the rest of the run (--on-failure; -k is `continue`). */
  readonly onFailure: FailureMode;
  readonly timeoutMs: number | undefined;
  readonly output: OutputMode | 'live' | 'auto';
  readonly verbose: boolean;
  /** `--no-color`, or NO_COLOR in the environment (which `sudo` drops unless given -E). */
  readonly noColor: boolean;
  readonly yes: boolean;
  /** `--completion SHELL`: the completion script for bash, zsh or fish. */
  readonly completionShell: CompletionShell | undefined;
  /** Run this command inside the Onboarder image (`--container`), building it first when missing or asked. */
  readonly container: { readonly build: 'if-missing' | 'always'; readonly save: boolean } | undefined;
}

/** Every option; the completion scripts offer the same list (see completionCandidates). */
export const optionSpec = {
  help: { type: 'boolean', short: 'h' },
  completion: { type: 'string' },
  version: { type: 'boolean', short: 'V' },
  env: { type: 'string', short: 'e' },
  list: { type: 'boolean', short: 'l' },
  graph: { type: 'boolean' },
  format: { type: 'string' },
  status: { type: 'boolean' },
  summary: { type: 'boolean' },
  'last-run': { type: 'boolean' },
  'dry-run': { type: 'boolean', short: 'n' },
  json: { type: 'boolean' },
  'detailed-exitcode': { type: 'boolean' },
  out: { type: 'string' },
  apply: { type: 'string' },
  force: { type: 'string', multiple: true },
  'force-all': { type: 'boolean' },
  // The names the Python phase runner used (see the seeds): the same as --force-all and --skip.
  'force-rebuild': { type: 'boolean' },
  'skip-phases': { type: 'string', multiple: true },
  reset: { type: 'string', multiple: true },
  'reset-state': { type: 'boolean' },
  skip: { type: 'string', multiple: true },
  only: { type: 'string', multiple: true },
  concurrency: { type: 'string', short: 'j' },
  'keep-going': { type: 'boolean', short: 'k' },
  'on-failure': { type: 'string' },
  timeout: { type: 'string' },
  output: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  'no-color': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  versions: { type: 'boolean' },
  container: { type: 'boolean' },
  'container-build': { type: 'boolean' },
  'container-save': { type: 'boolean' },
} as const;

const usage = (message: string, hint = 'see --help'): ConfigurationFailure => ({ reason: 'usage', message, hint });

/**
 * The Python runner took `--skip-phases validation tools_storage`: every word up to the next option is a
 * phase. Read that way here too, so the seed's command skips both instead of running the second.
 */
function phaseListsJoined(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg !== '--skip-phases') {
      joined.push(arg);
      continue;
    }
    const phases: string[] = [];
    while (index + 1 < argv.length && !argv[index + 1]!.startsWith('-')) phases.push(argv[++index]!);
    joined.push(phases.length > 0 ? `--skip-phases=${phases.join(',')}` : arg);
  }
  return joined;
}

/** Parses the command line with node:util parseArgs; lists accept repeats and commas (`--skip a,b`). */
export function parseCommandLine(argv: readonly string[]): Result<CliOptions, ConfigurationFailure> {
  let parsed;
  try {
    parsed = parseArgs({ args: phaseListsJoined(argv), options: optionSpec, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message;
    const flag = /'(-{1,2}[^'\s]+)'/.exec(message)?.[1];
    if (flag && /Unknown option/.test(message)) {
      const suggestion = suggestName(flag.replace(/^-+/, ''), Object.keys(optionSpec));
      return fail(usage(`unknown option '${shown(flag)}'`, suggestion ? `did you mean '--${suggestion}'? (see --help)` : 'see --help'));
    }
    if (flag && /is ambiguous/.test(message)) {
      // parseArgs reads a value that starts with '-' (`-j -1`) as another option.
      const long = /use '(--[^=']+)=/.exec(message)?.[1] ?? flag;
      return fail(usage(`option '${shown(flag)}' is missing its value, or its value starts with '-'`, `write a value starting with '-' as ${long}=<value> (see --help)`));
    }
    return fail(usage(message.split('\n')[0]!.replace(/\.$/, '')));
  }
  const values = parsed.values;
  const list = (items: readonly string[] | undefined) => (items ?? []).flatMap(splitTargets).filter((item) => item !== '');

  const commands: Command[] = [];
  if (values.help) commands.push('help');
  if (values.completion !== undefined) commands.push('completion');
  if (values.version) commands.push('version');
  if (values.versions) commands.push('versions');
  if (values.list) commands.push('list');
  if (values.graph) commands.push('graph');
  if (values.status) commands.push('status');
  if (values.summary) commands.push(parsed.positionals.length > 0 ? 'summary' : 'last-run');
  if (values['last-run']) commands.push('last-run');
  if (values['dry-run']) commands.push('dry-run');
  if (values.apply !== undefined) commands.push('apply');
  if (values.reset) commands.push('reset');
  if (values['reset-state']) commands.push('reset-state');
  if (commands.length > 1 && !commands.includes('help')) {
    return fail(usage(`--${commands[0]} and --${commands[1]} cannot be combined`, 'give one of them'));
  }
  const command: Command = commands.includes('help') ? 'help' : (commands[0] ?? 'run');
  if (command === 'last-run' && values['last-run'] && parsed.positionals.length > 0) {
    return fail(usage(`--last-run takes no target (it shows the whole last run): '${shown(parsed.positionals[0]!)}'`, 'describe a task with --summary TARGET'));
  }

  if (values.completion !== undefined && !(completionShells as readonly string[]).includes(values.completion)) {
    return fail(usage(`--completion '${shown(values.completion)}' is not a shell this knows`, `use one of ${completionShells.join(', ')}, e.g. \`source <(npx tsx deploy.ts --completion bash)\``));
  }
  const format = values.format ?? 'text';
  if (!(outputFormats as readonly string[]).includes(format)) {
    return fail(usage(`--format '${shown(format)}' is not known`, `use one of ${outputFormats.join(', ')}`));
  }
  const output = values.output ?? 'auto';
  if (output !== 'auto' && output !== 'live' && output !== 'interleaved' && output !== 'group') {
    return fail(usage(`--output '${shown(output)}' is not known`, 'use auto, live, interleaved or group'));
  }
  let concurrency: number | undefined;
  if (values.concurrency !== undefined) {
    concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      return fail(usage(`--concurrency '${shown(values.concurrency)}' is not a positive whole number`, 'e.g. --concurrency 4'));
    }
  }
  const onFailure = values['on-failure'] ?? (values['keep-going'] ? 'continue' : 'no-new');
  if (!(failureModes as readonly string[]).includes(onFailure)) {
    return fail(usage(`--on-failure '${shown(onFailure)}' is not known`, `use one of ${failureModes.join(', ')}`));
  }
  if (values['keep-going'] && onFailure !== 'continue') return fail(usage(`--keep-going and --on-failure ${onFailure} cannot be combined`, 'give one of them'));
  const inContainer = values.container || values['container-build'] || values['container-save'];
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(values.timeout);
    if (!match) return fail(usage(`--timeout '${shown(values.timeout)}' is not a duration`, 'e.g. --timeout 600 (seconds), --timeout 10m or --timeout 1h'));
    timeoutMs = Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h' ?? 's'];
  }
  if (values.out !== undefined && command !== 'dry-run') return fail(usage('--out goes with --dry-run (it saves the plan)', 'e.g. `tsx deploy.ts osdc --dry-run --out plan.json`, then `tsx deploy.ts --apply plan.json`'));
  if (command === 'apply' && parsed.positionals.length > 0) {
    return fail(usage(`--apply runs the saved plan's own targets: '${shown(parsed.positionals[0]!)}' is one too many`, 'make a plan of those targets with --dry-run --out'));
  }
  if (values['detailed-exitcode'] && command !== 'dry-run' && command !== 'status') {
    return fail(usage('--detailed-exitcode goes with --dry-run or --status', 'e.g. `tsx deploy.ts osdc --dry-run --detailed-exitcode`: 0 nothing to do, 2 something would run, 1 an error'));
  }
  if (values.json && values.format !== undefined && values.format !== 'json') {
    return fail(usage(`--json and --format ${shown(values.format)} cannot be combined`, 'give one of them (--json is --format json)'));
  }
  const only = list(values.only);
  // `--only X` alone means "run just X": its tasks are the targets.
  const targets = parsed.positionals.length === 0 && command === 'run' ? only : parsed.positionals;
  if (command === 'run' && targets.length === 0 && !inContainer) {
    return fail(usage('no target given', 'name the tasks to run, e.g. `tsx deploy.ts osdc`, or see --list'));
  }
  return ok({
    command,
    targets,
    environment: values.env,
    format: format as OutputFormat,
    json: values.json ?? false,
    detailedExitcode: values['detailed-exitcode'] ?? false,
    planFile: values.out ?? values.apply,
    force: list(values.force),
    forceAll: (values['force-all'] || values['force-rebuild']) ?? false,
    reset: list(values.reset),
    skip: list(values.skip),
    skipPhases: list(values['skip-phases']),
    only,
    concurrency,
    onFailure: onFailure as FailureMode,
    timeoutMs,
    output,
    verbose: values.verbose ?? false,
    noColor: values['no-color'] ?? false,
    yes: values.yes ?? false,
    completionShell: values.completion as CompletionShell | undefined,
    container: inContainer ? { build: values['container-build'] ? 'always' : 'if-missing', save: values['container-save'] ?? false } : undefined,
  });
}

export const helpText = `Usage: tsx deploy.ts [options] <target...>

Runs the targets and every task they need, skipping what is already done.

Targets
  A task by name (osdc, dns, base:copy-ssh-key), or one instance of a task that takes inputs, written
  name[key=value,...]: 'node-prep[node=osdc-a-w1]', 'cluster[name=osdc-b]'. Quote it: the shell reads [...] as
  a pattern. --list shows every task and the instances the environment has; TARGET --help describes one.

Examples
  tsx deploy.ts osdc --dry-run                 what would run for the data-plane clusters, and why
  tsx deploy.ts osdc                           run it; again, and only what changed runs
  tsx deploy.ts 'cluster[name=osdc-b]' -j 4    one cluster by name, at most 4 tasks at once
  tsx deploy.ts --env lab hosts --force dns    another environment; dns runs even if up to date
  tsx deploy.ts osdc --dry-run --out plan.json && tsx deploy.ts --apply plan.json
  source <(tsx deploy.ts --completion bash)    completion of options, targets and instances

Commands (default: run the targets)
  --list, -l              tasks with descriptions, grouped by namespace
  --graph [targets]       the graph; --format text|dot|mermaid|json|html (a page: levels, groups boxed)
  --status [targets]      each task: done, stale (and why), pending or failed; when; how long
  --summary <target>      what a task is: description, inputs, instances, deps, sources, policy, pool,
                          timeout, where it is defined (also <target> --help; --summary alone: --last-run)
  --last-run              the last run's record: each task's outcome and why, the critical path, and
                          its HTML report (every run writes one: a timeline, the graph, each task's log)
  --dry-run, -n <target>  the plan in order, each task with the reason it would run (--json for machines);
                          --out FILE saves it for review; --format html: the plan as a page
  --apply FILE            run exactly a saved plan; refused, naming what changed, if the configuration,
                          the state or the task code changed since
  --reset <task>          forget a task's stamp so it runs again
  --reset-state           forget every stamp of the environment (asks unless --yes)
  --completion SHELL      a completion script for bash, zsh or fish (see Examples)

Options
  --env, -e NAME          environment (default: DEPLOY_ENV, else the project's default)
  --force <task>          run these tasks even if up to date (repeat, or comma-separated)
  --force-all             run every task of the targets (rebuild); also --force-rebuild
  --skip <task>           do not run these tasks; dependents use their last stamp; also --skip-phases
  --only <task>           run just these tasks (the targets, if none given); dependencies assumed done
  --concurrency, -j N     tasks at once (default 10: tasks wait on remote machines, not on this CPU;
                          pools still limit each API; a batch of one task's ready nodes takes one)
  --on-failure MODE       after a task fails: no-new (default: start nothing new, let running tasks
                          finish), continue (run every branch that does not depend on it), kill (stop
                          running tasks too)
  --keep-going, -k        --on-failure continue
  --timeout DURATION      one time limit for every task of this run (600 = seconds, or 10m, 1h; 0: none)
  --output MODE           auto (default: live on a terminal, else interleaved), live, interleaved
                          (prefixed lines), or group (a task's output printed whole when it ends)
  --json                  one JSON event per line (run), or one JSON document (--dry-run, --status, --summary,
                          --last-run, --list, --versions, --graph); each has "version" and "kind"
  --detailed-exitcode     with --dry-run or --status: 0 nothing to do, 2 something would run or is not up to
                          date, 1 an error
  --verbose, -v           stack traces for errors, skipped tasks in plain output
  --no-color              no colour in the live view (as NO_COLOR)
  --yes, -y               do not ask for confirmation (--reset-state; a run that destroys or
                          replaces what is deployed: a worker, a cluster, an etcd restore)
  --versions              versions of node and every tool the tasks use
  --container             run this command inside the Onboarder image (podman, else docker)
  --container-build       rebuild the image first; --container-save saves it to images/ for air-gapped sites
  --help, -h              this help
  --version, -V           the version

Environment variables
  DEPLOY_ENV              the environment when --env is not given
  NO_COLOR                no colour, as --no-color
  ONBOARDER_GRACE_MS      how long a stopped task's programs get after TERM before KILL (default 5000)
  ONBOARDER_CONTAINER_ENGINE, ONBOARDER_CONTAINER_ARGS   the engine --container uses, and extra arguments to it
  and the variables an environment reads its secrets from (see environments/).
  sudo drops them all: use sudo -E, or sudo DEPLOY_ENV=lab ..., or the options.

Exit codes: 0 success, 1 a task failed, 2 usage or configuration error (--detailed-exitcode: 2 changes
pending), 130 interrupted.`;

/**
 * A comma-separated list of targets, split at the commas outside brackets: an instance with two inputs
 * (`etcd-restore[cluster=osdc,snapshot=a.db]`) stays one target.
 */
export function splitTargets(text: string): string[] {
  const targets: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (character === '[') depth++;
    else if (character === ']') depth = Math.max(0, depth - 1);
    else if (character === ',' && depth === 0) {
      targets.push(text.slice(start, index));
      start = index + 1;
    }
  }
  targets.push(text.slice(start));
  return targets;
}
