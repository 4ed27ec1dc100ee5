import type { Writable } from 'node:stream';
import type { TaskId } from '../dsl/ids.js';
import type { EngineEvent } from '../scheduler/events.js';
import { describeRunReason } from '../scheduler/run-reason.js';
import { progressText } from './progress-text.js';
import { formatDuration, renderFailure } from './render-failure.js';
import type { Reporter } from './reporter.js';
import { summarizeRun, type SummaryOptions } from './summary.js';

interface RunningTask {
  readonly startedAt: number;
  readonly reason: string;
  lastLine: string;
  /** From history: how long it takes, and the longest chain from it to the end of the run. */
  readonly expectedMs?: number;
  readonly pathMs?: number;
}

export interface TtyStream extends Writable {
  readonly columns?: number;
}

const ansi = {
  up: (lines: number) => (lines > 0 ? `\u001b[${lines}A` : ''),
  clearBelow: '\u001b[0J',
  hideCursor: '\u001b[?25l',
  showCursor: '\u001b[?25h',
};

/**
 * The live view on a terminal: finished tasks scroll by as single lines; below them a block redrawn in
 * place shows every running task with its elapsed time and latest output line, done/total, and an ETA
 * from the duration history. Full output goes to the per-task log files. Colour unless NO_COLOR is set.
 */
export class TtyReporter implements Reporter {
  private readonly running = new Map<TaskId, RunningTask>();
  private total = 0;
  private finished = 0;
  private startedAt = Date.now();
  private estimateMs: number | undefined;
  private blockHeight = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly paint: (code: string, text: string) => string;
  private readonly summary: SummaryOptions;

  constructor(
    private readonly out: TtyStream,
    options: { readonly color: boolean; readonly refreshMs?: number; readonly logDirectory?: string } = { color: true },
  ) {
    this.summary = options;
    this.paint = options.color ? (code, text) => `\u001b[${code}m${text}\u001b[0m` : (_code, text) => text;
    if ((options.refreshMs ?? 200) > 0) {
      this.timer = setInterval(() => this.refresh(), options.refreshMs ?? 200);
      this.timer.unref();
    }
  }

  handle(event: EngineEvent): void {
    switch (event.type) {
      case 'run-started':
        this.total = event.tasks;
        this.startedAt = Date.parse(event.at);
        this.estimateMs = event.estimateMs;
        this.out.write(ansi.hideCursor);
        this.print(`run ${event.runId}: environment ${event.environment}, ${event.tasks} tasks`);
        return;
      case 'task-started':
        if (!this.running.has(event.task)) {
          this.running.set(event.task, {
            startedAt: Date.parse(event.at),
            reason: describeRunReason(event.reason),
            lastLine: '',
            ...(event.estimateMs !== undefined ? { expectedMs: event.estimateMs } : {}),
            ...(event.pathMs !== undefined ? { pathMs: event.pathMs } : {}),
          });
        }
        if (event.attempt > 1) this.print(`${this.paint('33', '↻')} ${event.task} attempt ${event.attempt}`);
        return;
      case 'task-command': {
        const task = this.running.get(event.task);
        if (task) task.lastLine = `$ ${event.command}`;
        return;
      }
      case 'task-output': {
        const task = this.running.get(event.task);
        if (task && event.line.trim() !== '') task.lastLine = event.line;
        return;
      }
      case 'task-progress': {
        const task = this.running.get(event.task);
        if (task) task.lastLine = progressText(event, 20);
        return;
      }
      case 'task-skipped':
        this.finished++;
        return;
      case 'task-succeeded': {
        this.finished++;
        const reason = this.running.get(event.task)?.reason ?? '';
        this.running.delete(event.task);
        this.print(`${this.paint('32', '✓')} ${event.task} ${this.paint('2', `${formatDuration(event.durationMs)} · ${reason}`)}`);
        return;
      }
      case 'task-failed':
        this.finished++;
        this.running.delete(event.task);
        this.print(`${this.paint('31', '✗')} ${renderFailure(event.failure)}`);
        if (event.failure.reason === 'exit-non-zero' && event.failure.outputTail) {
          for (const line of event.failure.outputTail.split('\n').slice(-10)) this.print(this.paint('2', `    ${line}`));
        }
        return;
      case 'task-blocked':
        this.finished++;
        this.print(`${this.paint('33', '⊘')} ${event.task} blocked: waiting on ${event.waitingOn}, which ${event.waitingOnOutcome === 'interrupted' ? 'was interrupted' : 'failed'}`);
        return;
      case 'task-retrying':
        this.print(`${this.paint('33', '!')} ${event.task} attempt ${event.attempt} failed; retrying in ${formatDuration(event.delayMs)}`);
        return;
      case 'warning':
        this.print(`${this.paint('33', 'warning:')} ${event.message}`);
        return;
      case 'run-finished':
        this.running.clear();
        for (const line of summarizeRun(event.record, this.summary)) this.print(line);
        return;
      case 'task-not-started':
      case 'task-command-finished':
        return;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.erase();
    this.closed = true;
    this.out.write(ansi.showCursor);
  }

  /** Prints a permanent line above the live block. */
  private print(line: string): void {
    this.erase();
    this.out.write(`${this.fit(line)}\n`);
    this.drawBlock();
  }

  /** Redraws the live block (the timer calls this every refreshMs). */
  refresh(): void {
    this.erase();
    this.drawBlock();
  }

  private erase(): void {
    if (this.blockHeight === 0) return;
    this.out.write(`${ansi.up(this.blockHeight)}\r${ansi.clearBelow}`);
    this.blockHeight = 0;
  }

  private drawBlock(): void {
    if (this.running.size === 0 || this.closed) return;
    const now = Date.now();
    const lines = [...this.running].map(([task, state]) => {
      const elapsed = formatDuration(now - state.startedAt).padStart(6);
      const tail = state.lastLine ? this.paint('2', `  ${state.lastLine}`) : '';
      return this.fit(`${this.paint('36', '⠿')} ${elapsed} ${task}${tail}`);
    });
    const elapsed = now - this.startedAt;
    const leftMs = this.timeLeftMs(now);
    const eta = leftMs === undefined ? '' : leftMs > 0 ? `, about ${formatDuration(leftMs)} left` : ', past its estimate';
    lines.push(this.paint('1', `${this.finished}/${this.total} done, ${this.running.size} running, ${formatDuration(elapsed)}${eta}`));
    this.out.write(`${lines.join('\n')}\n`);
    this.blockHeight = lines.length;
  }

  /**
   * What is left, from history: the run's estimate less the time gone, or, once the run has gone past it (a
   * slow host, a retry), the longest chain still ahead of a running task: what is left of that task (none
   * once it runs past its own estimate) and everything that must follow it. Undefined without history.
   */
  private timeLeftMs(now: number): number | undefined {
    if (this.estimateMs === undefined) return undefined;
    let left = this.estimateMs - (now - this.startedAt);
    for (const task of this.running.values()) {
      if (task.pathMs === undefined || task.expectedMs === undefined) continue;
      left = Math.max(left, task.pathMs - Math.min(now - task.startedAt, task.expectedMs));
    }
    return Math.max(0, left);
  }

  /** Cuts a line to the terminal width so the block's height is what we think it is. */
  private fit(line: string): string {
    const width = this.out.columns || 120; // a pty without a window size reports 0
    // eslint-disable-next-line no-control-regex
    const visible = line.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
    if (visible.length <= width) return line;
    return `${visible.slice(0, Math.max(1, width - 1))}…`;
  }
}
