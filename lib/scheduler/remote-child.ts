import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import type { ProgramExit } from '../dsl/context.js';
import type { AttachedProgram } from './spawn-service.js';

/**
 * A program a spawner process started, seen as the part of a ChildProcess that zx uses: `stdout` and
 * `stderr` streams of bytes, a writable `stdin`, the events 'spawn', 'exit', 'close' and 'error', `pid`,
 * `exitCode`, `signalCode` and `kill()`. As with a ChildProcess, 'close' follows 'exit' once both output
 * streams have ended, a failed start emits 'error' and then 'close', and stdin is destroyed at exit.
 *
 * One difference: `pid` is known when the spawner reports the start (well under a millisecond later),
 * not when spawn() returns. A kill() before then is delivered at the start.
 */
export class RemoteChildProcess extends EventEmitter {
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  readonly connected = false;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin: Writable;
  readonly stdio: readonly [Writable, PassThrough, PassThrough];
  private program: AttachedProgram | undefined;
  private signalAtStart: NodeJS.Signals | number | undefined;
  private readonly abortSignal: AbortSignal | undefined;
  private readonly killSignal: NodeJS.Signals | number;
  private readonly onAbort = () => this.kill(this.killSignal);

  constructor(
    readonly spawnfile: string,
    readonly spawnargs: readonly string[],
    options: { readonly signal?: AbortSignal | undefined; readonly killSignal?: NodeJS.Signals | number | undefined } = {},
  ) {
    super();
    this.killSignal = options.killSignal ?? 'SIGTERM';
    this.stdin = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.program?.writeStdin(chunk);
        done();
      },
      final: (done) => {
        this.program?.endStdin();
        done();
      },
    });
    // Like a pipe to a program that has exited: a late write is dropped, not an error of the caller's.
    this.stdin.on('error', () => undefined);
    this.stdio = [this.stdin, this.stdout, this.stderr];
    this.abortSignal = options.signal;
  }

  /** Connects the program's standard input, and reports its end when it comes. */
  attach(program: AttachedProgram): void {
    this.program = program;
    if (this.abortSignal?.aborted) this.signalAtStart = this.killSignal;
    else this.abortSignal?.addEventListener('abort', this.onAbort, { once: true });
    void program.exit.then((exit) => this.ended(exit));
  }

  /** The spawner started it as process group `pid`. */
  started(pid: number): void {
    this.pid = pid;
    this.emit('spawn');
    if (this.signalAtStart !== undefined) this.kill(this.signalAtStart);
  }

  /** Output from the spawner: bytes carried as latin1 text. */
  output(stream: 'stdout' | 'stderr', chunk: string): void {
    this[stream].write(Buffer.from(chunk, 'latin1'));
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exitCode !== null || this.signalCode !== null) return false;
    if (this.pid === undefined) {
      this.signalAtStart = signal;
      return true;
    }
    try {
      process.kill(this.pid, signal);
      this.killed = true;
      return true;
    } catch {
      return false;
    }
  }

  ref(): void {}

  unref(): void {}

  private ended(exit: ProgramExit): void {
    this.abortSignal?.removeEventListener('abort', this.onAbort);
    this.stdin.destroy();
    if ('startError' in exit) {
      const { code, message } = exit.startError;
      this.emit('error', Object.assign(new Error(`spawn ${this.spawnfile}: ${message}`), { code, syscall: 'spawn', path: this.spawnfile }));
    } else {
      this.exitCode = exit.exitCode;
      this.signalCode = exit.signal;
      this.emit('exit', exit.exitCode, exit.signal);
    }
    const streams = [this.stdout, this.stderr];
    let open = streams.length;
    const closeWhenDrained = () => {
      if (--open === 0) this.emit('close', this.exitCode, this.signalCode);
    };
    for (const stream of streams) {
      // A stream nobody reads never ends; like a ChildProcess, 'close' does not wait for it.
      if (stream.readableFlowing) stream.once('end', closeWhenDrained);
      else setImmediate(closeWhenDrained);
      stream.end();
    }
  }
}
