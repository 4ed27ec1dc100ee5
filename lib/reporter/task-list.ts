import type { TaskGraph } from '../graph/build-graph.js';

/** One task of `--list`: its name, namespace, description, the names of its inputs and the instances the environment has. */
export interface TaskListEntry {
  readonly name: string;
  readonly namespace: string;
  readonly description: string;
  readonly inputs: readonly string[];
  readonly instances: readonly string[];
}

/** Every task the catalog defines, sorted by name, with the instances the chosen environment has. */
export function taskListEntries(graph: TaskGraph): TaskListEntry[] {
  return [...graph.definitions.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((definition) => ({
      name: definition.name,
      namespace: definition.namespace.join(':'),
      description: definition.spec.description ?? '',
      inputs: Object.keys(definition.spec.inputs ?? {}),
      instances: [...graph.nodes.values()]
        .filter((node) => node.instance.definition === definition && node.instance.id !== definition.name)
        .map((node) => node.instance.id)
        .sort(),
    }));
}

/**
 * `--list`: every task with its description, grouped by namespace; parameterised tasks show their inputs and
 * the instances the chosen environment has.
 */
export function formatTaskList(graph: TaskGraph): string {
  const groups = new Map<string, string[]>();
  const entries = taskListEntries(graph);
  const label = (entry: TaskListEntry) => (entry.inputs.length === 0 ? entry.name : `${entry.name}[${entry.inputs.join(',')}]`);
  const width = Math.max(0, ...entries.map((entry) => label(entry).length));
  for (const entry of entries) {
    const group = entry.namespace || '(top level)';
    let lines = groups.get(group);
    if (!lines) groups.set(group, (lines = []));
    lines.push(`  ${label(entry).padEnd(width)}  ${entry.description}`.trimEnd());
    for (const instance of entry.instances) lines.push(`    ${instance}`);
  }
  const sections = [...groups].sort(([a], [b]) => (a === '(top level)' ? -1 : b === '(top level)' ? 1 : a.localeCompare(b)));
  return `${sections.map(([group, lines]) => `${group}\n${lines.join('\n')}`).join('\n\n')}\n`;
}
