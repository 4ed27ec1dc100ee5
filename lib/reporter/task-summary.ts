import { formatLocation, type TaskId } from '../dsl/ids.js';
import type { AnyTaskDefinition } from '../dsl/task.js';
import type { TaskGraph } from '../graph/build-graph.js';

/** What `--summary TARGET` says of a task, as go-task's --summary: enough to use it without opening its file. */
export interface TaskSummary {
  readonly task: string;
  readonly description: string;
  readonly definedAt: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  /** The instances the environment has, for a task named without its inputs. */
  readonly instances: readonly string[];
  readonly deps: readonly string[];
  readonly after: readonly string[];
  readonly sources: readonly string[];
  readonly tools: readonly string[];
  readonly policy: string;
  readonly pool: string | null;
  /** Its batch key (an instance's), `*` for a task named without inputs, null when it runs alone. */
  readonly batch: string | null;
  readonly timeout: string | null;
  readonly retries: number;
  readonly estimate: string | null;
  readonly supportsDryRun: boolean;
}

const durationText = (value: unknown) => (value === undefined ? null : typeof value === 'number' ? `${value}ms` : String(value));

/** The summary of one instance (its deps resolved for the environment), or of a task with all its instances. */
export function summarizeTask(graph: TaskGraph, definition: AnyTaskDefinition, id?: TaskId): TaskSummary {
  const spec = definition.spec;
  const node = id ? graph.nodes.get(id) : undefined;
  const instances = [...graph.nodes.values()].filter((each) => each.instance.definition === definition).map((each) => each.instance.id).sort();
  const sources = node && spec.sources ? (typeof spec.sources === 'function' ? spec.sources(node.instance.inputs) : spec.sources) : Array.isArray(spec.sources) ? spec.sources : [];
  return {
    task: id ?? definition.name,
    description: spec.description ?? '',
    definedAt: formatLocation(definition.definedAt),
    inputs: node ? node.instance.inputs : Object.fromEntries(Object.keys(spec.inputs ?? {}).map((name) => [name, null])),
    instances: id ? [] : instances,
    deps: node ? node.dependencies.filter((dependency) => !node.orderOnly?.has(dependency)) : [],
    after: node ? [...(node.orderOnly ?? [])] : [],
    sources: sources.map((source: unknown) => (typeof source === 'string' ? source : `${(source as { path: string }).path} (optional)`)),
    tools: spec.tools ?? [],
    policy: spec.policy ?? 'fingerprint',
    pool: spec.pool ?? null,
    batch: node?.batch !== undefined ? node.batch.slice(node.batch.indexOf('\0') + 1) : spec.batch ? '*' : null,
    timeout: durationText(spec.timeout),
    retries: spec.retries ?? 0,
    estimate: durationText(spec.estimate),
    supportsDryRun: spec.supportsDryRun ?? false,
  };
}

export function formatTaskSummary(summary: TaskSummary): string {
  const lines = [`${summary.task}${summary.description ? `: ${summary.description}` : ''}`, `  defined at  ${summary.definedAt}`];
  const inputs = Object.entries(summary.inputs);
  if (inputs.length > 0) lines.push(`  inputs      ${inputs.map(([name, value]) => (value === null ? name : `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)).join(', ')}`);
  if (summary.instances.length > 0) lines.push(`  instances   ${summary.instances.join(', ')}`);
  if (summary.deps.length > 0) lines.push(`  deps        ${summary.deps.join(', ')}`);
  if (summary.after.length > 0) lines.push(`  after       ${summary.after.join(', ')} (ordering only)`);
  if (summary.sources.length > 0) lines.push(`  sources     ${summary.sources.join(', ')}`);
  if (summary.tools.length > 0) lines.push(`  tools       ${summary.tools.join(', ')}`);
  const settings = [`policy ${summary.policy}`, summary.pool ? `pool ${summary.pool}` : '', summary.batch === '*' ? 'ready instances of the same batch key run as one body' : summary.batch ? `runs as one body with the ready instances of batch ${summary.batch}` : '', summary.timeout ? `timeout ${summary.timeout}` : '', `retries ${summary.retries}`, summary.estimate ? `estimate ${summary.estimate}` : '', summary.supportsDryRun ? 'dry run lists its commands' : 'not walked by --dry-run'];
  lines.push(`  runs        ${settings.filter(Boolean).join(', ')}`);
  return `${lines.join('\n')}\n`;
}
