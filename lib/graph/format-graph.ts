import type { TaskId } from '../dsl/ids.js';
import { unreachable } from '../failures.js';
import type { TaskGraph } from './build-graph.js';
import { jsonDocument } from '../dsl/json-document.js';

export const graphFormats = ['text', 'dot', 'mermaid', 'json'] as const;
export type GraphFormat = (typeof graphFormats)[number];

/** Renders the graph for people (text), Graphviz (dot), Mermaid, or machines (json). */
export function formatGraph(taskGraph: TaskGraph, format: GraphFormat): string {
  switch (format) {
    case 'text':
      return formatText(taskGraph);
    case 'dot':
      return formatDot(taskGraph);
    case 'mermaid':
      return formatMermaid(taskGraph);
    case 'json':
      return jsonDocument('graph', toJson(taskGraph));
    default:
      return unreachable(format);
  }
}

function describe(taskGraph: TaskGraph, id: TaskId): string {
  return taskGraph.nodes.get(id)!.instance.definition.spec.description ?? '';
}

function formatText(taskGraph: TaskGraph): string {
  const lines: string[] = [];
  const width = Math.max(0, ...[...taskGraph.nodes.keys()].map((id) => id.length));
  taskGraph.generations.forEach((generation, level) => {
    const parallel = generation.length > 1 ? ` (${generation.length} in parallel)` : '';
    lines.push(`level ${level + 1}${parallel}`);
    for (const id of generation) {
      const dependencies = taskGraph.nodes.get(id)!.dependencies;
      const after = dependencies.length > 0 ? `  <- ${dependencies.join(', ')}` : '';
      lines.push(`  ${id.padEnd(width)}${after}`.trimEnd());
    }
  });
  lines.push(`${taskGraph.nodes.size} tasks, ${taskGraph.graph.size} edges, ${taskGraph.generations.length} levels`);
  return `${lines.join('\n')}\n`;
}

function quoteDot(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function formatDot(taskGraph: TaskGraph): string {
  const lines = ['digraph onboarder {', '  rankdir=LR;', '  node [shape=box];'];
  for (const id of taskGraph.graph.nodes()) {
    const description = describe(taskGraph, id as TaskId);
    const tooltip = description ? `, tooltip=${quoteDot(description)}` : '';
    lines.push(`  ${quoteDot(id)} [label=${quoteDot(id)}${tooltip}];`);
  }
  taskGraph.graph.forEachEdge((_edge, _attributes, source, target) => {
    lines.push(`  ${quoteDot(source)} -> ${quoteDot(target)};`);
  });
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function formatMermaid(taskGraph: TaskGraph): string {
  const mermaidIds = new Map<string, string>();
  taskGraph.graph.nodes().forEach((id, index) => mermaidIds.set(id, `n${index}`));
  const escape = (text: string) => text.replace(/"/g, '#quot;');
  const lines = ['flowchart LR'];
  for (const [id, mermaidId] of mermaidIds) lines.push(`  ${mermaidId}["${escape(id)}"]`);
  taskGraph.graph.forEachEdge((_edge, _attributes, source, target) => {
    lines.push(`  ${mermaidIds.get(source)} --> ${mermaidIds.get(target)}`);
  });
  return `${lines.join('\n')}\n`;
}

function toJson(taskGraph: TaskGraph) {
  return {
    nodes: taskGraph.graph.nodes().map((id) => {
      const node = taskGraph.nodes.get(id as TaskId)!;
      const definition = node.instance.definition;
      return {
        id,
        task: definition.name,
        inputs: node.instance.inputs,
        description: definition.spec.description ?? null,
        definedAt: `${definition.definedAt.file}:${definition.definedAt.line}`,
        dependencies: node.dependencies,
      };
    }),
    edges: taskGraph.graph.mapEdges((_edge, _attributes, source, target) => ({ from: source, to: target })),
    generations: taskGraph.generations,
  };
}
