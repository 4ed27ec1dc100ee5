// Every bad input gets one clear line (issue 16): a table of malformed state files, journals, run records,
// caches, environments, task modules and command lines. Each case asserts the exit code, one `error:` line
// (or none, where the input is only a cache the engine works out again), what it must name (the file, key
// or value), no stack trace, and the state files unchanged. A case that changes no module and no
// environment variable calls the CLI's entry (runCli, with the project deploy.ts passes it) in this process;
// the others start deploy.ts as a user does.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { FixtureProject, withTimeout, type CliResult } from '../helpers/project.js';

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  /** Changes the project before the run (it starts from one successful run of `validate`). */
  readonly setup?: (project: FixtureProject) => void;
  readonly env?: Readonly<Record<string, string>>;
  /** 2 by default; 0 for inputs that are only a cache, worked out again. */
  readonly code?: number;
  /** What the one error line must say (a file, key or value); for code 0, nothing is checked but no error. */
  readonly says?: RegExp;
}

const test = suite<{ project: FixtureProject; pristine: string; originals: Map<string, string> }>('bad input, one clear line each');

test.before(async (context) => {
  context.project = FixtureProject.copy('basic');
  const first = await context.project.run(['validate']);
  if (first.code !== 0) throw new Error(first.stderr);
  context.pristine = context.project.path('..', `${path.basename(context.project.directory)}-pristine-cache`);
  cpSync(context.project.path('.cache'), context.pristine, { recursive: true });
  context.originals = new Map(['tasks.ts', 'deploy.ts', 'config.json'].map((file) => [file, readFileSync(context.project.path(file), 'utf8')]));
});

test.after(({ project, pristine }) => {
  project.remove();
  rmSync(pristine, { recursive: true, force: true });
});

const state = (project: FixtureProject, ...parts: string[]) => project.path('.cache', 'state', 'test', ...parts);
const writeState = (text: string | Buffer) => (project: FixtureProject) => writeFileSync(state(project, 'state.json'), text);
const writeJournal = (text: string | Buffer) => (project: FixtureProject) => writeFileSync(state(project, 'state.journal'), text);
const lastRecord = (project: FixtureProject) => state(project, 'runs', readdirSync(state(project, 'runs')).filter((name) => name.endsWith('.json')).sort().at(-1)!);
const writeRecord = (text: string | Buffer) => (project: FixtureProject) => writeFileSync(lastRecord(project), text);
const writeFile = (file: string, text: string) => (project: FixtureProject) => writeFileSync(project.path(file), text);
const appendTasks = (text: string) => (project: FixtureProject) => writeFileSync(project.path('tasks.ts'), `${readFileSync(project.path('tasks.ts'), 'utf8')}\n${text}\n`);
const replaceInTasks = (from: RegExp | string, to: string) => (project: FixtureProject) => {
  const text = readFileSync(project.path('tasks.ts'), 'utf8');
  const changed = text.replace(from, to);
  if (changed === text) throw new Error(`tasks.ts has no ${from}`);
  writeFileSync(project.path('tasks.ts'), changed);
};

/** A valid state whose `validate` record is changed by `change`. */
function stateWith(change: (record: Record<string, any>) => void): (project: FixtureProject) => void {
  return (project) => {
    const value = JSON.parse(readFileSync(state(project, 'state.json'), 'utf8'));
    change(value.tasks.validate);
    writeFileSync(state(project, 'state.json'), JSON.stringify(value));
  };
}
function recordWith(change: (record: Record<string, any>) => void): (project: FixtureProject) => void {
  return (project) => {
    const value = JSON.parse(readFileSync(lastRecord(project), 'utf8'));
    change(value);
    writeFileSync(lastRecord(project), JSON.stringify(value));
  };
}

const stateFile = /state file \S+state\.json is /;
const journalFile = (line: number) => new RegExp(`state file \\S+state\\.journal is line ${line} `);
const recordFile = /state file \S+runs\/[\dT-]+Z-[0-9a-f]{8}\.json is /;

const cases: Case[] = [];

