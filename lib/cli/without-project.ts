import type { Writable } from 'node:stream';
import { ExitCode } from '../failures.js';
import { formatRunTable, summarizeRun } from '../reporter/summary.js';
import { readLastRunRecord } from '../state/run-records.js';
import { displayPath } from './console-reporter.js';
import { helpText, type CliOptions } from './parse-args.js';
import { environmentNameOf, environmentPaths, type Project } from './project.js';

type Io = { readonly stdout: Writable; readonly stderr: Writable };

/**
 * The commands that need none of the project's modules: --help, --version, and --summary (the last run's
 * record) when it names no target. Answered before the project loads (~0.3 s through tsx); undefined for
 * every other command.
 */
export async function answerWithoutProject(
  project: Pick<Project, 'root' | 'version' | 'defaultEnvironment'>,
  options: CliOptions,
  io: Io,
): Promise<number | undefined> {
  if (options.container) return undefined;
  if (options.command === 'help') {
    io.stdout.write(`${helpText}\n`);
    return ExitCode.success;
  }
  if (options.command === 'version') {
    io.stdout.write(`onboarder ${project.version ?? '0.0.0'}\n`);
    return ExitCode.success;
  }
  if (options.command === 'summary' && options.targets.length === 0) {
    return showSummary(io, environmentPaths(project.root, environmentNameOf(options.environment, project.defaultEnvironment)), options);
  }
  return undefined;
}

/** `--summary`: the last run's record, each task's outcome and why, and the run's summary. */
export async function showSummary(io: Io, paths: ReturnType<typeof environmentPaths>, options: CliOptions): Promise<number> {
  const record = await readLastRunRecord(paths.stateDirectory);
  if (!record) {
    io.stderr.write('error: no run has been recorded for this environment yet: run a target first\n');
    return ExitCode.usage;
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
    return ExitCode.success;
  }
  io.stdout.write(`run ${record.runId} (${record.environment}: ${record.targets.join(' ')}) ${record.startedAt}\n`);
  io.stdout.write(formatRunTable(record));
  io.stdout.write(`${summarizeRun(record, { logDirectory: displayPath(paths.logDirectory) }).join('\n')}\n`);
  return ExitCode.success;
}
