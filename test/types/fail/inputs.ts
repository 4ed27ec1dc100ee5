// Each marked line must fail to compile with the given message: checked by test/unit/types.test.ts.
import { z } from 'zod';
import { task } from '../../../lib/dsl/define-tasks.js';

const deploy = task({ name: 'deploy', inputs: { cluster: z.enum(['mcm', 'osms', 'osdc']), replicas: z.number().default(1) } });

// expect-error: Property 'cluster' is missing
deploy.with({});
// expect-error: Type '"osdx"' is not assignable
deploy.with({ cluster: 'osdx' });
// expect-error: 'extra' does not exist
deploy.with({ cluster: 'osdc', extra: true });
// expect-error: Type 'string' is not assignable to type 'number'
deploy.with({ cluster: 'osdc', replicas: '3' });
// expect-error: this task takes inputs: depend on one instance, task.with({ input: value })
task({ name: 'needs-inputs', deps: [deploy] });
// expect-error: this task takes inputs: depend on one instance, task.with({ input: value })
task({ name: 'needs-inputs-computed', deps: () => [deploy] });
task({
  name: 'reads',
  inputs: { cluster: z.enum(['mcm']) },
  run: ({ inputs }) => {
    // expect-error: Property 'clustr' does not exist
    void inputs.clustr;
  },
});
