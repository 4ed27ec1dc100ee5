import type { Duration } from './task.js';

const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of a Duration: a number of milliseconds or a string like `90s`, `10m`, `1.5h`. */
export function durationMs(duration: Duration): number {
  if (typeof duration === 'number') return duration;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(duration);
  if (!match) throw new Error(`'${duration}' is not a duration: write e.g. 500ms, 90s, 10m or 2h`);
  return Number(match[1]) * units[match[2] as keyof typeof units];
}
