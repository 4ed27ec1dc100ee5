import { ExitCode } from '../../failures.js';
import { failureModes } from '../../scheduler/run-graph.js';
import { completionScript } from '../completion-scripts.js';
import { completionShells, optionSpec, outputFormats, parseCommandLine } from '../parse-args.js';
import { environmentNameOf, type Project } from '../project.js';
import { environmentConfiguration, selectGraph, type Invocation, type Io } from '../session.js';

/** `--completion SHELL`: the script that completes `tsx deploy.ts ...` in that shell. */
export function showCompletionScript({ io, options }: Invocation): number {
  io.stdout.write(completionScript(options.completionShell!));
  return ExitCode.success;
}

/** What the word after an option is: one of a fixed list, a target, or anything (a file, a number). */
const optionValues: Partial<Record<keyof typeof optionSpec, readonly string[] | 'environments' | 'targets'>> = {
  env: 'environments',
  format: outputFormats,
  output: ['auto', 'live', 'interleaved', 'group'],
  'on-failure': failureModes,
  completion: completionShells,
  force: 'targets',
  skip: 'targets',
  only: 'targets',
  reset: 'targets',
  summary: 'targets',
};

const shortOptions = new Map<string, string>(Object.entries(optionSpec).flatMap(([name, spec]) => ('short' in spec ? [[`-${spec.short}`, name] as const] : [])));

/** The long name of an option word (`--env`, `-e`), if it is one that takes a value. */
function valueOption(word: string): keyof typeof optionSpec | undefined {
  const name = word.startsWith('--') ? word.slice(2) : shortOptions.get(word);
  if (!name || !Object.hasOwn(optionSpec, name)) return undefined;
  const spec = optionSpec[name as keyof typeof optionSpec];
  return spec.type === 'string' ? (name as keyof typeof optionSpec) : undefined;
}

/**
 * `--complete -- WORD...`, called by the completion scripts: the words typed after deploy.ts, the last one
 * being completed (empty after a space). Prints the candidates that start with it, one per line: option
 * names, an option's values (environments, formats, modes), or the targets of the environment the words
 * choose (--env, else DEPLOY_ENV, else the project's default): tasks, the instances of parameterised tasks,
 * and `name[` for tasks named with free inputs. Nothing, for a file or a number: the shell completes files.
 */
export async function printCompletions(project: Project<unknown>, words: readonly string[], io: Io): Promise<number> {
  const current = words.at(-1) ?? '';
  const previous = words.at(-2);
  let prefix = '';
  let kind: readonly string[] | 'environments' | 'targets' | 'options' | undefined;
  const attached = /^(--[^=]+)=(.*)$/.exec(current);
  if (attached) {
    const option = valueOption(attached[1]!);
    kind = option ? optionValues[option] : undefined;
    prefix = `${attached[1]}=`;
  } else if (current.startsWith('-')) kind = 'options';
  else if (previous !== undefined && valueOption(previous)) kind = optionValues[valueOption(previous)!];
  else kind = 'targets';
  if (kind === undefined) return ExitCode.success;
  const typed = current.slice(prefix.length);
  const candidates =
    kind === 'options' ? Object.keys(optionSpec).map((name) => `--${name}`)
    : kind === 'environments' ? Object.keys(project.environments)
    : kind === 'targets' ? await targetNames(project, environmentOf(words), io)
    : kind;
  const matching = [...new Set(candidates)].filter((candidate) => candidate.startsWith(typed)).sort();
  if (matching.length > 0) io.stdout.write(`${matching.map((candidate) => prefix + candidate).join('\n')}\n`);
  return ExitCode.success;
}

/** The environment the words name, as the command itself would choose it. */
function environmentOf(words: readonly string[]): string | undefined {
  let environment: string | undefined;
  words.forEach((word, index) => {
    if ((word === '--env' || word === '-e') && index + 1 < words.length - 1) environment = words[index + 1];
    else if (word.startsWith('--env=')) environment = word.slice('--env='.length);
  });
  return environment;
}

/** Every target a user can type in that environment; none if it does not load (its error shows when run). */
async function targetNames(project: Project<unknown>, environment: string | undefined, io: Io): Promise<string[]> {
  const name = environmentNameOf(environment, project.defaultEnvironment);
  const parsed = parseCommandLine(['--list', '--env', Object.hasOwn(project.environments, name) ? name : project.defaultEnvironment]);
  if (!parsed.ok) return [];
  const quiet: Io = { stdout: io.stdout, stderr: { write: () => true } as unknown as Io['stderr'] };
  const invocation: Invocation = { project, options: parsed.value, io: quiet };
  const config = await environmentConfiguration(invocation);
  const graphs = config.ok ? selectGraph(invocation, config.value.config, config.value.deployed) : undefined;
  if (!graphs?.ok) return [];
  const names: string[] = [];
  for (const definition of graphs.value.all.definitions.values()) {
    if (!definition.spec.inputs || Object.keys(definition.spec.inputs).length === 0) names.push(definition.name);
    else if (definition.spec.commandLineInputs) names.push(`${definition.name}[`);
  }
  for (const node of graphs.value.all.nodes.values()) if (node.instance.id !== node.instance.definition.name) names.push(node.instance.id);
  return names;
}
