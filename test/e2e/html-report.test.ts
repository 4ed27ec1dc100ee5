// The run's HTML report (issue 20, part 5), opened in Debian's headless Chromium: every run writes one
// beside its record, with a timeline (one bar per attempt, retries visible, the critical path marked), the
// graph laid out by level with groups boxed, and each task's reason, duration, attempts and log link.
// Checked in the DOM Chromium built (after the page's own script ran) and by a screenshot it took.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { repositoryRoot, withProject, withTimeout } from '../helpers/project.js';

const test = suite('the HTML report, in a real browser');

/** Chromium renders the page: the DOM after its scripts, and (when asked) a PNG of the first 1600x2400 pixels. */
function openInChromium(file: string, screenshot = false): { dom: string; screenshot: Buffer } {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'onboarder-chromium-'));
  try {
    const common = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, '--window-size=1600,2400'];
    const dom = spawnSync('chromium', [...common, '--dump-dom', `file://${file}`], { encoding: 'utf8', timeout: 60_000 });
    assert.is(dom.status, 0, dom.stderr);
    if (!screenshot) return { dom: dom.stdout, screenshot: Buffer.alloc(0) };
    const png = path.join(profile, 'report.png');
    const shot = spawnSync('chromium', [...common, `--screenshot=${png}`, `file://${file}`], { encoding: 'utf8', timeout: 60_000 });
    assert.is(shot.status, 0, shot.stderr);
    return { dom: dom.stdout, screenshot: readFileSync(png) };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

const count = (text: string, pattern: RegExp) => [...text.matchAll(pattern)].length;

test('a run writes its report: every task in the table, graph and timeline; the retries and the critical path marked; logs linked', withTimeout(180_000, () =>
  withProject('basic', async (project) => {
    // slow (4 s) makes validate -> slow -> after-slow the critical path, longer than flaky's retry.
    const run = await project.run(['osdc', 'after-slow', 'flaky', '--json'], { FLAKY_FAILURES: '1', SLOW_SECONDS: '4' });
    assert.is(run.code, 0, run.stderr);
    const lastRun = await project.run(['--last-run']);
    const reportPath = /^report: (.+\.html)$/m.exec(lastRun.stdout)?.[1];
    assert.ok(reportPath, `--last-run names the report: ${lastRun.stdout}`);
    const file = path.resolve(project.directory, reportPath!);
    assert.is(statSync(file).mode & 0o777, 0o600);
    const html = readFileSync(file, 'utf8');
    assert.not.match(html, /<(script|link|img)[^>]+(src|href)=["']?https?:/, 'nothing fetched from the network');

    const record = JSON.parse((await project.run(['--last-run', '--json'])).stdout) as { tasks: { task: string; outcome: string; attempts: number }[]; criticalPath: string[] };
    const { dom, screenshot } = openInChromium(file, true);
    assert.equal([...screenshot.subarray(1, 4)].map((byte) => String.fromCharCode(byte)).join(''), 'PNG');
    assert.ok(screenshot.length > 20_000, 'a screenshot with something drawn on it');
    for (const task of record.tasks) {
      const attribute = `data-task="${task.task}"`;
      assert.ok(dom.includes(`<tr class="task${record.criticalPath.includes(task.task) ? ' critical' : ''}" ${attribute}`), `${task.task} in the table`);
      assert.ok(new RegExp(`<g class="node outcome-${task.outcome}[^"]*" ${attribute.replace(/[[\]]/g, '\\$&')}`).test(dom), `${task.task} in the graph as ${task.outcome}`);
    }
    const ran = record.tasks.filter((task) => task.outcome === 'succeeded');
    assert.ok(ran.length >= 5);
    for (const task of ran) assert.ok(dom.includes(`<g class="row${record.criticalPath.includes(task.task) ? ' critical' : ''}" data-task="${task.task}">`), `${task.task} on the timeline`);
    // flaky failed once, then succeeded: two bars, the first a retried attempt.
    const flakyRow = /<g class="row[^"]*" data-task="flaky">(.*?)<\/g>/s.exec(dom)![1]!;
    assert.is(count(flakyRow, /class="attempt /g), 2);
    assert.match(flakyRow, /class="attempt outcome-retried" data-attempt="1"/);
    assert.match(flakyRow, /class="attempt outcome-succeeded" data-attempt="2"/);
    // The critical path: its rows and nodes marked, and its edges.
    assert.ok(record.criticalPath.length >= 2, `critical path: ${record.criticalPath.join(" -> ")}`);
    assert.is(count(dom, /<g class="row critical"/g), record.criticalPath.length);
    assert.is(count(dom, /<g class="node outcome-\w+ critical"/g), record.criticalPath.length);
    assert.ok(count(dom, /<path class="edge critical"/g) >= record.criticalPath.length - 1);
    // Each task that ran links its log file, which is there.
    const logLink = /<tr class="task[^"]*" data-task="validate">.*?<a href="([^"]+)">log<\/a>/s.exec(dom)?.[1];
    assert.ok(logLink, 'validate links its log');
    assert.ok(readFileSync(path.resolve(path.dirname(file), logLink!), 'utf8').length > 0);
    assert.match(dom, /<span class="count ran">\d+ ran<\/span>/);
  }),
));

test('--graph --format html: the example environment\'s graph as a page, grouped and readable in width; a dry run writes the plan the same way', withTimeout(180_000, async () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-graph-'));
  try {
    const graphFile = path.join(directory, 'graph.html');
    const graph = spawnSync(process.execPath, ['--import', 'tsx', 'deploy.ts', '--graph', '--format', 'html'], { cwd: repositoryRoot, encoding: 'utf8' });
    assert.is(graph.status, 0, graph.stderr);
    writeFileSync(graphFile, graph.stdout);
    const tasks = JSON.parse(spawnSync(process.execPath, ['--import', 'tsx', 'deploy.ts', '--graph', '--json'], { cwd: repositoryRoot, encoding: 'utf8' }).stdout) as { nodes: { id: string }[] };
    assert.ok(tasks.nodes.length >= 30);
    const { dom } = openInChromium(graphFile);
    for (const node of tasks.nodes) assert.ok(dom.includes(`data-task="${node.id.replaceAll('"', '&quot;')}"`), `${node.id} drawn`);
    const width = Number(/<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="(\d+)"/.exec(dom.slice(dom.indexOf('id="graph"')))![1]);
    assert.ok(width <= 1600, `the graph fits a screen's width (${width} px), not one row of every task`);
    assert.match(dom, /<g class="group">.*?>node-prep<\/text>/s);
    assert.match(dom, /<g class="group">.*?>base<\/text>/s);

    const plan = spawnSync(process.execPath, ['--import', 'tsx', 'deploy.ts', 'osdc', '--dry-run', '--format', 'html'], { cwd: repositoryRoot, encoding: 'utf8' });
    assert.is(plan.status, 0, plan.stderr);
    const planFile = path.join(directory, 'plan.html');
    writeFileSync(planFile, plan.stdout);
    const planned = openInChromium(planFile).dom;
    assert.match(planned, /<body data-kind="plan">/);
    assert.match(planned, /<g class="row" data-task="osdc">/);
    assert.match(planned, /class="attempt outcome-planned"/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}));

test.run();
