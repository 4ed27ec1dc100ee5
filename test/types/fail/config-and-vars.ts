// Each marked line must fail to compile with the given message: checked by test/unit/types.test.ts.
import { defineTasks } from '../../../lib/dsl/define-tasks.js';

interface Config {
  readonly clusters: Record<'mcm' | 'osdc', { readonly nodes: readonly string[] }>;
}
const tasks = defineTasks<Config>().vars({ domain: 'example.test' });
const prep = tasks.namespace('node-prep', { hosts: 'infrastructure_cluster' });

prep.task({
  name: 'copy-ssh-key',
  run: ({ config, vars }) => {
    const hosts: string = vars.hosts;
    const domain: string = vars.domain;
    void [hosts, domain];
    // expect-error: Property 'osms' does not exist
    void config.clusters.osms;
    // expect-error: Property 'hostz' does not exist
    void vars.hostz;
  },
});
// expect-error: Type '"sometimes"' is not assignable to type '"fingerprint" | "always" | undefined'
tasks.task({ name: 'x', policy: 'sometimes' });
// expect-error: Type '"10 minutes"' is not assignable to type 'Duration
tasks.task({ name: 'y', timeout: '10 minutes' });
