/** Identity of one graph node: a task name plus its canonical inputs, e.g. `deploy-cluster[cluster=osdc]`. */
export type TaskId = string & { readonly __brand: 'TaskId' };

/** A sha256 digest (hex) of everything that decides a task's result. */
export type Fingerprint = string & { readonly __brand: 'Fingerprint' };

/** Where a task was defined, for error messages. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export function formatLocation(location: SourceLocation): string {
  return `${location.file}:${location.line}`;
}
