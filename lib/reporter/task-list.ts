import type { AnyTaskDefinition } from '../dsl/task.js';
import type { TaskGraph } from '../graph/build-graph.js';

/** `kubernetes[cluster]`: a task's name with the names of its inputs. */
function nameWithInputs(definition: AnyTaskDefinition): string {
  const inputs = Object.keys(definition.spec.inputs ?? {});
  return inputs.length === 0 ? definition.name : `${definition.name}[${inputs.join(',')}]`;
}

/**
 * `--list`: every task with its description, grouped by namespace; parameterised tasks show their inputs and
 * the instances the chosen environment has.
 */
export function formatTaskList(graph: TaskGraph): string {
  const groups = new Map<string, string[]>();
  const width = Math.max(0, ...[...graph.definitions.values()].map((definition) => nameWithInputs(definition).length));
  for (const definition of [...graph.definitions.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const group = definition.namespace.join(':') || '(top level)';
    const instances = [...graph.nodes.values()]
      .filter((node) => node.instance.definition === definition && node.instance.id !== definition.name)
      .map((node) => node.instance.id);
    let lines = groups.get(group);
    if (!lines) groups.set(group, (lines = []));
    lines.push(`  ${nameWithInputs(definition).padEnd(width)}  ${definition.spec.description ?? ''}`.trimEnd());
    for (const instance of instances.sort()) lines.push(`    ${instance}`);
  }
  const sections = [...groups].sort(([a], [b]) => (a === '(top level)' ? -1 : b === '(top level)' ? 1 : a.localeCompare(b)));
  return `${sections.map(([group, lines]) => `${group}\n${lines.join('\n')}`).join('\n\n')}\n`;
}
