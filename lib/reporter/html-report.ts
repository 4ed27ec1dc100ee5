import { layoutGraph, type GraphLayout } from './graph-layout.js';
import { formatDuration } from './render-failure.js';
import type { AttemptSpan } from './run-timeline.js';

/** One task as the report shows it. */
export interface ReportTask {
  readonly id: string;
  /** Its box in the graph: a namespace, or the instances of one task. */
  readonly group: string;
  readonly level: number;
  readonly dependencies: readonly string[];
  /** The run's outcome, or `planned` / `up-to-date` in a plan, `task` in a bare graph. */
  readonly outcome: string;
  readonly reason: string;
  readonly durationMs?: number;
  readonly attempts?: number;
  readonly spans: readonly AttemptSpan[];
  readonly logHref?: string;
  readonly critical: boolean;
}

export interface ReportModel {
  /** A run (bars on a time axis), a plan (bars by level, no times), or a graph alone. */
  readonly kind: 'run' | 'plan' | 'graph';
  readonly title: string;
  readonly subtitle: string;
  readonly counts: readonly (readonly [label: string, count: number])[];
  readonly tasks: readonly ReportTask[];
}

/**
 * A self-contained HTML page (inline CSS, SVG and a few lines of script; nothing fetched): the summary
 * counts, a timeline with one bar per attempt (a wait before it in grey: dependencies done but no slot
 * or pool place free), the graph laid out by level with groups boxed, and a table of every task with its
 * reason, duration, attempts and log. Tasks on the critical path are marked everywhere (class `critical`).
 */
