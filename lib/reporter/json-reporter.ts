import type { Writable } from 'node:stream';
import { jsonShapeVersion } from '../dsl/json-document.js';
import { LineWriter } from './line-writer.js';
import type { Reporter } from './reporter.js';

/** `--json`: one engine event per line, as the engine emitted it with the shape's `version` (see README, "JSON events"). */
export class JsonReporter implements Reporter {
  private readonly out: LineWriter;

  constructor(out: Writable) {
    this.out = new LineWriter(out);
  }

  handle(event: Parameters<Reporter['handle']>[0]): void {
    this.out.write(`${JSON.stringify({ version: jsonShapeVersion, ...event })}\n`);
  }

  close(): void {
    this.out.flush();
  }
}
