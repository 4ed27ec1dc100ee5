import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newRunId, runsKept } from '../../lib/state/run-records.js';
import { FixtureProject, withProject, withTimeout } from '../helpers/project.js';

const hasDot = (() => {
  try {
    execFileSync('dot', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test("a program printing faster than the engine writes (3,000,000 lines, 200 MB) waits on its pipe: the engine runs it in a 96 MB heap", withTimeout(120_000, () => withProject('basic', async (project) => {
  // What the console cannot take queues in the engine's memory unless the program is paused (throttle):
  // with a reader that stops for 4 s, the queue outgrows this heap and the engine aborts. Likewise output
  // held whole (keepOutput 'all': 400 MB as JavaScript strings).
  const child = project.start(['flood'], { FLOOD_LINES: '3000000', NODE_OPTIONS: '--max-old-space-size=96' });
  let lines = 0;
  child.stdout!.on('data', (chunk: Buffer) => {
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  });
  // A reader that stops for a while (a paused pager, a stalled log collector): the console's pipe fills.
  child.stdout!.pause();
  setTimeout(() => child.stdout!.resume(), 4000);
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.is(code, 0, stderr.slice(-2000));
  assert.ok(lines > 3_000_000, `every line reached the console (${lines})`);
})));

test('--graph in every format', withTimeout(60_000, () => withProject('basic', async (project) => {
  const text = await project.run(['--graph', 'osdc']);
  assert.is(text.code, 0);
  assert.match(text.stdout, 'level 1\n  validate');
  assert.match(text.stdout, /level 2 \(3 in parallel\)/);
  assert.match(text.stdout, '6 tasks, 7 edges, 4 levels');

  const json = JSON.parse((await project.run(['--graph', 'osdc', '--format', 'json'])).stdout);
  assert.is(json.nodes.length, 6);
  assert.is(json.edges.length, 7);
  assert.equal(json.nodes.find((node: { id: string }) => node.id === 'deploy-cluster[cluster=osdc]').inputs, { cluster: 'osdc' });

  const dot = (await project.run(['--graph', '--format', 'dot'])).stdout;
  assert.match(dot, /^digraph onboarder \{/);
  assert.match(dot, '"node-prep:copy-ssh-key" -> "deploy-cluster[cluster=osdc]";');
  if (hasDot) execFileSync('dot', ['-Tsvg', '-o', '/dev/null'], { input: dot });
  else console.warn('graphviz dot not installed: DOT syntax not checked by dot');

  const mermaid = (await project.run(['--graph', 'osdc', '--format', 'mermaid'])).stdout;
  assert.match(mermaid, /^flowchart LR\n/);
  assert.match(mermaid, /n\d+\["deploy-cluster\[cluster=osdc\]"\]/);
})));

test('--dry-run shows the plan in order with reasons, and runs nothing', withTimeout(60_000, () => withProject('basic', async (project) => {
  let plan = await project.run(['osdc', '--dry-run']);
  assert.is(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, 'plan for test: 6 of 6 tasks would run');
  assert.match(plan.stdout, /1\s+validate\s+run\s+no stamp/);
  assert.equal(project.takeTrace(), []);
  await project.run(['osdc']);
  project.takeTrace();
  writeFileSync(project.path('files', 'key.pub'), 'new key\n');
  plan = await project.run(['osdc', '--dry-run']);
  assert.match(plan.stdout, /node-prep:copy-ssh-key\s+run\s+source files\/key\.pub changed/);
  assert.match(plan.stdout, /template\s+skip\s+up to date \(drift check runs first\)/);
  assert.match(plan.stdout, /deploy-cluster\[cluster=osdc\]\s+run\s+dependency node-prep:copy-ssh-key changed/);
  const json = JSON.parse((await project.run(['osdc', '--dry-run', '--json'])).stdout);
  assert.is(json.version, 1);
  assert.is(json.kind, 'plan');
  assert.equal(json.tasks.find((step: { task: string }) => step.task === 'node-prep:copy-ssh-key').reason, {
    kind: 'changed',
    changes: [{ component: 'source', path: 'files/key.pub' }],
  });
  assert.equal(project.takeTrace(), []);
  assert.match(plan.stdout, /node-prep:copy-ssh-key\s+run\s+.*\n\s+\(commands not listed: its body does not declare supportsDryRun/);

  // The Python runner's spelling: its phase name, space-separated after the flag, next to --skip.
  const phases = await project.run(['osdc', '--dry-run', '--skip', 'dns', '--skip-phases', 'copy_ssh_key', 'template']);
  assert.is(phases.code, 0, phases.stderr);
  for (const task of ['dns', 'node-prep:copy-ssh-key', 'template']) assert.match(phases.stdout, new RegExp(`${task}\\s+skip\\s+skipped \\(--skip\\)`));

  const walked = await project.run(['touch-marker', '--dry-run']);
  assert.match(walked.stdout, /touch-marker\s+run\s+no stamp\n\s+\$ touch marker\.txt\n\s+\$ touch marker-sync\.txt\n\s+\$ touch marker-argv\.txt\n/);
  for (const marker of ['marker.txt', 'marker-sync.txt', 'marker-argv.txt']) assert.not.ok(existsSync(project.path(marker)), `a dry run runs nothing: ${marker}`);
})));

test('--status shows done, stale and why, pending; --summary the last run', withTimeout(60_000, () => withProject('basic', async (project) => {
  await project.run(['osdc']);
  const config = JSON.parse(readFileSync(project.path('config.json'), 'utf8'));
  config.clusters.osdc.nodes = 7;
  writeFileSync(project.path('config.json'), JSON.stringify(config));
  const status = await project.run(['--status']);
  assert.is(status.code, 0);
  assert.match(status.stdout, /^TASK\s+STATE\s+LAST RUN\s+DURATION\s+DETAIL/);
  assert.match(status.stdout, /validate\s+done\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\d+ms/);
  assert.match(status.stdout, /deploy-cluster\[cluster=osdc\]\s+stale\s+.*config clusters\.osdc\.nodes changed/);
  assert.match(status.stdout, /deploy-cluster\[cluster=osms\]\s+pending\s+-\s+-\s+no stamp/);
  const summary = await project.run(['--summary']);
  assert.is(summary.code, 0);
  assert.match(summary.stdout, 'succeeded: 6 ran, 0 skipped, 0 failed, 0 blocked');
  // Which chain was longest depends on this machine's timings (the scheduling tests check the path itself).
  assert.match(summary.stdout, /\ncritical path: [^\n]+ \(\d+(?:ms|\.\ds)\)\n/);
})));

test('the JSON event stream parses, plain output has no ANSI, secrets are redacted everywhere', withTimeout(60_000, () => withProject('basic', async (project) => {
  const run = await project.run(['osdc', '--json']);
  const events = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.is(events[0].type, 'run-started');
  assert.is(events.at(-1).type, 'run-finished');
  assert.ok(events.some((event) => event.type === 'task-output' && event.line === 'osdc has 3 nodes, token ***'));
  assert.not.match(run.stdout, 'hunter2-secret');

  const plain = await project.run(['osdc', '--force-all']);
  assert.not.match(plain.stdout + plain.stderr, /\u001b\[/);
  assert.match(plain.stdout, '[deploy-cluster[cluster=osdc]] $ echo osdc has 3 nodes, token ***');
  assert.not.match(plain.stdout, 'hunter2-secret');
  const logs = project.path('.cache', 'logs', 'test', 'latest');
  for (const file of readdirSync(logs)) assert.not.match(readFileSync(`${logs}/${file}`, 'utf8'), 'hunter2-secret');
  assert.match(readFileSync(`${logs}/task_deploy-cluster_cluster=osdc_.log`, 'utf8'), /\$ echo osdc has 3 nodes, token \*\*\*[\s\S]*-> exit 0/);
  const state = readFileSync(project.path('.cache', 'state', 'test', 'state.json'), 'utf8');
  assert.not.match(state, 'hunter2-secret');

  // A failure whose command line holds the secret: kept in the state (for --status) and the record, redacted.
  const failed = await project.run(['osdc', '--force-all'], { FAIL_TASK: 'osdc', FAIL_WITH_SECRET: '1' });
  assert.is(failed.code, 1);
  assert.match(failed.stdout, 'command failed with exit code 1: test *** = failed');
  const status = await project.run(['--status', 'osdc']);
  assert.match(status.stdout, 'command failed with exit code 1: test *** = failed');
  for (const file of [project.path('.cache', 'state', 'test', 'state.json'), project.path('.cache', 'state', 'test', 'state.journal'), ...readdirSync(project.path('.cache', 'state', 'test', 'runs')).map((name) => project.path('.cache', 'state', 'test', 'runs', name))]) {
    if (existsSync(file)) assert.not.match(readFileSync(file, 'utf8'), 'hunter2-secret', file);
  }
  assert.not.match(status.stdout + failed.stdout, 'hunter2-secret');
})));

test(`a run keeps the last ${runsKept} runs' records and the logs of the last ${runsKept} that wrote any; runs that found everything up to date write no logs`, withTimeout(60_000, () => withProject('basic', async (project) => {
  const records = project.path('.cache', 'state', 'test', 'runs');
  const logs = project.path('.cache', 'logs', 'test');
  const past = Array.from({ length: runsKept }, (_, index) => newRunId(new Date(Date.UTC(2026, 0, 1, 0, index))));
  mkdirSync(records, { recursive: true });
  for (const id of past) {
    writeFileSync(path.join(records, `${id}.json`), '{}\n');
    mkdirSync(path.join(logs, id), { recursive: true });
    writeFileSync(path.join(logs, id, 'task_validate.log'), 'old\n');
  }
  const run = await project.run(['validate']);
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stderr, '');
  const latest = readlinkSync(path.join(logs, 'latest'));
  const recordsKept = () => readdirSync(records).filter((name) => name.endsWith('.json')).length;
  assert.is(recordsKept(), runsKept);
  assert.ok(existsSync(path.join(records, `${latest}.json`)), 'the new run has its record');
  assert.ok(existsSync(path.join(records, `${latest}.html`)), 'and its report');
  assert.not.ok(existsSync(path.join(records, `${past[0]}.json`)), 'the oldest record went');
  assert.not.ok(existsSync(path.join(logs, past[0]!)), 'and its logs with it');
  assert.ok(existsSync(path.join(logs, past[1]!)));

  // Up-to-date re-runs (the second answered from the cache) are runs with records, but write no logs: they
  // push out old records, not the logs of the runs that did something.
  await project.run(['validate']);
  await project.run(['validate']);
  assert.is(recordsKept(), runsKept);
  assert.not.ok(existsSync(path.join(records, `${past[2]}.json`)));
  assert.equal(readdirSync(logs).filter((name) => name !== 'latest').length, runsKept);
  assert.ok(existsSync(path.join(logs, past[1]!)));
  assert.is(readlinkSync(path.join(logs, 'latest')), latest, 'latest still leads to the run that wrote logs');
})));

test('old logs a run cannot remove are named in one warning line; the run succeeds and the rest go', withTimeout(60_000, async () => {
  const project = FixtureProject.copy('basic');
  const logs = project.path('.cache', 'logs', 'test');
  const past = Array.from({ length: runsKept + 1 }, (_, index) => newRunId(new Date(Date.UTC(2026, 0, 1, 0, index))));
  const stuck = path.join(logs, past[0]!);
  const asRoot = process.getuid?.() === 0;
  let mounted = false;
  try {
    for (const id of past) {
      mkdirSync(path.join(logs, id), { recursive: true });
      writeFileSync(path.join(logs, id, 'task_validate.log'), 'old\n');
    }
    // Root removes whatever the mode says: a mount point cannot be removed by anyone (EBUSY).
    if (asRoot) {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', stuck]);
      mounted = true;
    } else chmodSync(stuck, 0o500);
    const run = await project.run(['validate']);
    assert.is(run.code, 0, run.stderr);
    assert.is(run.stderr, `warning: could not remove what runs older than the last ${runsKept} left: ${stuck} (${asRoot ? 'EBUSY' : 'EACCES'})\n`);
    assert.not.ok(existsSync(path.join(logs, past[1]!)), 'the next oldest went');
    assert.ok(existsSync(path.join(logs, past[2]!)));
  } finally {
    if (mounted) execFileSync('umount', [stuck]);
    else if (!asRoot) chmodSync(stuck, 0o700);
    project.remove();
  }
}));

test('a reader that goes away (| head) crashes neither a command nor a run: the run finishes, logs complete', withTimeout(60_000, async () => {
  const project = FixtureProject.copy('basic');
  /** Runs the CLI with stdout read until its first chunk, then closed, as `| head -1` does. */
  const readFirstChunkOnly = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = project.start(args);
      let stderr = '';
      child.stderr!.on('data', (chunk) => (stderr += chunk));
      child.stdout!.once('data', () => child.stdout!.destroy());
      child.on('close', (code) => resolve({ code, stderr }));
    });
  try {
    for (const args of [['osdc', '--dry-run'], ['osdc'], ['--status'], ['--graph']]) {
      const { code, stderr } = await readFirstChunkOnly(args);
      assert.is(code, 0, `${args.join(' ')}: ${stderr}`);
      assert.not.match(stderr, /EPIPE|at .*\.ts:\d+/, `${args.join(' ')}: ${stderr}`);
    }
    // The run whose output was cut off: its logs are whole and a second run has nothing left to do.
    assert.match(readFileSync(project.path('.cache', 'logs', 'test', 'latest', 'task_deploy-cluster_cluster=osdc_.log'), 'utf8'), '-> exit 0');
    const again = await project.run(['osdc']);
    assert.match(again.stdout, '[deploy-cluster[cluster=osdc]] up to date', again.stdout);
    assert.match(again.stdout, '5 skipped, 0 failed');
  } finally {
    project.remove();
  }
}));

test('--output group prints each task whole', withTimeout(60_000, () => withProject('basic', async (project) => {
  const run = await project.run(['osdc', '--output', 'group']);
  assert.match(run.stdout, '[deploy-cluster[cluster=osdc]] run: no stamp\n[deploy-cluster[cluster=osdc]] $ echo');
})));

test('--list groups tasks by namespace and shows instances', withTimeout(60_000, () => withProject('basic', async (project) => {
  const list = await project.run(['--list']);
  assert.is(list.code, 0);
  assert.match(list.stdout, /node-prep\n  node-prep:copy-ssh-key\s+Copy the SSH key to every host/);
  assert.match(list.stdout, /deploy-cluster\[cluster\]\s+Deploy one cluster\n    deploy-cluster\[cluster=osdc\]/);
})));

test('a value a task marks secret is redacted from output, logs and records', withTimeout(60_000, () => withProject('basic', async (project) => {
  const run = await project.run(['token']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, '[token] new token ***');
  assert.match(run.stdout, '[token] $ echo token=***');
  assert.not.match(run.stdout, /tok-\d+-abcdef/);
  const log = readFileSync(project.path('.cache', 'logs', 'test', 'latest', 'task_token.log'), 'utf8');
  assert.match(log, 'token=***');
  assert.not.match(log, /tok-\d+-abcdef/);
})));

test('on a terminal the live view draws and clears its block, in colour unless NO_COLOR is set or --no-color given', withTimeout(60_000, () => withProject('basic', async (project) => {
  const onTerminal = (args: string, env: Record<string, string | undefined>) =>
    execFileSync('script', ['-qec', `node --import tsx deploy.ts ${args}`, '/dev/null'], {
      cwd: project.directory,
      env: { ...process.env, NO_COLOR: undefined, TERM: 'xterm', ONBOARDER_TEST_TRACE: project.trace, ...env },
      encoding: 'utf8',
    });
  const colour = /\u001b\[[0-9;]*m/;
  const screen = onTerminal('osdc', {});
  assert.match(screen, '\u001b[?25l');
  assert.match(screen, /✓.* validate/);
  assert.match(screen, 'succeeded: 6 ran');
  assert.match(screen, '\u001b[?25h');
  assert.match(screen, colour);
  assert.not.match(screen, '[validate] run:', 'not the plain reporter');
  // NO_COLOR (no-color.org): the live view still draws, without a colour.
  const plain = onTerminal('osdc --force-all', { NO_COLOR: '1' });
  assert.match(plain, '\u001b[?25l');
  assert.match(plain, 'succeeded: 6 ran');
  assert.not.match(plain, colour);
  // --no-color, for where the variable is lost (sudo without -E).
  const flagged = onTerminal('osdc --force-all --no-color', {});
  assert.match(flagged, 'succeeded: 6 ran');
  assert.not.match(flagged, colour);
})));

test.run();
