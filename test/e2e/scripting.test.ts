// What a script relies on (issue 20, part 2): terraform's detailed exit codes for --dry-run and --status,
// one JSON document with `version` and `kind` from every command that takes --json, --summary TARGET as
// go-task's (what a task is), --last-run for the last run's record, and an unknown --env refused by every command.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { withProject, withTimeout } from '../helpers/project.js';

// The JSON documents' shapes as the README's table documents them: every documented field present, with
// its type; documents have nothing else at the top level (a field added there is added to the README too).
const text = z.string();
const count = z.number().int().nonnegative();
const reason = z.looseObject({ kind: text });
const document = <Shape extends z.ZodRawShape>(kind: string, shape: Shape) => z.strictObject({ version: z.literal(1), kind: z.literal(kind), ...shape });
const documentShapes: Record<string, z.ZodType> = {
  status: document('status', { environment: text, tasks: z.array(z.looseObject({ task: text, state: text, detail: text, lastRun: text.nullable(), durationMs: count.nullable() })) }),
  plan: document('plan', {
    environment: text,
    tasks: z.array(z.union([z.looseObject({ task: text, level: count, action: z.literal('skip'), why: reason, driftCheck: z.boolean() }), z.looseObject({ task: text, level: count, action: z.enum(['run', 'fail']), reason, commands: z.array(z.unknown()).optional(), runsWith: text.optional() })])),
  }),
  run: document('run', {
    runId: text,
    environment: text,
    targets: z.array(text),
    startedAt: text,
    finishedAt: text,
    durationMs: count,
    outcome: text,
    tasks: z.array(z.looseObject({ task: text, outcome: text, attempts: count, durationMs: count, reason: reason.optional() })),
    criticalPath: z.array(text),
    counts: z.record(text, count),
  }),
  tasks: document('tasks', { environment: text, tasks: z.array(z.strictObject({ name: text, namespace: text, description: text, inputs: z.array(text), instances: z.array(text) })) }),
  versions: document('versions', { onboarder: text, node: text, tools: z.record(text, text) }),
  graph: document('graph', {
    nodes: z.array(z.strictObject({ id: text, task: text, inputs: z.record(text, z.unknown()), description: text, definedAt: text, dependencies: z.array(text) })),
    edges: z.array(z.strictObject({ from: text, to: text })),
    generations: z.array(z.array(text)),
  }),
  task: document('task', {
    environment: text,
    tasks: z.array(
      z.strictObject({
        task: text,
        description: text,
        definedAt: text,
        inputs: z.record(text, z.unknown()),
        instances: z.array(text),
        deps: z.array(text),
        after: z.array(text),
        sources: z.array(z.unknown()),
        tools: z.array(text),
        policy: text,
        pool: text.nullable(),
        batch: text.nullable(),
        timeout: z.unknown(),
        retries: count,
        estimate: z.unknown(),
        supportsDryRun: z.boolean(),
      }),
    ),
  }),
};

const test = suite('scripting: exit codes, JSON documents, task summaries');

test('--detailed-exitcode: 2 while something would run or is not up to date, 0 after the run, 1 on an error', withTimeout(90_000, () =>
  withProject('basic', async (project) => {
    assert.is((await project.run(['osdc', '--dry-run', '--detailed-exitcode'])).code, 2);
    assert.is((await project.run(['--status', 'osdc', '--detailed-exitcode'])).code, 2);
    assert.is((await project.run(['osdc', '--dry-run'])).code, 0, 'without the flag a plan is a success');
    assert.is((await project.run(['osdc'])).code, 0);
    assert.is((await project.run(['osdc', '--dry-run', '--detailed-exitcode'])).code, 0);
    assert.is((await project.run(['--status', 'osdc', '--detailed-exitcode'])).code, 0);
    const error = await project.run(['osdx', '--dry-run', '--detailed-exitcode']);
    assert.is(error.code, 1, 'an error is 1: 2 means changes');
    assert.match(error.stderr, /^error: unknown task 'osdx': did you mean 'osdc'\?/m);
    const misplaced = await project.run(['--list', '--detailed-exitcode']);
    assert.is(misplaced.code, 2);
    assert.match(misplaced.stderr, /^error: --detailed-exitcode goes with --dry-run or --status/m);
  }),
));

