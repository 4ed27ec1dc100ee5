import type { Readable, Writable } from 'node:stream';

/**
 * Where a program's output ends up, when it can fall behind: the console's stream (a pipe to a slow
 * reader, `| less`, a CI log collector). Node queues what such a stream cannot take at once in memory.
 */
export type OutputGate = Pick<Writable, 'writableNeedDrain' | 'destroyed' | 'once' | 'off'>;

/**
 * Node's stream backpressure from the console back to a program: after each chunk of its output is
 * handled, if the console's stream is behind, the program's output streams are paused until it drains (or
 * closes). The program then waits on its full pipe, as on a slow terminal, and nothing queues in memory.
 */
export function throttle(streams: readonly (Readable | null)[], gate: OutputGate | undefined): void {
  if (!gate) return;
  const outputs = streams.filter((stream): stream is Readable => stream !== null);
  let paused = false;
  const resume = () => {
    gate.off('drain', resume);
    gate.off('close', resume);
    paused = false;
    for (const stream of outputs) if (!stream.destroyed) stream.resume();
  };
  const check = () => {
    if (paused || gate.destroyed || !gate.writableNeedDrain) return;
    paused = true;
    for (const stream of outputs) stream.pause();
    gate.once('drain', resume);
    gate.once('close', resume);
  };
  for (const stream of outputs) stream.on('data', check);
}
