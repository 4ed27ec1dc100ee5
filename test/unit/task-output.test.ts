import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskId } from '../../lib/dsl/ids.js';
import type { EngineEvent } from '../../lib/scheduler/events.js';
import { Redactor } from '../../lib/scheduler/redactor.js';
import { TaskOutput } from '../../lib/scheduler/task-output.js';

function collect(secrets: string[] = []) {
  const lines: string[] = [];
  const output = new TaskOutput('t' as TaskId, (event: EngineEvent) => {
    if (event.type === 'task-output') lines.push(event.line);
  }, new Redactor(secrets));
  return { lines, output };
}

test('lines end at \\n or \\r\\n, also split across chunks; a \\r inside a line goes back to its start, as on a terminal', () => {
  const { lines, output } = collect();
  output.write('stdout', 'one\r\ntw');
  output.write('stdout', 'o\nthree\r');
  output.write('stdout', '\n 10%\r 55%');
  output.write('stdout', '\r100%\ndone');
  output.flush();
  assert.equal(lines, ['one', 'two', 'three', '100%', 'done']);
});

test('a line with no end (binary output) goes out in pieces of at most 64 KiB, nothing lost, no secret cut in two', () => {
  const secret = 'hunter2-secret-value';
  const { lines, output } = collect([secret]);
  // The secret straddles the first 64 KiB boundary; chunks of 10,000 characters, as from a pipe.
  const text = `${'a'.repeat(65_530)}${secret}${'b'.repeat(200_000)}`;
  for (let start = 0; start < text.length; start += 10_000) output.write('stdout', text.slice(start, start + 10_000));
  output.flush();
  assert.ok(lines.length >= 4, `${lines.length} pieces`);
  for (const line of lines) assert.ok(line.length <= 64 * 1024, `${line.length}`);
  assert.not.ok(lines.some((line) => line.includes('hunter2')), 'no part of the secret');
  assert.is(lines.join(''), text.replace(secret, '***'));
});

test('safeCut moves a cut out of every secret it would split', () => {
  const redactor = new Redactor(['abcdef', 'xyz1']);
  assert.is(redactor.safeCut('0123abcdef89', 6), 4);
  assert.is(redactor.safeCut('0123abcdef89', 4), 4, 'at a secret start: unchanged');
  assert.is(redactor.safeCut('0123abcdef89', 10), 10, 'right after it: unchanged');
  assert.is(redactor.safeCut('xyz1abcdef', 6), 4);
  assert.is(new Redactor().safeCut('anything', 3), 3);
});

test.run();
