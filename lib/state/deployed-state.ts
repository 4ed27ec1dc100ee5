import type { TaskId } from '../dsl/ids.js';
import { parseInstanceId } from '../dsl/instance-id.js';
import type { DeployedState } from '../dsl/task.js';
import { encodePath } from '../stamps/config-path.js';
import { recordedValue } from '../stamps/config-reads.js';
import type { StateStore } from './state-store.js';

/** What an environment's state says was deployed, for the graph's `instances` and `retires`. */
export function deployedState(store: Pick<StateStore, 'records'>): DeployedState {
  const stamped = [...store.records()].filter(([, record]) => record.stamp !== undefined).map(([id]) => id);
  return {
    stamped: () => stamped,
    stampedInputs: (task) => {
      const name = typeof task === 'string' ? task : task.name;
      return stamped.flatMap((id) => {
        const parsed = parseInstanceId(id);
        return parsed && parsed.name === name ? [parsed.inputs] : [];
      });
    },
    keptValue: (id: TaskId, path) => recordedValue(store.records().get(id)?.stamp?.components.config[encodePath(path)]),
  };
}
