import { locationInProject } from '../dsl/call-site.js';
import type { ThrownError } from '../failures.js';
import type { Redactor } from '../scheduler/redactor.js';

/** An exception as a failure keeps it: its message, where in the project it was thrown, its stack. */
export function thrownError(error: unknown): ThrownError {
  const thrown = error instanceof Error ? error : new Error(String(error));
  const location = locationInProject(thrown.stack);
  return { name: thrown.name, message: thrown.message, ...(location ? { location } : {}), ...(thrown.stack ? { stack: thrown.stack } : {}) };
}

/** Whether a module failed to load because it reached an import of a module still loading. */
export function isCircularImport(error: unknown): boolean {
  return error instanceof ReferenceError && /before initialization/.test(error.message);
}

/**
 * deploy.ts imports the CLI first, then the project's task and environment modules. An exception before
 * the CLI starts is one of those modules failing to load (a task file that throws at import, a circular
 * import that reaches a value before it is defined): `report` gets it, and the process ends with its code.
 * Returns the function that ends this once the CLI starts.
 */
export function catchProjectLoadFailures(report: (error: unknown) => number): () => void {
  const onFailure = (error: unknown) => process.exit(report(error));
  process.on('uncaughtException', onFailure);
  return () => process.off('uncaughtException', onFailure);
}

/**
 * An exception that escaped every task (thrown in a callback, a rejected promise nobody awaited) would end
 * the process on the spot, its tasks' processes orphaned and no record written: `onEscaped` gets the first
 * (redacted), and the caller stops the run in order.
 */
export function catchEscapes(redactor: Redactor, onEscaped: (thrown: ThrownError) => void): { escaped(): boolean; stop(): void } {
  let escaped = false;
  const listener = (error: unknown) => {
    if (escaped) return;
    escaped = true;
    onEscaped(redactor.redactValue(thrownError(error)));
  };
  process.on('uncaughtException', listener);
  process.on('unhandledRejection', listener);
  return {
    escaped: () => escaped,
    stop: () => {
      process.off('uncaughtException', listener);
      process.off('unhandledRejection', listener);
    },
  };
}
