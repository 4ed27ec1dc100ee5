// zod's first problem in words (lib/dsl/schema-issue.ts): what every checked file and input reports, the
// environment, the state, a saved plan, the artifact lock, a bundle's index and a task's inputs alike.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { firstIssue, issueLine } from '../../lib/dsl/schema-issue.js';

const reference = z.union([z.strictObject({ env: z.string() }), z.strictObject({ file: z.string() })], { error: 'is { env } or { file }' });
const settings = z.strictObject({ key: reference, count: z.union([z.literal(false), z.strictObject({ every: z.number() })]) });
const problem = (value: unknown) => {
  const parsed = settings.safeParse(value);
  assert.not.ok(parsed.success);
  return issueLine(parsed.error!);
};

test("a union's value is described by the form it took, else by the union's message, else by what each form expects", () => {
  assert.is(problem({ key: { file: 3 }, count: false }), 'key.file: Invalid input: expected string, received number');
  assert.is(problem({ key: 5, count: false }), 'key: is { env } or { file }');
  assert.is(problem({ key: { env: 'A' }, count: { every: 'x' } }), 'count.every: Invalid input: expected number, received string');
  assert.is(problem({ key: { env: 'A' }, count: 'yes' }), 'count: Invalid input: expected false; or Invalid input: expected object, received string');
});

test('an unknown key by name, a missing one as missing; the path as given', () => {
  assert.is(problem({ key: { env: 'A' }, count: false, extra: 1 }), "unknown key 'extra'");
  assert.is(problem({ count: false }), 'key: is { env } or { file }');
  const missing = z.strictObject({ name: z.string() }).safeParse({});
  assert.equal(firstIssue(missing.error!), { path: ['name'], message: 'is missing (expected string)' });
});

test.run();
