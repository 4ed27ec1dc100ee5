import { parseTypedInputs } from '../dsl/instance-id.js';
import { TaskDefinitionError, type AnyTaskDefinition, type TaskInstance } from '../dsl/task.js';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import type { CatalogEntry } from './build-graph.js';

/**
 * Instances the command line names of tasks whose inputs are free values rather than things the environment
 * declares (no `instances` function): a file to load, a path to write, as go-task takes variables on its
 * command line (`bundle:load[file=/media/site.tar]`). Their inputs are validated by the task's schemas; a
 * task whose instances the environment declares is left to the graph, which names the ones there are.
 */
export function commandLineInstances(catalog: readonly CatalogEntry[], targets: readonly string[]): Result<Map<string, TaskInstance>, ConfigurationFailure> {
  const definitions = new Map<string, AnyTaskDefinition>();
  for (const entry of catalog) {
    const definition = 'inputs' in entry && 'definition' in entry ? (entry as TaskInstance).definition : (entry as AnyTaskDefinition);
    definitions.set(definition.name, definition);
  }
  const instances = new Map<string, TaskInstance>();
  for (const target of targets) {
    if (!target.includes('[')) continue;
    const parsed = parseTypedInputs(target);
    const definition = parsed ? definitions.get(parsed.name) : undefined;
    if (!parsed || !definition || definition.spec.instances !== undefined) continue;
    try {
      instances.set(target, definition.with(parsed.inputs));
    } catch (error) {
      if (!(error instanceof TaskDefinitionError)) throw error;
      const schemas = Object.keys(definition.spec.inputs ?? {}).join(', ');
      return fail({ reason: 'usage', message: `${target}: ${error.message.replace(/^inputs of task '[^']+' are invalid: /, 'input ')}`, hint: `task '${definition.name}' takes ${schemas} (${definition.definedAt.file}:${definition.definedAt.line})` });
    }
  }
  return ok(instances);
}
