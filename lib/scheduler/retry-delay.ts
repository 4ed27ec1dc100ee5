/** The longest a retry waits, unless the task's own first delay is longer (then that is the limit). */
export const maxRetryDelayMs = 120_000;

/**
 * How long to wait before the attempt after `failedAttempt` (1 for the first failure): the first delay
 * doubled for each attempt before, capped at `maxRetryDelayMs` (or the first delay when that is longer),
 * then "equal jitter": a random point in the upper half, so that tasks that failed together (one API going
 * down) do not all retry at the same moment, and none retries sooner than half its step.
 */
export function retryDelayMs(firstDelayMs: number, failedAttempt: number, random: () => number = Math.random): number {
  const step = Math.min(firstDelayMs * 2 ** (failedAttempt - 1), Math.max(maxRetryDelayMs, firstDelayMs));
  return Math.round(step * (0.5 + random() / 2));
}
