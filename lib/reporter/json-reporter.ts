import type { Writable } from 'node:stream';
import { LineWriter } from './line-writer.js';
import type { Reporter } from './reporter.js';

/** `--json`: one engine event per line, exactly as the engine emitted it (see README, "JSON events"). */
export class JsonReporter implements Reporter {
  private readonly out: LineWriter;

  constructor(out: Writable) {
    this.out = new LineWriter(out);
  }

  handle(event: Parameters<Reporter['handle']>[0]): void {
    this.out.write(`${JSON.stringify(event)}\n`);
  }

  close(): void {
    this.out.flush();
  }
}
