import { Writable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskId } from '../../lib/dsl/ids.js';
import { TtyReporter } from '../../lib/reporter/tty-reporter.js';

class Screen extends Writable {
  columns = 60;
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.text += chunk.toString();
    done();
  }
  /** What a terminal would show: apply cursor-up and clear-below to the written lines. */
  render(): string[] {
    const lines: string[] = [''];
    // eslint-disable-next-line no-control-regex
    for (const token of this.text.split(/(\u001b\[[0-9;?]*[A-Za-z]|\n)/)) {
      if (token === '\n') lines.push('');
      else if (/^\u001b\[(\d+)A$/.test(token)) lines.splice(lines.length - 1 - Number(/\d+/.exec(token)![0]), Infinity, '');
      else if (!token.startsWith('\u001b')) lines[lines.length - 1] += token.replace(/\r/g, '');
    }
    return lines.filter((line, index) => line !== '' || index < lines.length - 1);
  }
}

const task = (name: string) => name as TaskId;

test('the live block shows running tasks with their latest line, done/total and an ETA; finished tasks scroll', () => {
  const screen = new Screen();
  const reporter = new TtyReporter(screen, { color: false, refreshMs: 0 });
  const at = new Date().toISOString();
  reporter.handle({ type: 'run-started', runId: 'r1', at, environment: 'example', targets: ['osdc'], tasks: 3, estimateMs: 600_000 });
  reporter.handle({ type: 'task-started', task: task('validate'), reason: { kind: 'no-stamp' }, attempt: 1, at });
  reporter.handle({ type: 'task-started', task: task('dns'), reason: { kind: 'always' }, attempt: 1, at });
  reporter.handle({ type: 'task-output', task: task('dns'), stream: 'stdout', line: 'writing zone example.test' });
  reporter.refresh();
  let shown = screen.render();
  assert.match(shown.join('\n'), /⠿\s+\d+ms dns  writing zone example\.test/);
  assert.match(shown.at(-1)!, /^0\/3 done, 2 running, \d+ms, about \d+m\d+s left$/);
  reporter.handle({ type: 'task-succeeded', task: task('validate'), durationMs: 1200, attempts: 1 });
  shown = screen.render();
  assert.is(shown[1], '✓ validate 1.2s · no stamp');
  assert.match(shown.at(-1)!, /^1\/3 done, 1 running/);
  assert.is(shown.filter((line) => line.includes('validate')).length, 1, 'the block was redrawn in place, not appended');
  reporter.handle({ type: 'task-output', task: task('dns'), stream: 'stdout', line: 'x'.repeat(200) });
  reporter.refresh();
  assert.ok(screen.render().every((line) => line.length <= 60), 'lines are cut to the terminal width');
  reporter.close();
  assert.ok(screen.text.endsWith('\u001b[?25h'));
});

test('a download\'s progress replaces its latest line: a bar, bytes of the total, rate, time left', () => {
  const screen = new Screen();
  screen.columns = 120;
  const reporter = new TtyReporter(screen, { color: false, refreshMs: 0 });
  const at = new Date().toISOString();
  reporter.handle({ type: 'run-started', runId: 'r1', at, environment: 'example', targets: ['osdc'], tasks: 1 });
  reporter.handle({ type: 'task-started', task: task('images:fetch'), reason: { kind: 'no-stamp' }, attempt: 1, at });
  reporter.handle({ type: 'task-progress', task: task('images:fetch'), what: 'ubuntu-cloud', done: 250_000_000, total: 1_000_000_000, unit: 'bytes', perSecond: 25_000_000, leftMs: 30_000 });
  reporter.refresh();
  assert.match(screen.render().join("\n"), /images:fetch  \[#####-+\] ubuntu-cloud: 250\.0 MB of 1\.0 GB \(25%\), 25\.0 MB\/s, about 30\.0s left/);
  reporter.close();
});

test('past the run\'s estimate the time left stays: the chain still ahead of a running task, then "past its estimate"', () => {
  const screen = new Screen();
  screen.columns = 120;
  const reporter = new TtyReporter(screen, { color: false, refreshMs: 0 });
  const started = Date.now();
  // A run estimated at 10 s that has run 60 s: the task started 50 s ago was expected to take 20 s,
  // and 5 minutes of work follow it.
  reporter.handle({ type: 'run-started', runId: 'r1', at: new Date(started - 60_000).toISOString(), environment: 'example', targets: ['osdc'], tasks: 2, estimateMs: 10_000 });
  reporter.handle({ type: 'task-started', task: task('golden-image'), reason: { kind: 'no-stamp' }, attempt: 1, at: new Date(started - 50_000).toISOString(), estimateMs: 20_000, pathMs: 320_000 });
  reporter.refresh();
  assert.match(screen.render().at(-1)!, /^0\/2 done, 1 running, 1m00s, about 5m00s left$/);
  reporter.handle({ type: 'task-succeeded', task: task('golden-image'), durationMs: 50_000, attempts: 1 });
  reporter.handle({ type: 'task-started', task: task('osdc'), reason: { kind: 'no-stamp' }, attempt: 1, at: new Date(started - 30_000).toISOString(), estimateMs: 1_000, pathMs: 1_000 });
  reporter.refresh();
  assert.match(screen.render().at(-1)!, /^1\/2 done, 1 running, 1m\d\ds, past its estimate$/);
  reporter.close();
});

test.run();
