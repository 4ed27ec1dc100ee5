import type { ChildProcess } from 'node:child_process';
import type { ProgramExit } from '../dsl/context.js';

export interface StartRequest {
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Written to standard input, which is then closed; without it, stdin is /dev/null. */
  readonly input?: string;
  /** 'pipe': standard input stays open for the caller to write to and end (input is ignored). */
  readonly stdin?: 'pipe';
  /**
   * How output chunks are decoded: 'utf8' (the default) for text, 'latin1' to carry bytes unchanged (one
   * character per byte; Buffer.from(chunk, 'latin1') restores them).
   */
  readonly encoding?: 'utf8' | 'latin1';
}

export interface StartHandlers {
  /** The program runs as the leader of process group `pid`. */
  started(pid: number): void;
  stdout(chunk: string): void;
  stderr(chunk: string): void;
  /** Once: how it ended, or why it could not start. */
  exit(exit: ProgramExit): void;
}

/** Starts one program as the leader of its own process group; undefined when it could not start. */
export function startProgram(request: StartRequest, handlers: StartHandlers): ChildProcess | undefined;
