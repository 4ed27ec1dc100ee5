// A bundle's index.json and its signature, read by one function (tasks/bundle/open-bundle.ts) for verify and
// load (signature required) and for inspect and a differential bundle's base (signature reported).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSignedIndex } from '../../tasks/bundle/open-bundle.js';
import { generateSigningKey, signWith } from '../../tasks/bundle/signing.js';

const directory = mkdtempSync(path.join(tmpdir(), 'signed-index-'));
const privateKey = path.join(directory, 'signing.key');
const publicKey = path.join(directory, 'signing.pub');
generateSigningKey(privateKey, publicKey);
const otherPrivate = path.join(directory, 'other.key');
generateSigningKey(otherPrivate, path.join(directory, 'other.pub'));

const index = { version: 1, environment: 'example', created: '2026-12-07T00:00:00Z', versions: {}, artifacts: [] };
const signed = (text: string, key = privateKey) => [Buffer.from(text), Buffer.from(JSON.stringify({ signature: signWith(key, Buffer.from(text)).signature }))] as const;

test.after(() => rmSync(directory, { recursive: true, force: true }));

test('a signed index is read with its digest, whether its signature is required or only reported', () => {
  const [text, signature] = signed(JSON.stringify(index));
  for (const mode of ['required', 'reported'] as const) {
    const read = parseSignedIndex(text, signature, publicKey, mode);
    assert.ok('index' in read, JSON.stringify(read));
    assert.is(read.signed, true);
    assert.is(read.index.environment, 'example');
    assert.equal(read.index.fromBase, []);
    assert.match(read.digest, /^[0-9a-f]{64}$/);
  }
});

test("another key's signature is the problem when required, and reported as unsigned otherwise", () => {
  const [text, signature] = signed(JSON.stringify(index), otherPrivate);
  const required = parseSignedIndex(text, signature, publicKey, 'required');
  assert.ok('problem' in required);
  assert.match(required.problem, /^index\.json: the signature does not match signing\.pub \(key [0-9a-f]{16}\): tampered with, or signed by another key$/);
  const reported = parseSignedIndex(text, signature, publicKey, 'reported');
  assert.ok('index' in reported && reported.signed === false);
});

test('each damage is one problem, never a thrown SyntaxError', () => {
  const problem = (text: Buffer | undefined, signature: Buffer | undefined, mode: 'required' | 'reported' = 'required') => {
    const read = parseSignedIndex(text, signature, publicKey, mode);
    return 'problem' in read ? read.problem : 'no problem';
  };
  const [text, signature] = signed(JSON.stringify(index));
  assert.is(problem(undefined, signature), 'index.json or index.json.sig is missing: not an Onboarder bundle');
  assert.is(problem(text, undefined), 'index.json or index.json.sig is missing: not an Onboarder bundle');
  assert.is(problem(text, Buffer.from('not json')), 'index.json.sig is not JSON: damaged or tampered with');
  assert.match(problem(text, Buffer.from('null')), /the signature does not match/);
  // Signed, but not an index: only a signer's bug makes one, and it is still one line.
  assert.is(problem(...signed('{"version": 1, "artifacts": [')), 'index.json is not JSON: damaged or tampered with');
  assert.is(problem(...signed(JSON.stringify({ ...index, version: 2 }))), 'index.json at version: Invalid input: expected 1');
  // Unsigned and garbled, for inspect: the garbling is the problem.
  assert.is(problem(Buffer.from('{'), signature, 'reported'), 'index.json is not JSON: damaged or tampered with');
});

test.run();
