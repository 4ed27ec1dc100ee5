import type { Writable } from 'node:stream';

/**
 * Collects the lines a reporter writes during one turn of the event loop and writes them as one chunk
 * right after it (or at once past 64 KiB): a run that skips 2000 up-to-date tasks makes one write, not 2000,
 * and output still appears as it happens. flush() writes whatever is waiting; reporters call it on close.
 */
export class LineWriter {
  private pending: string[] = [];
  private size = 0;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly out: Writable) {}

  write(text: string): void {
    this.pending.push(text);
    this.size += text.length;
    if (this.size >= 64 * 1024) this.flush();
    else this.scheduled ??= setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.size = 0;
    this.out.write(text);
  }
}