test('every JSON document has version and kind; run events too', withTimeout(90_000, () =>
  withProject('basic', async (project) => {
    const run = await project.run(['osdc', '--json']);
    for (const line of run.stdout.trim().split('\n')) assert.is(JSON.parse(line).version, 1, line);
    const documents: [string[], string][] = [
      [['--status', '--json'], 'status'],
      [['osdc', '--dry-run', '--json'], 'plan'],
      [['--last-run', '--json'], 'run'],
      [['--list', '--json'], 'tasks'],
      [['--versions', '--json'], 'versions'],
      [['--graph', 'osdc', '--json'], 'graph'],
      [['--summary', 'osdc', '--json'], 'task'],
    ];
    const parsed = new Map<string, Record<string, unknown>>();
    for (const [args, kind] of documents) {
      const result = await project.run(args);
      assert.is(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      const parsedDocument = JSON.parse(result.stdout) as { version: number; kind: string };
      assert.is(parsedDocument.version, 1, args.join(' '));
      assert.is(parsedDocument.kind, kind, args.join(' '));
      const checked = documentShapes[kind]!.safeParse(parsedDocument);
      assert.ok(checked.success, `${args.join(' ')}: not the documented shape: ${checked.success ? '' : JSON.stringify(checked.error.issues.slice(0, 3))}`);
      parsed.set(kind, parsedDocument as unknown as Record<string, unknown>);
    }
    const list = parsed.get('tasks') as { tasks: { name: string; inputs: string[]; instances: string[] }[] };
    assert.equal(list.tasks.find((task) => task.name === 'deploy-cluster')!.inputs, ['cluster']);
    assert.ok(list.tasks.find((task) => task.name === 'deploy-cluster')!.instances.includes('deploy-cluster[cluster=osdc]'));
    const versions = parsed.get('versions') as { onboarder: string; tools: Record<string, string> };
    assert.is(versions.onboarder, '0.0.0-test');
    assert.ok('ansible-playbook' in versions.tools);
    const conflict = await project.run(['--graph', '--json', '--format', 'dot']);
    assert.is(conflict.code, 2);
    assert.match(conflict.stderr, /^error: --json and --format dot cannot be combined/m);
  }),
));

test('--summary TARGET says what the task is; --summary alone and --last-run show the last run', withTimeout(90_000, () =>
  withProject('basic', async (project) => {
    const described = await project.run(['--summary', 'deploy-cluster[cluster=osdc]']);
    assert.is(described.code, 0, described.stderr);
    assert.match(described.stdout, /^deploy-cluster\[cluster=osdc\]: /);
    assert.match(described.stdout, /\n {2}defined at {2}tasks\.ts:\d+\n/);
    assert.match(described.stdout, /\n {2}inputs {6}cluster=osdc\n/);
    assert.match(described.stdout, /\n {2}deps {8}\S/);
    assert.match(described.stdout, /\n {2}runs {8}policy fingerprint, .*pool api/);
    const generic = await project.run(['--summary', 'deploy-cluster']);
    assert.match(generic.stdout, /\n {2}instances {3}deploy-cluster\[cluster=osdc\]/);
    const unknown = await project.run(['--summary', 'deploy-clustr']);
    assert.is(unknown.code, 2);
    assert.match(unknown.stderr, /^error: unknown task 'deploy-clustr'/m);
    assert.is((await project.run(['validate'])).code, 0);
    for (const args of [['--summary'], ['--last-run']]) assert.match((await project.run(args)).stdout, 'succeeded: 1 ran');
    const lastRunTarget = await project.run(['--last-run', 'validate']);
    assert.is(lastRunTarget.code, 2);
    assert.match(lastRunTarget.stderr, /^error: --last-run takes no target/m);
  }),
));

test('an unknown --env is refused by every command', withTimeout(90_000, () =>
  withProject('basic', async (project) => {
    for (const args of [['--list'], ['--graph'], ['--last-run'], ['validate']]) {
      const result = await project.run([...args, '--env', 'nowhere']);
      assert.is(result.code, 2, args.join(' '));
      assert.match(result.stderr, /^error: unknown environment 'nowhere'/m, args.join(' '));
    }
  }),
));

test.run();
