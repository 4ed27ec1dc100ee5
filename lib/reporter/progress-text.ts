import type { EngineEvent } from '../scheduler/events.js';
import { formatDuration } from './render-failure.js';

type ProgressEvent = Extract<EngineEvent, { type: 'task-progress' }>;

const byteUnits = ['B', 'KB', 'MB', 'GB', 'TB'];

/** A size in bytes, as people read it (1000-based, as download tools and disks count). */
export function bytesText(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < byteUnits.length - 1) (value /= 1000), unit++;
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${byteUnits[unit]}`;
}

/** `ubuntu-cloud: 1.2 GB of 2.6 GB (45%), 24.0 MB/s, about 1m left`; a bar before it when `barWidth` is given. */
export function progressText(event: ProgressEvent, barWidth = 0): string {
  const amount = (value: number) => (event.unit === 'bytes' ? bytesText(value) : String(Math.round(value)));
  const parts = [event.total !== undefined ? `${amount(event.done)} of ${amount(event.total)} (${percent(event)}%)` : amount(event.done)];
  if (event.perSecond !== undefined && event.perSecond > 0) parts.push(`${amount(event.perSecond)}/s`);
  if (event.leftMs !== undefined && event.total !== undefined && event.done < event.total) parts.push(`about ${formatDuration(Math.ceil(event.leftMs / 1000) * 1000)} left`);
  const bar = barWidth > 0 && event.total !== undefined ? `[${'#'.repeat(Math.round((percent(event) / 100) * barWidth)).padEnd(barWidth, '-')}] ` : '';
  return `${bar}${event.what}: ${parts.join(', ')}`;
}

function percent(event: ProgressEvent): number {
  return event.total ? Math.min(100, Math.floor((event.done / event.total) * 100)) : 0;
}

/** How often plain output and log files get a progress line: a CI log of a 20-minute download stays readable. */
export const progressLineEveryMs = 10_000;

/** Decides which progress events become a plain line: the first, one every progressLineEveryMs, and the last. */
export class ProgressLines {
  private readonly lastAt = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  due(event: ProgressEvent): boolean {
    const key = `${event.task}\u0000${event.what}`;
    const now = this.now();
    const last = this.lastAt.get(key);
    const finished = event.total !== undefined && event.done >= event.total;
    if (finished) this.lastAt.delete(key);
    else if (last !== undefined && now - last < progressLineEveryMs) return false;
    else this.lastAt.set(key, now);
    return true;
  }
}
