import type { TaskId } from '../dsl/ids.js';
import type { LastAttempt, Stamp, TaskRecord } from './state-store.js';

/** How many successful durations a task's record keeps, for scheduling and estimates. */
const historyLength = 10;

/** One change to an environment's state, as every store records it (the JSON store's journal lines). */
export type StateChange =
  | { readonly op: 'start'; readonly id: TaskId; readonly at: string }
  | { readonly op: 'success'; readonly id: TaskId; readonly stamp: Stamp }
  | { readonly op: 'finish'; readonly id: TaskId; readonly last: LastAttempt }
  | { readonly op: 'reset'; readonly id: TaskId }
  | { readonly op: 'reset-all' };

/** The task's record after `change` (undefined: the record is gone), from its record before. */
export function changedRecord(current: TaskRecord | undefined, change: Exclude<StateChange, { op: 'reset-all' }>): TaskRecord | undefined {
  const durations = current?.durations ?? [];
  switch (change.op) {
    case 'start':
      return { durations, ...(current?.last ? { last: current.last } : {}), startedAt: change.at };
    case 'success':
      return {
        stamp: change.stamp,
        last: { outcome: 'succeeded', startedAt: current?.startedAt ?? change.stamp.finishedAt, durationMs: change.stamp.durationMs },
        durations: [...durations, change.stamp.durationMs].slice(-historyLength),
      };
    case 'finish':
      return { durations, last: change.last };
    case 'reset':
      return undefined;
  }
}

/** Applies a change to the records in memory. */
export function applyChange(tasks: Map<TaskId, TaskRecord>, change: StateChange): void {
  if (change.op === 'reset-all') return tasks.clear();
  const record = changedRecord(tasks.get(change.id), change);
  if (record) tasks.set(change.id, record);
  else tasks.delete(change.id);
}
