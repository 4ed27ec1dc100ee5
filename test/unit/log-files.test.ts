import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskId } from '../../lib/dsl/ids.js';
import { logFileName } from '../../lib/reporter/log-files.js';

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

test.run();
