import type { EngineEvent } from '../scheduler/events.js';

/** Turns engine events into output. Reporters never influence the run. */
export interface Reporter {
  handle(event: EngineEvent): void;
  /** Called once after the run, for reporters that buffer, redraw or write files; awaited before exit. */
  close(): void | Promise<void>;
}

/** Sends every event to each reporter in turn. */
export function fanOut(reporters: readonly Reporter[]): Reporter {
  return {
    handle: (event) => reporters.forEach((reporter) => reporter.handle(event)),
    close: async () => {
      await Promise.all(reporters.map((reporter) => reporter.close()));
    },
  };
}
