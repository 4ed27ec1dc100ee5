import { formatLocation } from '../dsl/ids.js';
import { unreachable, type Failure, type ThrownError } from '../failures.js';

/**
 * Something a user typed, as a message shows it: control characters escaped (a newline or a terminal
 * escape would break the one line), and at most 80 characters with how many there were.
 */
export function shown(value: string): string {
  const escaped = JSON.stringify(value).slice(1, -1).replace(/\\"/g, '"');
  return escaped.length <= 80 ? escaped : `${escaped.slice(0, 60)}... (${value.length} characters)`;
}

/** A message with control characters escaped, whole: the value it quotes may hold a newline or an escape. */
function singleLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (character) => JSON.stringify(character).slice(1, -1));
}

/** One line: what is wrong, where, and what to do about it. */
export function renderFailure(failure: Failure): string {
  switch (failure.reason) {
    case 'usage':
      return `${failure.message}: ${failure.hint}`;
    case 'unknown-target':
      return `unknown task '${shown(failure.target)}'${failure.suggestion ? `: did you mean '${failure.suggestion}'?` : ''} (see --list)`;
    case 'task-not-in-catalog':
      return `${formatLocation(failure.definedAt)}: task '${shown(failure.target)}' is defined there but is not in the catalog: export it from its module (tasks/index.ts loads every module under tasks/ and takes the tasks each exports)`;
    case 'needs-input': {
      const listed = failure.instances.slice(0, 10).join(', ') + (failure.instances.length > 10 ? ` and ${failure.instances.length - 10} more` : '');
      const which = failure.inputs.length === 1 ? `its input ${failure.inputs[0]}` : `its inputs ${failure.inputs.join(', ')}`;
      return `task '${shown(failure.task)}' needs ${which}: name one instance, ${listed} (see --list)`;
    }
    case 'cycle': {
      const sites = failure.path.slice(0, -1).map((id, index) => `${id} at ${formatLocation(failure.locations[index]!)}`);
      return `${formatLocation(failure.locations[0]!)}: dependency cycle ${failure.path.join(' -> ')}: remove one of these dependencies (${sites.join(', ')})`;
    }
    case 'duplicate-task':
      return `${formatLocation(failure.second)}: task '${failure.name}' is defined twice (first at ${formatLocation(failure.first)}): rename one of them`;
    case 'invalid-definition':
      return `${formatLocation(failure.location)}: ${failure.message}: ${failure.hint}`;
    case 'unknown-environment':
      return `unknown environment '${shown(failure.name)}': choose one of ${failure.known.join(', ')} with --env or DEPLOY_ENV`;
    case 'invalid-environment':
      return `environment ${failure.environment}: ${failure.path}: ${singleLine(failure.message)}: ${failure.hint}`;
    case 'state-corrupt':
      return `state file ${failure.file} is ${failure.detail}: it was left untouched; repair it, move it away, or run --reset-state`;
    case 'unusable-path':
      return `cannot use ${failure.path} for ${failure.purpose}: ${describePathError(failure.code)}`;
    case 'state-unreachable':
      return `the state at ${failure.location} cannot be used: ${failure.detail}: check the URL in the environment's state settings and that the database answers`;
    case 'state-locked':
      return `another run holds ${failure.file} (pid ${failure.pid} on ${failure.host}, started ${failure.startedAt}): wait for it to finish, or stop it`;
    case 'project-load-failed': {
      if (failure.thrown.hint) return `${where(failure.thrown)}${failure.thrown.message}: ${failure.thrown.hint}`;
      const hint = failure.circular ? 'modules import each other in a circle: reach a task of the other module with a thunk, deps: [() => task]' : 'fix that module';
      return `${where(failure.thrown)}loading the project threw ${failure.thrown.name}: ${failure.thrown.message}: ${hint}`;
    }
    case 'project-never-loaded':
      return 'the project never finished loading: a module awaits, at its top level, a promise that never settles (no timer, process or I/O is left to settle it): find the top-level await in the task or environment modules';
    case 'invalid-catalog':
      return `the catalog deploy.ts passes to runCli ${failure.detail}: pass an array of the tasks (or their instances) to deploy, e.g. export const catalog = [osdc, osms]`;
    case 'not-confirmed':
      return failure.destroys
        ? `this run destroys or replaces what is deployed (${failure.destroys}): it needs confirmation: answer y, or pass --yes`
        : `${failure.option} needs confirmation: answer y, or pass --yes`;
    case 'plan-unreadable':
      return `${shown(failure.file)} is not a plan saved by --dry-run --out (${failure.detail}): make one with \`tsx deploy.ts <targets> --dry-run --out ${shown(failure.file)}\``;
    case 'plan-outdated':
      return `the plan ${shown(failure.file)} is out of date: ${failure.differences.join('; ')}: review a new one (--dry-run --out) and apply that`;
    case 'no-run-recorded':
      return `no run has been recorded for this environment yet: run a target first (environment ${failure.environment})`;
    case 'escaped-exception':
      return `${where(failure.thrown)}an exception escaped the tasks (thrown in a callback, or a promise nobody awaited): ${failure.thrown.name}: ${failure.thrown.message}: the run stops; catch it in the task, or await the promise`;
    case 'internal-error':
      return `internal error: ${failure.thrown.message}`;
    case 'state-unwritable':
      return `${describeWriteError(failure.code)} while writing ${failure.file} (recording ${failure.what}): the run stopped; what finished before is recorded. Fix that, then run again`;
    case 'no-dry-run':
      return `${failure.task}: its body does not declare supportsDryRun, so it is not walked`;
    case 'exit-non-zero': {
      const how = failure.exitCode !== null ? `exit code ${failure.exitCode}` : `signal ${failure.signal}`;
      const explanation = failure.explanation ? `: ${failure.explanation}` : '';
      return `${failure.task}: command failed with ${how}: ${failure.command}${explanation}`;
    }
    case 'task-threw':
      return `${failure.task}: ${failure.message}${failure.location ? ` (at ${formatLocation(failure.location)})` : ''}`;
    case 'timeout':
      return `${failure.task}: timed out after ${formatDuration(failure.afterMs)}; its processes were stopped: raise its timeout if it needs longer`;
    case 'check-failed':
      return `${failure.task}: drift check failed: ${failure.message}`;
    case 'source-missing':
      return `${failure.task}: source '${failure.path}' does not exist: create it or fix the task's sources`;
    case 'interrupted':
      return `${failure.task}: interrupted`;
    case 'never-settled':
      return `${failure.task}: its run is waiting on a promise that nothing can settle (no timer, process or I/O is left to wake it): a missing resolve, or a callback never called?`;
    default:
      return unreachable(failure);
  }
}

