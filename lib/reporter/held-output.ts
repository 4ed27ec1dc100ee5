import fs from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createScratchDirectory } from '../state/scratch-directory.js';

/** Up to this many characters of a task's held output stay in memory; the rest goes to a private file. */
const inMemoryChars = 1024 * 1024;
const readChunkBytes = 64 * 1024;

/**
 * The console lines of one task, held back until it ends (`--output group`). A task can print gigabytes
 * (a verbose playbook); past a MiB its lines go to a private file (0600, in a scratch directory) and are
 * read back when released, so holding them costs no memory. Should the file fail (a full disk), the lines
 * stay in memory: the console still gets them all.
 */
export class HeldOutput {
  private lines: string[] = [];
  private chars = 0;
  private spill: { readonly directory: string; readonly descriptor: number } | undefined;
  private spillFailed = false;

  add(line: string): void {
    this.lines.push(line);
    this.chars += line.length + 1;
    if (this.chars > inMemoryChars && !this.spillFailed) this.moveToFile();
  }

  /** Hands every held line, in order, to `write` (in pieces), then forgets them and removes the file. */
  release(write: (text: string) => void): void {
    if (!this.spill) {
      if (this.lines.length > 0) write(`${this.lines.join('\n')}\n`);
      this.lines = [];
      return;
    }
    const { directory, descriptor } = this.spill;
    this.spill = undefined;
    try {
      this.moveLinesTo(descriptor);
      const decoder = new StringDecoder('utf8');
      const buffer = Buffer.alloc(readChunkBytes);
      for (let position = 0; ; ) {
        const read = fs.readSync(descriptor, buffer, 0, buffer.length, position);
        if (read === 0) break;
        position += read;
        write(decoder.write(buffer.subarray(0, read)));
      }
      const rest = decoder.end();
      if (rest) write(rest);
    } finally {
      fs.closeSync(descriptor);
      fs.rmSync(directory, { recursive: true, force: true });
    }
  }

  private moveToFile(): void {
    try {
      if (!this.spill) {
        const directory = createScratchDirectory('output');
        this.spill = { directory, descriptor: fs.openSync(path.join(directory, 'held-output.txt'), 'w+', 0o600) };
      }
      this.moveLinesTo(this.spill.descriptor);
    } catch {
      this.spillFailed = true;
    }
  }

  private moveLinesTo(descriptor: number): void {
    if (this.lines.length === 0) return;
    fs.writeSync(descriptor, `${this.lines.join('\n')}\n`);
    this.lines = [];
    this.chars = 0;
  }
}
