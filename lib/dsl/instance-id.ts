import { canonicalJson } from './canonical-json.js';
import type { TaskId } from './ids.js';

/**
 * The id of a task bound to inputs: the name alone without inputs, else `name[key=value,...]` with keys
 * sorted, strings bare and other values as canonical JSON. Key order never changes the id.
 */
export function instanceId(name: string, inputs: Readonly<Record<string, unknown>>): TaskId {
  const keys = Object.keys(inputs).filter((key) => inputs[key] !== undefined).sort();
  if (keys.length === 0) return name as TaskId;
  const pairs = keys.map((key) => {
    const value = inputs[key];
    return `${key}=${typeof value === 'string' ? value : canonicalJson(value)}`;
  });
  return `${name}[${pairs.join(',')}]` as TaskId;
}
