import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskId } from '../../lib/dsl/ids.js';
import { LogFiles, logFileName } from '../../lib/reporter/log-files.js';
import type { EngineEvent } from '../../lib/scheduler/events.js';

test('log file names: unsafe characters replaced; an id too long for a file name is cut and keeps a hash of the whole', () => {
  assert.is(logFileName('deploy-cluster[cluster=osdc]' as TaskId), 'task_deploy-cluster_cluster=osdc_.log');
  const long = (tail: string) => `render[template=${'x'.repeat(300)}${tail}]` as TaskId;
  const first = logFileName(long('a'));
  const second = logFileName(long('b'));
  assert.ok(Buffer.byteLength(first) <= 255, `${Buffer.byteLength(first)} bytes`);
  assert.ok(first.startsWith('task_render_template=xxx') && first.endsWith('.log'));
  assert.is.not(first, second, 'ids that differ only past the cut get different files');
  assert.is(logFileName(long('a')), first, 'stable');
});

test('the lines of one turn are written together when it ends, before the console writes; a task that ends writes at once', async () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'onboarder-logs-'));
  try {
    const logs = new LogFiles(base);
    const task = 'deploy' as TaskId;
    const file = path.join(base, 'run-1', logFileName(task));
    logs.handle({ type: 'run-started', runId: 'run-1', at: new Date().toISOString(), environment: 'test' } as EngineEvent);
    logs.handle({ type: 'task-started', task, reason: { kind: 'no-stamp' }, attempt: 1, at: '2026-11-25T09:00:00.000Z' } as unknown as EngineEvent);
    for (const line of ['one', 'two', 'three']) logs.handle({ type: 'task-output', task, stream: 'stdout', line });
    logs.handle({ type: 'task-output', task, stream: 'stderr', line: 'warned' });
    assert.not.ok(existsSync(file), 'nothing written within the turn');
    // The console's writer flushes with setImmediate: the log is written before it.
    const consoleTurn = new Promise<boolean>((resolve) => setImmediate(() => resolve(existsSync(file))));
    await null;
    assert.match(readFileSync(file, 'utf8'), /^== 2026-11-25T09:00:00.000Z attempt 1: .*\none\ntwo\nthree\n! warned\n$/);
    assert.ok(await consoleTurn);
    logs.handle({ type: 'task-output', task, stream: 'stdout', line: 'last words' });
    logs.handle({ type: 'task-succeeded', task, durationMs: 1200, attempts: 1 });
    assert.match(readFileSync(file, 'utf8'), /! warned\nlast words\n== succeeded after 1 attempt\(s\) in 1\.2s\n$/, 'written when the task ended, not a turn later');
    await logs.close();
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test.run();
