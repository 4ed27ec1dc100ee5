import type { TaskId } from '../dsl/ids.js';
import type { EngineEvent, OutputStream } from './events.js';
import type { Redactor } from './redactor.js';

/** Longer than any line a person reads: output without newlines (binary data) is sent on in pieces. */
const longestLine = 64 * 1024;

/**
 * Splits a task's output chunks into redacted lines and emits one event per line, as the output arrives.
 * As on a terminal, a carriage return inside a line goes back to its start, so a progress meter drawn with
 * `\r` (curl's) leaves its last state, not every update; `\r\n` ends a line like `\n`.
 */
export class TaskOutput {
  private readonly partial: Record<OutputStream, string> = { stdout: '', stderr: '', log: '' };
  private readonly recent: string[] = [];

  constructor(
    private readonly task: TaskId,
    private readonly emit: (event: EngineEvent) => void,
    private readonly redactor: Redactor,
  ) {}

  write(stream: OutputStream, chunk: string): void {
    // Only the new chunk is searched: re-splitting what is pending made a long line quadratic.
    let pending = this.partial[stream];
    let start = 0;
    for (let newline = chunk.indexOf('\n'); newline !== -1; newline = chunk.indexOf('\n', start)) {
      this.line(stream, pending + chunk.slice(start, newline));
      pending = '';
      start = newline + 1;
    }
    pending = overwritten(pending + chunk.slice(start));
    while (pending.length > longestLine) {
      // Kept back: room for a secret that has only begun to arrive.
      const at = Math.min(longestLine, pending.length - this.redactor.longestSecret);
      const cut = this.redactor.safeCut(pending, at);
      if (cut <= 0) break;
      this.line(stream, pending.slice(0, cut));
      pending = pending.slice(cut);
    }
    this.partial[stream] = pending;
  }

  flush(): void {
    this.flushStream('stdout');
    this.flushStream('stderr');
    this.flushStream('log');
  }

  private flushStream(stream: OutputStream): void {
    if (this.partial[stream] === '') return;
    this.line(stream, this.partial[stream]);
    this.partial[stream] = '';
  }

  /** The last lines of output, for failure messages. */
  tail(lines = 20): string {
    return this.recent.slice(-lines).join('\n');
  }

  private line(stream: OutputStream, raw: string): void {
    const line = this.redactor.redact(overwritten(raw.endsWith('\r') ? raw.slice(0, -1) : raw));
    this.recent.push(line);
    if (this.recent.length > 50) this.recent.shift();
    this.emit({ type: 'task-output', task: this.task, stream, line });
  }
}

/** What a terminal shows of a line with carriage returns: the text after the last one (a trailing one stays: it may be half of `\r\n`). */
function overwritten(text: string): string {
  const lastReturn = text.lastIndexOf('\r', text.length - 2);
  return lastReturn === -1 ? text : text.slice(lastReturn + 1);
}
