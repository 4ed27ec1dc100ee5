/**
 * Every JSON document the CLI prints (--status, --dry-run, --last-run, --list, --versions, --graph and each
 * event line of a run) carries `version`, the shape's version, raised on an incompatible change, and `kind`,
 * so a script can check what it reads before it relies on it.
 */
export const jsonShapeVersion = 1;

export type JsonKind = 'status' | 'plan' | 'run' | 'tasks' | 'versions' | 'graph' | 'task' | 'event';

export function jsonDocument(kind: JsonKind, body: Readonly<Record<string, unknown>>, indent = 2): string {
  return `${JSON.stringify({ version: jsonShapeVersion, kind, ...body }, null, indent)}\n`;
}
