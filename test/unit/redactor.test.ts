import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Redactor } from '../../lib/scheduler/redactor.js';

const privateKey = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACDx3Vb0nrQ2iV+7mS8ncrVwUe7kiYU1bV0pT1yqJd7qFQAAAJBmYt0cZmLd',
  '-----END OPENSSH PRIVATE KEY-----',
  '',
].join('\n');

test('a secret of several lines is redacted line by line, as output arrives in lines', () => {
  const redactor = new Redactor([privateKey, '{\n "a": 1\n}']);
  assert.is(redactor.redact('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW'), '***');
  assert.is(redactor.redact('  QyNTUxOQAAACDx3Vb0nrQ2iV+7mS8ncrVwUe7kiYU1bV0pT1yqJd7qFQAAAJBmYt0cZmLd\r'), '  ***\r');
  assert.is(redactor.redact(privateKey), '***', 'the whole, too');
  assert.is(redactor.redact('}'), '}', 'lines shorter than 8 characters are not secrets on their own');
  assert.is(redactor.redact('"a": 1'), '"a": 1');
});

test('values are redacted string by string: a secret with a newline, quote or backslash is caught in JSON-like values too', () => {
  const quoted = 'pa"ss\\word-42';
  const redactor = new Redactor([privateKey, quoted]);
  const value = { record: { output: `key:\n${privateKey}`, command: `login --password ${quoted}` }, list: [quoted], [quoted]: 1 };
  const redacted = redactor.redactValue(value);
  const text = JSON.stringify(redacted);
  assert.not.ok(text.includes('b3BlbnNzaC1rZXkt'), text);
  assert.not.ok(text.includes('ss\\\\word'), text);
  assert.equal(JSON.parse(text), { record: { output: 'key:\n***', command: 'login --password ***' }, list: ['***'], '***': 1 });
});

test.run();
