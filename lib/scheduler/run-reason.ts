import { unreachable } from '../failures.js';
import { formatConfigPath } from '../stamps/config-path.js';
import { isUnset } from '../stamps/config-reads.js';
import type { Change } from '../stamps/fingerprint.js';
import type { RunReason, SkipReason } from '../state/run-record.js';

export function describeRunReason(reason: RunReason): string {
  switch (reason.kind) {
    case 'no-stamp':
      return reason.lastOutcome ? `no stamp (last run ${reason.lastOutcome})` : 'no stamp';
    case 'forced':
      return 'forced';
    case 'always':
      return 'always runs';
    case 'drift':
      return `drift: ${reason.detail}`;
    case 'changed':
      return reason.changes.map(describeChange).join(', ');
    default:
      return unreachable(reason);
  }
}

export function describeChange(change: Change): string {
  switch (change.component) {
    case 'task':
      return 'task renamed';
    case 'definition':
      return 'definition changed';
    case 'input':
      return `input ${change.name} changed`;
    case 'source':
      return `source ${change.path} changed`;
    case 'tool':
      return `tool ${change.tool} changed`;
    case 'dependency':
      return `dependency ${change.task} changed`;
    case 'config':
      return describeConfigChange(change);
    default:
      return unreachable(change);
  }
}

/**
 * `config clusters.osdc.workers changed: 1 -> 2 entries (adds osdc-w2)`, `config packages.nodes[1] changed:
 * "a" -> "b"`, `config clusters keys changed (adds osdc-b)`; just `changed` where the stamp kept no value.
 */
function describeConfigChange(change: Extract<Change, { component: 'config' }>): string {
  const keys = change.path.endsWith('#keys');
  const at = keys ? formatConfigPath(change.path) : formatConfigPath(change.path).replace(/\.length$/, '');
  const list = !keys && at !== formatConfigPath(change.path);
  const names = [...(change.added?.length ? [`adds ${change.added.join(', ')}`] : []), ...(change.removed?.length ? [`removes ${change.removed.join(', ')}`] : [])];
  if (keys && Array.isArray(change.before) && Array.isArray(change.after)) {
    const before = change.before as unknown[];
    const after = change.after as unknown[];
    const gained = after.filter((key) => !before.includes(key));
    const lost = before.filter((key) => !after.includes(key));
    const detail = [...(gained.length ? [`adds ${gained.join(', ')}`] : []), ...(lost.length ? [`removes ${lost.join(', ')}`] : [])];
    return `config ${at} keys changed${detail.length ? ` (${detail.join('; ')})` : ''}`;
  }
  if (change.before === undefined || change.after === undefined) return `config ${at}${keys ? ' keys' : ''} changed`;
  if (list) return `config ${at} changed: ${String(change.before)} -> ${String(change.after)} entries${names.length ? ` (${names.join('; ')})` : ''}`;
  return `config ${at} changed: ${shortJson(change.before)} -> ${shortJson(change.after)}`;
}

function shortJson(value: unknown): string {
  if (isUnset(value)) return 'not set';
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

export function describeSkipReason(reason: SkipReason): string {
  switch (reason.kind) {
    case 'fresh':
      return 'up to date';
    case 'skipped-by-user':
      return 'skipped (--skip)';
    case 'assumed-done':
      return 'assumed done (--only)';
    case 'not-applicable':
      return `not applicable: ${reason.detail}`;
    default:
      return unreachable(reason);
  }
}

export type { RunReason, SkipReason };
