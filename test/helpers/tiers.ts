import type { Test } from 'uvu';

/**
 * The long tier: tests that take a cluster (or the lab) through its lifecycle one deployment after another
 * on whole-machine hosts, minutes each, most of an hour in all on 2 cores. `npm test` (what CI runs, within
 * its 20 minutes) skips them and runs what they start from (a cluster's first build); `npm run test:long`
 * runs every test.
 */
export const longTierRuns = process.env.ONBOARDER_LONG_TESTS === '1';

/** `test` itself in the long tier, else its skip (uvu reports the test as skipped). */
export function longTier<T>(test: Test<T>): Test<T>['skip'] {
  return longTierRuns ? test : test.skip;
}
