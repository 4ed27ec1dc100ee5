import { parseTypedInputs } from '../dsl/instance-id.js';
import { TaskDefinitionError, type AnyTaskDefinition, type TaskInstance } from '../dsl/task.js';
import { fail, ok, type ConfigurationFailure, type Result } from '../failures.js';
import type { CatalogEntry } from './build-graph.js';

/**
 * Instances the command line names of tasks whose inputs are values a person gives (`commandLineInputs`): a
 * file to load, a path to write, as go-task takes variables on its command line
 * (`bundle:load[file=/media/site.tar]`). Their inputs are validated by the task's schemas; other tasks have
 * only the instances the catalog and the environment make, which the graph names when one is mistyped.
 */
export function commandLineInstances(catalog: readonly CatalogEntry[], targets: readonly string[]): Result<Map<string, TaskInstance>, ConfigurationFailure> {
  const definitions = new Map<string, AnyTaskDefinition>();
  // A catalog that is not a list of tasks is buildGraph's to report.
  for (const entry of Array.isArray(catalog) ? (catalog as unknown[]) : []) {
    if (typeof entry !== 'object' || entry === null) continue;
    const definition = 'definition' in entry ? (entry as TaskInstance).definition : (entry as AnyTaskDefinition);
    if (definition?.spec?.commandLineInputs) definitions.set(definition.name, definition);
  }
  const instances = new Map<string, TaskInstance>();
  for (const target of targets) {
    if (!target.includes('[')) continue;
    const parsed = parseTypedInputs(target);
    const definition = parsed ? definitions.get(parsed.name) : undefined;
    if (!parsed || !definition) continue;
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