/** `file:line: ` where the project threw it (with the column for a syntax error), or nothing. */
function where(thrown: ThrownError): string {
  if (!thrown.location) return '';
  return thrown.name === 'SyntaxError' ? `${formatLocation(thrown.location)}:${thrown.location.column}: ` : `${formatLocation(thrown.location)}: `;
}

/** The stack trace a failure carries, shown under --verbose; undefined for failures without one. */
export function stackOf(failure: Failure): string | undefined {
  return 'thrown' in failure ? failure.thrown.stack : 'stack' in failure ? failure.stack : undefined;
}

/** A write's error in words: `no space left on device (ENOSPC)`. */
function describeWriteError(code: string): string {
  const words: Record<string, string> = { ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded', EROFS: 'read-only file system', EACCES: 'permission denied', EPERM: 'operation not permitted', EIO: 'input/output error' };
  return words[code] ? `${words[code]} (${code})` : code;
}

/** What a file system error says about a path, and what to do about it. */
function describePathError(code: string): string {
  switch (code) {
    case 'ENOTDIR':
      return 'part of that path is a file, not a directory (ENOTDIR): move the file away';
    case 'EEXIST':
    case 'EISDIR':
      return `something else is in its place (${code}): move it away`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code}): another user owns it (a run with sudo?): give it back with \`sudo chown -R "$(id -un)" .cache\`, or run as its owner`;
    case 'EROFS':
      return 'the file system is read-only (EROFS): run from a writable copy of the project';
    case 'ENOSPC':
    case 'EDQUOT':
      return `no space left (${code}): free some space`;
    default:
      return `${code}: fix or move that path`;
  }
}

/** `850ms`, `12.3s`, `4m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