// The command line.
for (const flag of ['--forse', '--verbos', '--dryrun', '--lst', '--grap', '--statu', '--skip-phase', '--enviroment', '-x', '--container-bild']) {
  cases.push({ name: `unknown option ${flag}`, args: ['osdc', flag], says: new RegExp(`unknown option '${flag}'`) });
}
for (const [option, value] of [['--format', 'svg'], ['--format', ''], ['--output', 'fancy'], ['--on-failure', 'retry'], ['--concurrency', '0'], ['--concurrency', '1.5'], ['--concurrency', 'lots'], ['--timeout', 'soon'], ['--timeout', '10d'], ['--timeout', '-']]) {
  cases.push({ name: `${option} '${value}'`, args: ['osdc', `${option}=${value}`], says: new RegExp(`${option} '${value}' is`) });
}
for (const combined of [['--list', '--graph'], ['--status', '--dry-run'], ['--summary', '--list'], ['--reset-state', '--status'], ['--versions', '--graph'], ['--dry-run', '--reset', 'dns']]) {
  cases.push({ name: `${combined.join(' ')} together`, args: ['osdc', ...combined], says: /cannot be combined/ });
}
cases.push({ name: 'no target', args: [], says: /no target given/ });
cases.push({ name: '-k with --on-failure kill', args: ['osdc', '-k', '--on-failure', 'kill'], says: /--keep-going and --on-failure kill cannot be combined/ });
for (const option of ['--force', '--skip', '--only', '--reset']) {
  cases.push({ name: `${option} of an unknown task`, args: option === '--reset' ? [option, 'nope'] : ['osdc', option, 'nope'], says: /unknown task 'nope'/ });
}
cases.push({ name: '--skip-phases of an unknown phase', args: ['osdc', '--skip-phases', 'nothing_like_it'], says: /nothing_like_it/ });
const oddTargets: [string, string, RegExp][] = [
  ['a newline', 'osdc\nrm -rf /', /unknown task 'osdc\\nrm -rf \/'/],
  ['a terminal escape', '\u001b[31mred', /unknown task '\\u001b\[31mred'/],
  ['100,000 characters', 'x'.repeat(100_000), /unknown task 'x{60}\.\.\. \(100000 characters\)'/],
  ['a tab', 'os\tdc', /unknown task 'os\\tdc'/],
  ['a carriage return', 'osdc\r', /unknown task 'osdc\\r'/],
  ['only spaces', '   ', /unknown task '   '/],
  ['a quote', "o'sdc", /unknown task 'o'sdc'/],
  ['unicode', 'ösdc', /unknown task 'ösdc'/],
  ['a path', '../../etc/passwd', /unknown task '\.\.\/\.\.\/etc\/passwd'/],
  ['brackets without a task', '[cluster=osdc]', /unknown task '\[cluster=osdc\]'/],
  ['an instance of an unknown input', 'deploy-cluster[cluster=nope]', /unknown task 'deploy-cluster\[cluster=nope\]'/],
];
for (const [what, target, says] of oddTargets) cases.push({ name: `a target with ${what}`, args: [target], says });
for (const environment of ['../../x', '/etc', '.', 'a/b', 'prod', 'TEST', 'test ', '..', '__proto__', 'constructor', 'toString']) {
  for (const args of [['validate'], ['--summary'], ['--list'], ['--reset-state', '--yes']]) {
    if (args[0] !== 'validate' && !['../../x', '__proto__', '.'].includes(environment)) continue;
    cases.push({ name: `--env '${environment}' with ${args[0]}`, args: [...args, '--env', environment], says: /unknown environment '.*': choose one of test with --env or DEPLOY_ENV/ });
  }
}
cases.push({ name: 'DEPLOY_ENV with a path', args: ['validate'], env: { DEPLOY_ENV: '../../x' }, says: /unknown environment '\.\.\/\.\.\/x'/ });

// state.json.
const stateTexts: [string, string | Buffer, RegExp][] = [
  ['not JSON', 'not json', /not valid JSON/],
  ['empty', '', /not valid JSON/],
  ['a byte-order mark', `\ufeff${JSON.stringify({ version: 1, tasks: {} })}`, /not valid JSON/],
  ['binary', Buffer.from([0x00, 0xff, 0x1b, 0x80, 0x0a, 0x9b]), /not valid JSON/],
  ['null', 'null', /expected \{"version": 1/],
  ['an array', '[]', /expected \{"version": 1/],
  ['an empty object', '{}', /expected \{"version": 1/],
  ['version 2', JSON.stringify({ version: 2, tasks: {} }), /expected \{"version": 1/],
  ['a string', '"state"', /expected \{"version": 1/],
  ['tasks null', JSON.stringify({ version: 1, tasks: null }), /tasks: /],
  ['tasks an array', JSON.stringify({ version: 1, tasks: [] }), /tasks: /],
  ['tasks a number', JSON.stringify({ version: 1, tasks: 3 }), /tasks: /],
  ['a task record null', JSON.stringify({ version: 1, tasks: { validate: null } }), /tasks\.validate: /],
  ['a task record a string', JSON.stringify({ version: 1, tasks: { validate: 'done' } }), /tasks\.validate: /],
  ['cut in the middle', '{"version": 1, "tasks": {"validate": {', /not valid JSON/],
];
for (const [what, text, says] of stateTexts) cases.push({ name: `state.json ${what}`, args: ['validate'], setup: writeState(text), says: new RegExp(stateFile.source + '.*' + says.source) });
const stampChanges: [string, (record: Record<string, any>) => void, RegExp][] = [
  ['without durations', (record) => delete record.durations, /tasks\.validate\.durations/],
  ['durations a string', (record) => (record.durations = 'fast'), /tasks\.validate\.durations/],
  ['a negative duration', (record) => (record.durations = [-1]), /tasks\.validate\.durations\.0/],
  ['a stamp without components', (record) => delete record.stamp.components, /tasks\.validate\.stamp\.components/],
  ['a stamp whose fingerprint is a number', (record) => (record.stamp.fingerprint = 42), /tasks\.validate\.stamp\.fingerprint/],
  ['a stamp null', (record) => (record.stamp = null), /tasks\.validate\.stamp/],
  ['components.config a list', (record) => (record.stamp.components.config = []), /tasks\.validate\.stamp\.components\.config/],
  ['components.inputs holding a number', (record) => (record.stamp.components.inputs = { a: 1 }), /tasks\.validate\.stamp\.components\.inputs\.a/],
  ['components.dependencies null', (record) => (record.stamp.components.dependencies = null), /tasks\.validate\.stamp\.components\.dependencies/],
  ['components.task missing', (record) => delete record.stamp.components.task, /tasks\.validate\.stamp\.components\.task/],
  ['a stamp without finishedAt', (record) => delete record.stamp.finishedAt, /tasks\.validate\.stamp\.finishedAt/],
  ['a stamp whose durationMs is text', (record) => (record.stamp.durationMs = '2'), /tasks\.validate\.stamp\.durationMs/],
  ['a last outcome unknown', (record) => (record.last.outcome = 'great'), /tasks\.validate\.last\.outcome/],
  ['a last attempt without startedAt', (record) => delete record.last.startedAt, /tasks\.validate\.last\.startedAt/],
  ['a last failure without reason', (record) => (record.last.failure = {}), /tasks\.validate\.last\.failure\.reason/],
  ['startedAt a number', (record) => (record.startedAt = 5), /tasks\.validate\.startedAt/],
];
for (const [what, change, says] of stampChanges) {
  cases.push({ name: `state.json: ${what}`, args: ['validate'], setup: stateWith(change), says: new RegExp(stateFile.source + 'not an Onboarder state file: ' + says.source) });
  cases.push({ name: `state.json: ${what} (--status)`, args: ['--status'], setup: stateWith(change), says: new RegExp(stateFile.source + 'not an Onboarder state file: ' + says.source) });
}
cases.push({ name: 'state.json a directory', args: ['validate'], setup: (project) => (rmSync(state(project, 'state.json')), mkdirSync(state(project, 'state.json'))), says: /state\.json is not a regular file/ });

// state.journal.
const start = (id: string) => `${JSON.stringify({ op: 'start', id, at: '2026-12-04T00:00:00.000Z' })}\n`;
const journalTexts: [string, string | Buffer, number, RegExp][] = [
  ['a line null', 'null\n', 1, /is not a change Onboarder writes/],
  ['a line that is a list', '[]\n', 1, /is not a change Onboarder writes/],
  ['an empty object', '{}\n', 1, /op: /],
  ['an unknown change', '{"op":"explode","id":"validate"}\n', 1, /op: /],
  ['a success without a stamp', '{"op":"success","id":"validate"}\n', 1, /stamp: /],
  ['a start without an id', '{"op":"start","at":"now"}\n', 1, /id: /],
  ['a finish without its attempt', '{"op":"finish","id":"validate"}\n', 1, /last: /],
  ['a reset of a number', '{"op":"reset","id":7}\n', 1, /id: /],
  ['garbage before a whole line', `garbage\n${start('validate')}`, 1, /is not valid JSON/],
  ['a torn line between whole ones', `${start('validate')}{"op":"sta\n${start('dns')}`, 2, /is not valid JSON/],
  ['a byte-order mark', `\ufeff${start('validate')}`, 1, /is not valid JSON/],
  ['binary in a line', Buffer.concat([Buffer.from(start('validate')), Buffer.from([0xff, 0x00, 0x1b, 0x0a])]), 2, /is not valid JSON/],
  ['a number', '42\n', 1, /is not a change Onboarder writes/],
  ['a success with a stamp of the wrong shape', '{"op":"success","id":"validate","stamp":{"fingerprint":1}}\n', 1, /stamp\.fingerprint: /],
];
for (const [what, text, line, says] of journalTexts) {
  cases.push({ name: `state.journal: ${what}`, args: ['validate'], setup: writeJournal(text), says: new RegExp(journalFile(line).source + '.*' + says.source) });
}
cases.push({ name: 'state.journal a directory', args: ['validate'], setup: (project) => mkdirSync(state(project, 'state.journal')), says: /state\.journal is not a regular file/ });

// Run records (--summary).
const recordTexts: [string, string | Buffer, RegExp][] = [
  ['empty', '', /not valid JSON/],
  ['not JSON', '{"runId": ', /not valid JSON/],
  ['null', 'null', /not a run record Onboarder writes/],
  ['an empty object', '{}', /not a run record Onboarder writes \(runId: /],
  ['an array', '[]', /not a run record Onboarder writes/],
  ['binary', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x1b]), /not valid JSON/],
  ['a byte-order mark', '\ufeff{}', /not valid JSON/],
];
for (const [what, text, says] of recordTexts) cases.push({ name: `run record ${what}`, args: ['--summary'], setup: writeRecord(text), says: new RegExp(recordFile.source + says.source) });
const recordChanges: [string, (record: Record<string, any>) => void, RegExp][] = [
  ['tasks not a list', (record) => (record.tasks = {}), /tasks: /],
  ['a task without an outcome', (record) => delete record.tasks[0].outcome, /tasks\.0\.outcome: /],
  ['an unknown run outcome', (record) => (record.outcome = 'meh'), /outcome: /],
  ['counts missing', (record) => delete record.counts, /counts: /],
  ['criticalPath a string', (record) => (record.criticalPath = 'validate'), /criticalPath: /],
  ['targets null', (record) => (record.targets = null), /targets: /],
  ['durationMs text', (record) => (record.durationMs = 'long'), /durationMs: /],
  ['a task whose attempts are text', (record) => (record.tasks[0].attempts = 'one'), /tasks\.0\.attempts: /],
];
for (const [what, change, says] of recordChanges) {
  cases.push({ name: `run record: ${what}`, args: ['--summary'], setup: recordWith(change), says: new RegExp(recordFile.source + 'not a run record Onboarder writes \\(' + says.source) });
  cases.push({ name: `run record: ${what} (--json)`, args: ['--summary', '--json'], setup: recordWith(change), says: new RegExp(recordFile.source + 'not a run record Onboarder writes \\(' + says.source) });
}

// Caches: worked out again, never an error.
for (const [file, text] of [
  ['source-digests.json', 'not json'],
  ['source-digests.json', 'null'],
  ['source-digests.json', '{"files/key.pub": null}'],
  ['source-digests.json', '[1, 2]'],
  ['tool-versions.json', 'not json'],
  ['tool-versions.json', 'null'],
  ['tool-versions.json', '{"ansible-playbook --version": null}'],
  ['tool-versions.json', '{"ansible-playbook --version": 7}'],
  ['tool-versions.json', '"text"'],
] as const) {
  cases.push({ name: `cache ${file}: ${text}`, args: ['node-prep:copy-ssh-key'], setup: (project) => writeFileSync(project.path('.cache', file), text), code: 0 });
}

// The environment (the fixture's loader reads config.json).
for (const [what, text] of [['not JSON', '{'], ['empty', ''], ['binary', '\u0000\u00ff']] as const) {
  cases.push({ name: `config.json ${what}`, args: ['validate'], setup: writeFile('config.json', text), says: /environment test: \S*project\.ts:\d+: loading it threw: .*JSON.*: fix the file it reads or its loader in the project/ });
}

// Task modules.
const moduleCases: [string, (project: FixtureProject) => void, RegExp][] = [
  ['a syntax error', appendTasks('export const broken = {;'), /^error: tasks\.ts:\d+:\d+: loading the project threw SyntaxError: Expected identifier but found ";": fix that module/],
  ['an unclosed string', appendTasks("const text = 'open;"), /^error: tasks\.ts:\d+:\d+: loading the project threw SyntaxError: Unterminated string literal/],
  ['a throw at import', appendTasks("throw new Error('no inventory');"), /^error: tasks\.ts:\d+: loading the project threw Error: no inventory: fix that module/],
  ['a string thrown at import', appendTasks("throw 'just text';"), /^error: loading the project threw a value that is not an Error: just text: fix that module$/],
  ['a top-level await that never settles', appendTasks('await new Promise(() => undefined);'), /^error: the project never finished loading: a module awaits, at its top level, a promise that never settles/],
  ['a rejected top-level await', appendTasks("await Promise.reject(new Error('vault sealed'));"), /^error: tasks\.ts:\d+: loading the project threw Error: vault sealed/],
  ['a catalog holding undefined', replaceInTasks('export const catalog = [hang,', 'export const catalog = [undefined as never, hang,'), /^error: the catalog deploy\.ts passes to runCli holds undefined at index 0: pass an array/],
  ['a catalog holding null', replaceInTasks('export const catalog = [hang,', 'export const catalog = [null as never, hang,'), /holds null at index 0/],
  ['a catalog holding a string', replaceInTasks('export const catalog = [hang,', "export const catalog = ['validate' as never, hang,"), /holds string at index 0/],
  ['a catalog holding a thunk', replaceInTasks('export const catalog = [hang,', 'export const catalog = [(() => hang) as never, hang,'), /holds a function \(a thunk\? only deps take those\) at index 0/],
  ['a catalog holding a plain object', replaceInTasks('export const catalog = [hang,', 'export const catalog = [{ name: "x" } as never, hang,'), /holds an object that is not a task at index 0/],
  ['a catalog that is an object', replaceInTasks(/export const catalog = \[(.*)\];/, 'export const catalog = { hang } as never;'), /is an object, not an array/],
  ['no catalog exported', replaceInTasks(/export const catalog = \[(.*)\];/, 'const catalog = [$1]; void catalog;'), /the catalog deploy\.ts passes to runCli is undefined/],
  ['a catalog that is a string', replaceInTasks(/export const catalog = \[(.*)\];/, "export const catalog = 'all' as never;"), /is string/],
  ['a task with an undeclared pool', replaceInTasks("pool: 'api',", "pool: 'apj',"), /^error: tasks\.ts:\d+: task 'deploy-cluster' uses pool 'apj', which is not declared: did you mean 'api'\?/],
  ['a duplicate task name', appendTasks("export const again = tasks.task({ name: 'dns', run: () => undefined }); catalog.push(again as never);"), /task 'dns' is defined twice/],
  ['a bad input at .with()', replaceInTasks("deployCluster.with({ cluster: 'osdc' })", "deployCluster.with({ cluster: 'osdx' as never })"), /^error: tasks\.ts:\d+: /],
];
for (const [option, value, says] of [
  ['timeout', "'soon'", /timeout "soon" is not a duration: write milliseconds/],
  ['timeout', '-5', /timeout -5 is not a duration/],
  ['retryDelay', "'2 seconds'", /retryDelay "2 seconds" is not a duration/],
  ['estimate', "'5min'", /estimate "5min" is not a duration/],
  ['policy', "'sometimes'", /policy "sometimes" is not known: use one of fingerprint, always/],
  ['retries', '1.5', /retries 1\.5 is not a whole number of 0 or more/],
  ['run', "'echo hi'", /run is string, not a function/],
  ['check', 'true', /check is boolean, not a function/],
] as const) {
  moduleCases.push([`a task whose ${option} is ${value}`, appendTasks(`export const bogus = tasks.task({ name: 'bogus', ${option}: ${value} as never, ...(${JSON.stringify(option)} === 'run' ? {} : { run: () => undefined }) });`), new RegExp(`^error: tasks\\.ts:\\d+: task 'bogus': ${says.source}`)]);
}
for (const [what, setup, says] of moduleCases) cases.push({ name: `task module: ${what}`, args: ['validate'], setup, says });

// The container launcher's files.
cases.push({ name: 'no Containerfile for --container', args: ['--container', '--versions'], says: /Containerfile is missing from / });
cases.push({
  name: 'a Containerfile that is a directory',
  args: ['--container', '--versions'],
  setup: (project) => {
    mkdirSync(project.path('Containerfile'), { recursive: true });
    mkdirSync(project.path('images'), { recursive: true });
    writeFileSync(project.path('package-lock.json'), '{}');
  },
  says: /\S+\/Containerfile is not a file: restore it/,
});

const digestOf = (file: string) => (existsSync(file) && !readdirSync(path.dirname(file)).includes(`${path.basename(file)}-is-dir`) ? createHash('sha256').update(readFileSync(file)).digest('hex') : 'absent');
const stateFingerprint = (project: FixtureProject) =>
  ['state.json', 'state.journal'].map((name) => {
    const file = state(project, name);
    try {
      return digestOf(file);
    } catch {
      return 'not a file';
    }
  });

test(`at least 150 distinct cases (${cases.length})`, () => {
  assert.ok(cases.length >= 150, String(cases.length));
  assert.is(new Set(cases.map((entry) => entry.name)).size, cases.length, 'every case has its own name');
});

/**
 * The CLI's own entry, runCli, called in this process with the fixture's project, its output captured:
 * what deploy.ts does, without a new Node and tsx for each of these cases (0.6 s of CPU each, most of this
 * suite's time). Used for a case that changes no module (the task file and deploy.ts as they were) and no
 * environment variable; the others start deploy.ts as a user does.
 */
async function runInProcess(project: FixtureProject, args: readonly string[]): Promise<CliResult> {
  process.chdir(project.directory);
  process.env.NO_COLOR = '1';
  process.env.ONBOARDER_TEST_TRACE = project.trace;
  const [{ runCli }, { testProject }] = await Promise.all([import('../../lib/cli/main.js'), import(pathToFileURL(project.path('project.ts')).href) as Promise<typeof import('../fixtures/basic/project.js')>]);
  const { catalog } = (await import(pathToFileURL(project.path('tasks.ts')).href)) as typeof import('../fixtures/basic/tasks.js');
  const captured = { stdout: '', stderr: '' };
  const sink = (stream: 'stdout' | 'stderr') => new Writable({ write: (chunk: Buffer, _encoding, done) => ((captured[stream] += chunk.toString()), done()) });
  const code = await runCli(testProject(catalog), args, { stdout: sink('stdout'), stderr: sink('stderr') });
  return { code, ...captured };
}

for (const entry of cases) {
  test(entry.name, withTimeout(60_000, async ({ project, pristine, originals }) => {
    rmSync(project.path('.cache'), { recursive: true, force: true });
    cpSync(pristine, project.path('.cache'), { recursive: true });
    for (const [file, text] of originals) writeFileSync(project.path(file), text);
    for (const extra of ['Containerfile', 'images', 'package-lock.json']) rmSync(project.path(extra), { recursive: true, force: true });
    entry.setup?.(project);
    const before = stateFingerprint(project);
    const modulesAsTheyWere = ['tasks.ts', 'deploy.ts'].every((file) => readFileSync(project.path(file), 'utf8') === originals.get(file));
    const result = entry.env === undefined && modulesAsTheyWere ? await runInProcess(project, entry.args) : await project.run(entry.args, { ...entry.env });
    const expected = entry.code ?? 2;
    assert.is(result.code, expected, `${result.stdout}\n${result.stderr}`);
    assert.not.match(result.stdout + result.stderr, /^\s+at /m, 'no stack trace');
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
    if (expected === 0) {
      assert.equal(errors, [], result.stderr);
      return;
    }
    assert.is(result.stderr.trimEnd().split('\n').filter((line) => !line.startsWith('warning: ')).length, 1, `one line: ${result.stderr}`);
    assert.is(errors.length, 1, result.stderr);
    assert.match(errors[0]!, entry.says!);
    assert.equal(stateFingerprint(project), before, 'the state files are unchanged');
  }));
}

test.run();
