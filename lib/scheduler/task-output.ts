import type { TaskId } from '../dsl/ids.js';
import type { EngineEvent, OutputStream } from './events.js';
import type { Redactor } from './redactor.js';

/** Splits a task's output chunks into redacted lines and emits one event per line, as the output arrives. */
export class TaskOutput {
  private readonly partial: Record<OutputStream, string> = { stdout: '', stderr: '', log: '' };
  private readonly recent: string[] = [];

  constructor(
    private readonly task: TaskId,
    private readonly emit: (event: EngineEvent) => void,
    private readonly redactor: Redactor,
  ) {}

  write(stream: OutputStream, chunk: string): void {
    const text = this.partial[stream] + chunk;
    const lines = text.split(/\r?\n/);
    this.partial[stream] = lines.pop()!;
    for (const line of lines) this.line(stream, line);
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
    const line = this.redactor.redact(raw);
    this.recent.push(line);
    if (this.recent.length > 50) this.recent.shift();
    this.emit({ type: 'task-output', task: this.task, stream, line });
  }
}
