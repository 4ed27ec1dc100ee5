// Compiles with the project (npm test runs tsc): the DSL's happy paths, including a lazy forward reference.
import { z } from 'zod';
import { defineTasks } from '../../lib/dsl/define-tasks.js';
import type { TaskInstance } from '../../lib/dsl/task.js';

interface Config {
  readonly clusters: Record<'mcm' | 'osms' | 'osdc', { readonly nodes: readonly string[] }>;
}
const tasks = defineTasks<Config>();
const deployCluster = tasks.task({
  name: 'deploy-cluster',
  inputs: { cluster: z.enum(['mcm', 'osms', 'osdc']) },
  deps: () => [later],
  run: ({ inputs, config }) => {
    const nodes: readonly string[] = config.clusters[inputs.cluster].nodes;
    void nodes;
  },
});
const later: TaskInstance = tasks.task({ name: 'later' });
export const osdc = tasks.task({ name: 'osdc', deps: [deployCluster.with({ cluster: 'osdc' }), later] });
