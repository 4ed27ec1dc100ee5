// Progress of long steps (issue 20 part 6): the meter a task reports through (context.log.progress), and the
// plain lines CI and the task's log get from it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskId } from '../../lib/dsl/ids.js';
import { ProgressLines, progressText } from '../../lib/reporter/progress-text.js';
import type { EngineEvent } from '../../lib/scheduler/events.js';
import { ProgressMeter } from '../../lib/scheduler/progress-meter.js';
import { Redactor } from '../../lib/scheduler/redactor.js';

type ProgressEvent = Extract<EngineEvent, { type: 'task-progress' }>;
const task = 'images:fetch[artifact=ubuntu-cloud]' as TaskId;

test('the meter sends the first report, then at most one each 250 ms, and always the last; rate and time left since the first', () => {
  let now = 1_000_000;
  const sent: ProgressEvent[] = [];
  const meter = new ProgressMeter(task, (event) => sent.push(event as ProgressEvent), new Redactor(), () => now);
  meter.report('ubuntu-cloud', 0, 1_000_000, 'bytes');
  for (let step = 1; step <= 40; step++) {
    now += 50;
    meter.report('ubuntu-cloud', step * 10_000, 1_000_000, 'bytes');
  }
  // 40 reports over 2 s: the first, then one per 250 ms.
  assert.is(sent.length, 1 + 8);
  const last = sent.at(-1)!;
  assert.is(last.done, 400_000);
  assert.is(last.perSecond, 200_000);
  assert.is(last.leftMs, 3_000);
  now += 10;
  meter.report('ubuntu-cloud', 1_000_000, 1_000_000, 'bytes');
  assert.is(sent.at(-1)!.done, 1_000_000, 'the end is always sent');
  assert.is(sent.at(-1)!.leftMs, 0);
});

test('plain lines: the first, one every 10 s, and the last; bytes of the total, rate, time left', () => {
  let now = 0;
  const lines = new ProgressLines(() => now);
  const event = (done: number): ProgressEvent => ({ type: 'task-progress', task, what: 'ubuntu-cloud', done, total: 600_000_000, unit: 'bytes', perSecond: 12_000_000, leftMs: ((600_000_000 - done) / 12_000_000) * 1000 });
  const printed: string[] = [];
  for (let second = 0; second <= 50; second++) {
    now = second * 1000;
    const each = event(second * 12_000_000);
    if (lines.due(each)) printed.push(progressText(each));
  }
  assert.equal(printed, [
    'ubuntu-cloud: 0 B of 600.0 MB (0%), 12.0 MB/s, about 50.0s left',
    'ubuntu-cloud: 120.0 MB of 600.0 MB (20%), 12.0 MB/s, about 40.0s left',
    'ubuntu-cloud: 240.0 MB of 600.0 MB (40%), 12.0 MB/s, about 30.0s left',
    'ubuntu-cloud: 360.0 MB of 600.0 MB (60%), 12.0 MB/s, about 20.0s left',
    'ubuntu-cloud: 480.0 MB of 600.0 MB (80%), 12.0 MB/s, about 10.0s left',
    'ubuntu-cloud: 600.0 MB of 600.0 MB (100%), 12.0 MB/s',
  ]);
  assert.is(progressText({ ...event(5), total: undefined, unit: 'items', perSecond: undefined, leftMs: undefined, what: 'images' }), 'images: 5');
});

test.run();
