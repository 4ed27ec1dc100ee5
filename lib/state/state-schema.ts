import { z } from 'zod';

/**
 * The shapes of the state files, checked on load: a stamp or record of the wrong shape (an edit by hand, a
 * file from another tool) is refused with its file and key, not met later as a TypeError inside a task.
 */
const digests = z.record(z.string(), z.string());

const stamp = z.object({
  fingerprint: z.string(),
  components: z.object({
    task: z.string(),
    inputs: digests,
    definition: z.string(),
    sources: digests,
    tools: digests,
    dependencies: digests,
    config: digests,
  }),
  finishedAt: z.string(),
  durationMs: z.number().nonnegative(),
});

const lastAttempt = z.object({
  outcome: z.enum(['succeeded', 'failed', 'interrupted']),
  startedAt: z.string(),
  durationMs: z.number().nonnegative(),
  summary: z.string().optional(),
  failure: z.looseObject({ reason: z.string() }).optional(),
});

const taskRecord = z.object({
  stamp: stamp.optional(),
  last: lastAttempt.optional(),
  startedAt: z.string().optional(),
  durations: z.array(z.number().nonnegative()),
});

export const snapshotSchema = z.object({ version: z.literal(1), tasks: z.record(z.string(), taskRecord) });

export const journalEntrySchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('start'), id: z.string(), at: z.string() }),
  z.object({ op: z.literal('success'), id: z.string(), stamp }),
  z.object({ op: z.literal('finish'), id: z.string(), last: lastAttempt }),
  z.object({ op: z.literal('reset'), id: z.string() }),
  z.object({ op: z.literal('reset-all') }),
]);

const taskOutcome = z.enum(['succeeded', 'failed', 'skipped', 'blocked', 'not-started', 'interrupted']);

/** A run record (runs/<run>.json), as --summary reads it. */
export const runRecordSchema = z.object({
  runId: z.string(),
  environment: z.string(),
  targets: z.array(z.string()),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number(),
  outcome: z.enum(['succeeded', 'failed', 'interrupted']),
  tasks: z.array(z.looseObject({ task: z.string(), outcome: taskOutcome, attempts: z.number(), durationMs: z.number() })),
  criticalPath: z.array(z.string()),
  counts: z.record(z.string(), z.number()),
});
