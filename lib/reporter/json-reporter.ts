import type { Writable } from 'node:stream';
import type { Reporter } from './reporter.js';

/** `--json`: one engine event per line, exactly as the engine emitted it (see README, "JSON events"). */
export class JsonReporter implements Reporter {
  constructor(private readonly out: Writable) {}

  handle(event: Parameters<Reporter['handle']>[0]): void {
    this.out.write(`${JSON.stringify(event)}\n`);
  }

  close(): void {}
}
