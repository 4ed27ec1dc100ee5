import type { EngineEvent } from '../scheduler/events.js';

/** Turns engine events into output. Reporters never influence the run. */
export interface Reporter {
  handle(event: EngineEvent): void;
  /** Called once after the run, for reporters that buffer or redraw. */
  close(): void;
}

/** Sends every event to each reporter in turn. */
export function fanOut(reporters: readonly Reporter[]): Reporter {
  return {
    handle: (event) => reporters.forEach((reporter) => reporter.handle(event)),
    close: () => reporters.forEach((reporter) => reporter.close()),
  };
}
