import type { TaskId } from '../dsl/ids.js';
import type { EngineEvent } from '../scheduler/events.js';
import type { Reporter } from './reporter.js';

/** One attempt of a task on the run's clock: milliseconds after the run started. */
export interface AttemptSpan {
  readonly startMs: number;
  readonly endMs: number;
  /** `retried`: this attempt failed and another followed. */
  readonly outcome: 'succeeded' | 'failed' | 'retried' | 'interrupted';
}

/**
 * Collects when each attempt of each task started and ended, for the run's HTML report. Events arrive as
 * they happen, so an end is the time it was received; a start is the time the engine stamped on it.
 */
export class RunTimeline implements Reporter {
  private runStart = 0;
  private readonly open = new Map<TaskId, number>();
  readonly spans = new Map<TaskId, AttemptSpan[]>();

  constructor(private readonly now: () => number = Date.now) {}

  handle(event: EngineEvent): void {
    switch (event.type) {
      case 'run-started':
        this.runStart = Date.parse(event.at);
        break;
      case 'task-started':
        this.open.set(event.task, Date.parse(event.at) - this.runStart);
        break;
      case 'task-retrying':
        this.endAttempt(event.task, 'retried');
        break;
      case 'task-succeeded':
        this.endAttempt(event.task, 'succeeded');
        break;
      case 'task-failed':
        this.endAttempt(event.task, event.failure.reason === 'interrupted' ? 'interrupted' : 'failed');
        break;
      default:
        break;
    }
  }

  close(): void {}

  private endAttempt(task: TaskId, outcome: AttemptSpan['outcome']): void {
    const startMs = this.open.get(task);
    if (startMs === undefined) return;
    this.open.delete(task);
    let list = this.spans.get(task);
    if (!list) this.spans.set(task, (list = []));
    list.push({ startMs, endMs: Math.max(startMs, this.now() - this.runStart), outcome });
  }
}
