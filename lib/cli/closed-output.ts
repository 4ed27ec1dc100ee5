import type { Writable } from 'node:stream';

const tolerant = new WeakSet<Writable>();

/**
 * A reader that goes away (`| head`, a closed pager, a terminal that hung up) must not crash the CLI, least of all in
 * the middle of a deployment: from then on what would go to that stream is dropped, the run goes on to its
 * end, and each task's log file still gets everything. Other write errors still surface.
 */
export function tolerateClosedOutput(...streams: Writable[]): void {
  for (const stream of streams) {
    if (tolerant.has(stream)) continue;
    tolerant.add(stream);
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // EIO: a terminal that hung up.
      if (error.code === 'EPIPE' || error.code === 'EIO' || error.code === 'ERR_STREAM_DESTROYED') return;
      throw error;
    });
  }
}