export function renderHtmlReport(model: ReportModel): string {
  const sections = [
    model.kind === 'graph' ? '' : section('timeline', model.kind === 'plan' ? 'Order (by level)' : 'Timeline', timelineSvg(model)),
    section('graph', 'Graph', graphSvg(model.tasks)),
    model.kind === 'graph' ? '' : section('tasks', 'Tasks', taskTable(model)),
  ];
  const counts = model.counts.map(([label, count]) => `<span class="count ${cssName(label)}">${count} ${escapeHtml(label)}</span>`).join(' ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(model.title)}</title>
<style>${styles}</style></head>
<body data-kind="${model.kind}">
<header><h1>${escapeHtml(model.title)}</h1><p class="subtitle">${escapeHtml(model.subtitle)}</p><p class="counts">${counts}</p>
<p class="legend">${legend}</p></header>
${sections.join('\n')}
<script>${script}</script>
</body></html>
`;
}

const outcomes = ['succeeded', 'failed', 'retried', 'interrupted', 'skipped', 'blocked', 'not-started', 'planned', 'up-to-date', 'task'] as const;
const legend = [...outcomes.filter((outcome) => outcome !== 'task').map((outcome) => `<span class="swatch outcome-${outcome}"></span>${outcome}`), '<span class="swatch wait"></span>waiting for a slot or pool', '<span class="swatch critical-mark"></span>critical path'].join(' ');

const styles = `
body{font:13px system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:24px 0 8px}
.subtitle{color:#555;margin:0 0 8px}.count{display:inline-block;padding:2px 8px;border-radius:10px;background:#e0e0e0;margin-right:4px}
.count.succeeded,.count.ran{background:#c8e6c9}.count.failed{background:#ffcdd2}.count.interrupted{background:#e1bee7}.count.blocked{background:#d7ccc8}
.legend{color:#555}.swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle;border-radius:2px}
.scroll{overflow:auto;border:1px solid #ddd;background:#fff}
svg text{font:11px system-ui,sans-serif;fill:#222}
.outcome-succeeded{fill:#43a047;background:#43a047}.outcome-failed{fill:#e53935;background:#e53935}.outcome-retried{fill:#fb8c00;background:#fb8c00}
.outcome-interrupted{fill:#8e24aa;background:#8e24aa}.outcome-skipped,.outcome-up-to-date{fill:#bdbdbd;background:#bdbdbd}.outcome-blocked{fill:#8d6e63;background:#8d6e63}
.outcome-not-started{fill:#e0e0e0;background:#e0e0e0}.outcome-planned{fill:#1e88e5;background:#1e88e5}.outcome-task{fill:#90caf9;background:#90caf9}
.wait{fill:#cfd8dc;background:#cfd8dc}.critical-mark{background:#fff;border:2px solid #d81b60;box-sizing:border-box}
.node rect.body{stroke:#fff;stroke-width:1}.node text{fill:#111}.node.outcome-skipped text,.node.outcome-up-to-date text{fill:#333}
.critical rect.body,.critical rect.attempt{stroke:#d81b60;stroke-width:2.5}
.row.critical text.label{font-weight:bold;fill:#d81b60}
.group rect{fill:#f5f7fa;stroke:#cfd8dc}.group text{fill:#546e7a;font-weight:600}
.level text{fill:#78909c}.level line{stroke:#eceff1}
.edge{fill:none;stroke:#b0bec5;stroke-width:1}.edge.critical{stroke:#d81b60;stroke-width:2}
.edge.lit{stroke:#1565c0;stroke-width:2}.node.lit rect.body{stroke:#1565c0;stroke-width:3}
.axis line{stroke:#e0e0e0}.axis text{fill:#777}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #e0e0e0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eceff1}tr.critical td:first-child{font-weight:bold;color:#d81b60}td.outcome span{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
`;

/** Hovering a task of the graph lights its edges and the tasks at their other ends. */
const script = `
document.querySelectorAll('#graph .node').forEach(function (node) {
  var id = node.getAttribute('data-task');
  function light(on) {
    document.querySelectorAll('#graph .edge').forEach(function (edge) {
      if (edge.getAttribute('data-from') === id || edge.getAttribute('data-to') === id) {
        edge.classList.toggle('lit', on);
        var other = edge.getAttribute('data-from') === id ? edge.getAttribute('data-to') : edge.getAttribute('data-from');
        var peer = document.querySelector('#graph .node[data-task="' + CSS.escape(other) + '"]');
        if (peer) peer.classList.toggle('lit', on);
      }
    });
  }
  node.addEventListener('mouseenter', function () { light(true); });
  node.addEventListener('mouseleave', function () { light(false); });
});
`;

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2><div class="scroll">${body}</div></section>`;
}

const rowHeight = 22;
const labelWidth = 300;
const chartWidth = 900;

/** The run's attempts on a time axis; for a plan, one bar per task at its level. */
function timelineSvg(model: ReportModel): string {
  const rows = model.kind === 'plan' ? model.tasks.filter((task) => task.outcome === 'planned') : model.tasks.filter((task) => task.spans.length > 0);
  if (rows.length === 0) return '<p class="empty">Nothing ran.</p>';
  const ordered = [...rows].sort((a, b) => firstStart(a, model.kind) - firstStart(b, model.kind) || a.id.localeCompare(b.id));
  const levels = Math.max(...rows.map((task) => task.level));
  const endMs = model.kind === 'plan' ? levels : Math.max(1, ...rows.flatMap((task) => task.spans.map((span) => span.endMs)));
  const scale = chartWidth / endMs;
  const top = 20;
  const height = top + ordered.length * rowHeight + 4;
  const parts: string[] = [];
  for (const [tick, label] of model.kind === 'plan' ? levelTicks(levels) : timeTicks(endMs)) {
    const x = labelWidth + tick * scale;
    parts.push(`<g class="axis"><line x1="${x}" y1="${top - 4}" x2="${x}" y2="${height}"/><text x="${x + 2}" y="${top - 8}">${escapeHtml(label)}</text></g>`);
  }
  const byId = new Map(model.tasks.map((task) => [task.id, task]));
  ordered.forEach((task, index) => {
    const y = top + index * rowHeight;
    const bars: string[] = [];
    if (model.kind === 'plan') {
      bars.push(`<rect class="attempt outcome-planned" x="${labelWidth + (task.level - 1) * scale}" y="${y + 3}" width="${Math.max(2, scale - 2)}" height="${rowHeight - 6}" rx="2"><title>${escapeHtml(`${task.id}: level ${task.level}, ${task.reason}`)}</title></rect>`);
    } else {
      const readyMs = Math.max(0, ...task.dependencies.flatMap((dependency) => byId.get(dependency)?.spans.at(-1)?.endMs ?? []));
      const firstMs = task.spans[0]!.startMs;
      if (firstMs - readyMs > 0) {
        bars.push(`<rect class="wait" x="${labelWidth + readyMs * scale}" y="${y + 7}" width="${(firstMs - readyMs) * scale}" height="${rowHeight - 14}"><title>${escapeHtml(`${task.id} waited ${formatDuration(firstMs - readyMs)} for a slot or its pool`)}</title></rect>`);
      }
      task.spans.forEach((span, attempt) => {
        const title = `${task.id}: attempt ${attempt + 1}, ${span.outcome}, ${formatDuration(span.endMs - span.startMs)}`;
        bars.push(`<rect class="attempt outcome-${span.outcome}" data-attempt="${attempt + 1}" x="${labelWidth + span.startMs * scale}" y="${y + 3}" width="${Math.max(2, (span.endMs - span.startMs) * scale)}" height="${rowHeight - 6}" rx="2"><title>${escapeHtml(title)}</title></rect>`);
      });
    }
    parts.push(`<g class="row${task.critical ? ' critical' : ''}" data-task="${escapeHtml(task.id)}"><text class="label" x="4" y="${y + 15}">${escapeHtml(shorten(task.id, 46))}</text>${bars.join('')}</g>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + chartWidth + 40}" height="${height}">${parts.join('\n')}</svg>`;
}

function firstStart(task: ReportTask, kind: ReportModel['kind']): number {
  return kind === 'plan' ? task.level : (task.spans[0]?.startMs ?? Number.MAX_SAFE_INTEGER);
}

function levelTicks(levels: number): [number, string][] {
  return Array.from({ length: levels }, (_, index) => [index, `level ${index + 1}`]);
}

/** About eight ticks at a round step: 1 s, 5 s, 10 s, 30 s, 1 min, 5 min... */
function timeTicks(endMs: number): [number, string][] {
  const steps = [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000];
  const step = steps.find((candidate) => endMs / candidate <= 10) ?? 3_600_000;
  const ticks: [number, string][] = [];
  for (let at = 0; at <= endMs; at += step) ticks.push([at, at === 0 ? '0' : formatDuration(at)]);
  return ticks;
}

/** The graph, laid out by level with groups boxed; edges from a dependency down to its dependent. */
function graphSvg(tasks: readonly ReportTask[]): string {
  const layout: GraphLayout = layoutGraph(tasks);
  const margin = 10;
  const parts: string[] = [];
  for (const level of layout.levels) {
    parts.push(`<g class="level"><line x1="0" y1="${level.y - 20}" x2="${layout.width}" y2="${level.y - 20}"/><text x="4" y="${level.y + 14}">level ${level.level}</text></g>`);
  }
  for (const group of layout.groups) {
    parts.push(`<g class="group"><rect x="${group.x}" y="${group.y}" width="${group.width}" height="${group.height}" rx="6"/><text x="${group.x + 8}" y="${group.y + 14}">${escapeHtml(group.label)}</text></g>`);
  }
  const critical = new Set(tasks.filter((task) => task.critical).map((task) => task.id));
  for (const task of tasks) {
    const to = layout.tasks.get(task.id)!;
    for (const dependency of task.dependencies) {
      const from = layout.tasks.get(dependency);
      if (!from) continue;
      const [x1, y1, x2, y2] = [from.x + from.width / 2, from.y + from.height, to.x + to.width / 2, to.y];
      const bend = Math.max(20, (y2 - y1) / 2);
      const onPath = critical.has(task.id) && critical.has(dependency);
      parts.push(`<path class="edge${onPath ? ' critical' : ''}" data-from="${escapeHtml(dependency)}" data-to="${escapeHtml(task.id)}" d="M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}"/>`);
    }
  }
  for (const task of tasks) {
    const box = layout.tasks.get(task.id)!;
    const tip = `${task.id}: ${task.outcome}${task.durationMs !== undefined ? `, ${formatDuration(task.durationMs)}` : ''}${task.reason ? ` (${task.reason})` : ''}`;
    parts.push(
      `<g class="node outcome-${task.outcome}${task.critical ? ' critical' : ''}" data-task="${escapeHtml(task.id)}"><title>${escapeHtml(tip)}</title>` +
        `<rect class="body outcome-${task.outcome}" x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}" rx="4" fill-opacity="0.35"/>` +
        `<text x="${box.x + 6}" y="${box.y + 19}">${escapeHtml(shorten(task.id, 32))}</text></g>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width + margin * 2}" height="${layout.height + margin * 2 + 20}"><g transform="translate(${margin},${margin + 20})">${parts.join('\n')}</g></svg>`;
}

function taskTable(model: ReportModel): string {
  const rows = [...model.tasks]
    .sort((a, b) => a.level - b.level || a.id.localeCompare(b.id))
    .map((task) => {
      const log = task.logHref ? `<a href="${escapeHtml(task.logHref)}">log</a>` : '';
      const duration = task.durationMs !== undefined && task.spans.length > 0 ? formatDuration(task.durationMs) : '';
      return `<tr class="task${task.critical ? ' critical' : ''}" data-task="${escapeHtml(task.id)}"><td>${escapeHtml(task.id)}</td><td class="outcome"><span class="outcome-${task.outcome}"></span>${escapeHtml(task.outcome)}</td><td>${escapeHtml(task.reason)}</td><td>${duration}</td><td>${task.attempts ?? ''}</td><td>${task.level}</td><td>${log}</td></tr>`;
    });
  return `<table><thead><tr><th>task</th><th>outcome</th><th>why</th><th>duration</th><th>attempts</th><th>level</th><th>log</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

function shorten(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

function cssName(label: string): string {
  return label.replace(/[^a-z-]/gi, '-');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[character]!);
}
