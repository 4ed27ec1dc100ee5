// The backoff between a task's attempts: doubling, capped, with jitter in the upper half of each step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRetryDelayMs, retryDelayMs } from '../../lib/scheduler/retry-delay.js';

const lowest = () => 0;
const highest = () => 1;

test('each attempt doubles the step; a wait lies between half the step and the step', () => {
  assert.equal([1, 2, 3, 4].map((attempt) => retryDelayMs(2000, attempt, highest)), [2000, 4000, 8000, 16000]);
  assert.equal([1, 2, 3, 4].map((attempt) => retryDelayMs(2000, attempt, lowest)), [1000, 2000, 4000, 8000]);
  assert.is(retryDelayMs(2000, 2, () => 0.5), 3000);
});

test('jitter: tasks that failed together wait different times', () => {
  const waits = new Set(Array.from({ length: 50 }, () => retryDelayMs(2000, 3)));
  assert.ok(waits.size > 10, `only ${waits.size} distinct waits`);
  for (const wait of waits) assert.ok(wait >= 4000 && wait <= 8000, String(wait));
});

test('the step stops growing at 2 minutes, or at the first delay when that is longer', () => {
  assert.is(retryDelayMs(2000, 30, highest), maxRetryDelayMs);
  assert.is(retryDelayMs(2000, 30, lowest), maxRetryDelayMs / 2);
  assert.is(retryDelayMs(300_000, 1, highest), 300_000);
  assert.is(retryDelayMs(300_000, 5, highest), 300_000);
});

test.run();
