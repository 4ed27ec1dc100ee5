// Type tests: every line marked `// expect-error: <text>` in test/types/fail/ must fail tsc with that text,
// and nothing else in those files may fail.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repositoryRoot } from '../helpers/project.js';

const directory = path.join(repositoryRoot, 'test', 'types', 'fail');
const files = readdirSync(directory).filter((name) => name.endsWith('.ts')).map((name) => path.join(directory, name));
const configFile = ts.readConfigFile(path.join(repositoryRoot, 'test', 'tsconfig.json'), ts.sys.readFile);
const options = ts.parseJsonConfigFileContent(configFile.config, ts.sys, path.join(repositoryRoot, 'test')).options;
const program = ts.createProgram(files, { ...options, noEmit: true });

for (const file of files) {
  test(`${path.basename(file)}: each marked line fails with its message, nothing else fails`, () => {
    const source = program.getSourceFile(file)!;
    const diagnostics = ts.getPreEmitDiagnostics(program, source);
    const errors = new Map<number, string[]>();
    for (const diagnostic of diagnostics) {
      const line = source.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1;
      errors.set(line, [...(errors.get(line) ?? []), ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')]);
    }
    const expected = new Map<number, string>();
    readFileSync(file, 'utf8').split('\n').forEach((text, index) => {
      const match = /\/\/ expect-error: (.+)$/.exec(text);
      if (match) expected.set(index + 2, match[1]!.trim());
    });
    assert.ok(expected.size > 0);
    for (const [line, message] of expected) {
      const found = errors.get(line) ?? [];
      assert.ok(found.some((text) => text.includes(message)), `line ${line}: expected an error containing "${message}", got ${JSON.stringify(found)}`);
    }
    for (const [line, messages] of errors) {
      assert.ok(expected.has(line), `line ${line}: unexpected error ${JSON.stringify(messages)}`);
    }
  });
}

test("the catalog's program (tsconfig.json) holds no test file: an editor in tasks/ never offers a fixture's tasks", () => {
  const catalog = ts.parseJsonConfigFileContent(ts.readConfigFile(path.join(repositoryRoot, 'tsconfig.json'), ts.sys.readFile).config, ts.sys, repositoryRoot);
  assert.ok(catalog.fileNames.some((file) => file.includes('/tasks/')));
  assert.equal(catalog.fileNames.filter((file) => path.relative(repositoryRoot, file).startsWith('test/')), []);
});

test.run();
