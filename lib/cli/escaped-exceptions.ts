import path from 'node:path';
import { locationInProject } from '../dsl/call-site.js';
import { TaskDefinitionError } from '../dsl/task.js';
import type { ThrownError } from '../failures.js';
import type { Redactor } from '../scheduler/redactor.js';

/** esbuild's (tsx's compiler's) report of a syntax error: `/abs/tasks.ts:212:23: ERROR: Expected ...`. */
const compileErrorPattern = /^(\/[^\n:]+):(\d+):(\d+): ERROR: (.*)$/m;

/**
 * An exception as a failure keeps it: its message, where in the project it was thrown, its stack. A syntax
 * error in a project module is named by its file:line:column and esbuild's first message. A value that is
 * not an Error (`throw 'text'`) has no stack: no place is named rather than a wrong one.
 */
export function thrownError(error: unknown): ThrownError {
  if (!(error instanceof Error)) return { name: 'a value that is not an Error', message: String(error) };
  const compile = compileErrorPattern.exec(error.message);
  if (compile) {
    const location = { file: path.relative(process.cwd(), compile[1]!) || compile[1]!, line: Number(compile[2]), column: Number(compile[3]) };
    return { name: 'SyntaxError', message: compile[4]!, location, ...(error.stack ? { stack: error.stack } : {}) };
  }
  if (error instanceof TaskDefinitionError) return { name: error.name, message: error.message, location: error.location, hint: error.hint, ...(error.stack ? { stack: error.stack } : {}) };
  const location = locationInProject(error.stack);
  return { name: error.name, message: error.message.split('\n')[0]!, ...(location ? { location } : {}), ...(error.stack ? { stack: error.stack } : {}) };
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
export function catchProjectLoadFailures(report: (error: unknown) => number, reportNeverSettled: () => number): () => void {
  let reported = false;
  const onFailure = (error: unknown) => {
    reported = true;
    process.exit(report(error));
  };
  // The process ends before the CLI started and nothing was reported: the event loop emptied while a
  // module's top-level await was pending (Node 20 then exits with 13 and says nothing).
  const onExit = () => {
    if (!reported) process.exit(reportNeverSettled());
  };
  process.on('uncaughtException', onFailure);
  process.on('exit', onExit);
  return () => {
    process.off('uncaughtException', onFailure);
    process.off('exit', onExit);
  };
}

/**
 * An exception that escaped every task (thrown in a callback, a rejected promise nobody awaited) would end
 * the process on the spot, its tasks' processes orphaned and no record written: `onEscaped` gets the first
 * (redacted), and the caller stops the run in order.
 */
export function catchEscapes(redactor: Redactor, onEscaped: (thrown: ThrownError) => void): { stop(): void } {
  let escaped = false;
  const listener = (error: unknown) => {
    if (escaped) return;
    escaped = true;
    onEscaped(redactor.redactValue(thrownError(error)));
  };
  process.on('uncaughtException', listener);
  process.on('unhandledRejection', listener);
  return {
    stop: () => {
      process.off('uncaughtException', listener);
      process.off('unhandledRejection', listener);
    },
  };
}
