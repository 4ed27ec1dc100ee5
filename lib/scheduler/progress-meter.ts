import type { ProgressUnit } from '../dsl/context.js';
import type { TaskId } from '../dsl/ids.js';
import type { EngineEvent } from './events.js';
import type { Redactor } from './redactor.js';

/** How often a task's progress reaches the reporters at most: the live view redraws every 200 ms. */
export const progressEveryMs = 250;

interface Measured {
  readonly firstAt: number;
  readonly firstDone: number;
  lastSentAt: number;
}

/**
 * Turns a task's progress reports into `task-progress` events: at most one every progressEveryMs per thing
 * measured (always the first and the last, done of total), each with the rate since the first report and the
 * time left at that rate.
 */
export class ProgressMeter {
  private readonly measured = new Map<string, Measured>();

  constructor(
    private readonly task: TaskId,
    private readonly emit: (event: EngineEvent) => void,
    private readonly redactor: Redactor,
    private readonly now: () => number = Date.now,
  ) {}

  report(what: string, done: number, total: number | undefined, unit: ProgressUnit): void {
    const now = this.now();
    let measured = this.measured.get(what);
    const finished = total !== undefined && done >= total;
    if (!measured) this.measured.set(what, (measured = { firstAt: now, firstDone: done, lastSentAt: -Infinity }));
    else if (!finished && now - measured.lastSentAt < progressEveryMs) return;
    measured.lastSentAt = now;
    const seconds = (now - measured.firstAt) / 1000;
    const perSecond = seconds > 0 ? (done - measured.firstDone) / seconds : undefined;
    const leftMs = total !== undefined && perSecond !== undefined && perSecond > 0 ? Math.max(0, ((total - done) / perSecond) * 1000) : undefined;
    this.emit({
      type: 'task-progress',
      task: this.task,
      what: this.redactor.redact(what),
      done,
      ...(total !== undefined ? { total } : {}),
      unit,
      ...(perSecond !== undefined ? { perSecond } : {}),
      ...(leftMs !== undefined ? { leftMs } : {}),
    });
    if (finished) this.measured.delete(what);
  }
}
