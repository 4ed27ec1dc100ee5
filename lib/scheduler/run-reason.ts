import { unreachable } from '../failures.js';
import { formatConfigPath } from '../stamps/config-path.js';
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
      return `config ${formatConfigPath(change.path)}${change.path.endsWith('#keys') ? ' keys' : ''} changed`;
    default:
      return unreachable(change);
  }
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
