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
 * read back when released, so holding them costs no memory. Should the file fail (a full disk), what did
 * not reach it and every later line stay in memory: the console still gets them all, in order.
 */
export class HeldOutput {
  private lines: string[] = [];
  private chars = 0;
  private spill: { readonly directory: string; readonly descriptor: number } | undefined;
  /** Bytes that should have gone to the file after the ones it has, when a write failed part-way. */
  private unwritten: Buffer | undefined;

  add(line: string): void {
    this.lines.push(line);
    this.chars += line.length + 1;
    if (this.chars > inMemoryChars && this.unwritten === undefined) this.moveToFile();
  }

  /** Hands every held line, in order, to `write` (in pieces), then forgets them and removes the file. */
  release(write: (text: string) => void): void {
    const decoder = new StringDecoder('utf8');
    if (this.spill) {
      const { directory, descriptor } = this.spill;
      this.spill = undefined;
      try {
        const buffer = Buffer.alloc(readChunkBytes);
        for (let position = 0; ; ) {
          const read = fs.readSync(descriptor, buffer, 0, buffer.length, position);
          if (read === 0) break;
          position += read;
          write(decoder.write(buffer.subarray(0, read)));
        }
      } finally {
        fs.closeSync(descriptor);
        fs.rmSync(directory, { recursive: true, force: true });
      }
    }
    // A failed write may have cut a character in two: its rest is decoded with the bytes before it.
    if (this.unwritten) write(decoder.write(this.unwritten));
    this.unwritten = undefined;
    const rest = decoder.end();
    if (rest) write(rest);
    if (this.lines.length > 0) write(`${this.lines.join('\n')}\n`);
    this.lines = [];
    this.chars = 0;
  }

  private moveToFile(): void {
    const bytes = Buffer.from(`${this.lines.join('\n')}\n`);
    this.lines = [];
    this.chars = 0;
    let written = 0;
    try {
      this.spill ??= openSpillFile();
      while (written < bytes.length) written += fs.writeSync(this.spill.descriptor, bytes, written);
    } catch {
      // From here on everything stays in memory, after what the file has.
      this.unwritten = bytes.subarray(written);
    }
  }
}

function openSpillFile(): { readonly directory: string; readonly descriptor: number } {
  const directory = createScratchDirectory('output');
  try {
    return { directory, descriptor: fs.openSync(path.join(directory, 'held-output.txt'), 'w+', 0o600) };
  } catch (error) {
    fs.rmSync(directory, { recursive: true, force: true });
    throw error;
  }
}
