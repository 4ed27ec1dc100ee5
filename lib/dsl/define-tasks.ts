import { callerLocation } from './call-site.js';
import { defineTask, type InputSchemas, type TaskHandle, type TaskSpec } from './task.js';

/**
 * Defines tasks for a project whose environments have type `Config`. Values flow down explicitly and typed:
 * `vars()` adds values for every task defined from the result (the global layer), `namespace()` groups tasks
 * under a prefix (`node-prep:copy-ssh-key`) and adds module values; a task reads them as `context.vars`.
 */
export interface TaskBuilder<Config, Vars> {
  task<Schemas extends InputSchemas = {}>(spec: TaskSpec<Schemas, Config, Vars>): TaskHandle<Schemas, Config, Vars>;
  namespace<ModuleVars extends object = {}>(name: string, vars?: ModuleVars): TaskBuilder<Config, Vars & ModuleVars>;
  vars<MoreVars extends object>(vars: MoreVars): TaskBuilder<Config, Vars & MoreVars>;
}

export function defineTasks<Config = unknown>(): TaskBuilder<Config, {}> {
  return builder<Config, {}>([], {});
}

function builder<Config, Vars>(namespace: readonly string[], vars: Vars): TaskBuilder<Config, Vars> {
  return {
    task: (spec) => defineTask(spec, namespace, vars, callerLocation()),
    namespace: (name, moduleVars) =>
      builder([...namespace, ...name.split(':')], { ...vars, ...(moduleVars ?? {}) } as Vars & NonNullable<typeof moduleVars>),
    vars: (moreVars) => builder(namespace, { ...vars, ...moreVars }),
  };
}

/** task() for projects that need no typed environment. */
export const task = defineTasks<unknown>().task;
