/**
 * An empty record for values keyed by data (task ids, file paths, configuration paths), not by field names.
 *
 * Why not `{}`: V8 gives each plain object that gains a new key a new hidden class, recorded as a
 * transition of the shared root class. Thousands of distinct keys fill that root's transition table, and
 * from then on every object built by adding properties (Node's own nextTick and stream objects included)
 * gets a fresh, unshared hidden class: measured as ~14 extra classes per task on a 2000-task run, garbage
 * only a full GC frees, which is most of the run's memory growth. A null-prototype object starts in
 * dictionary mode and adds no transitions. It serialises, spreads and enumerates like `{}`.
 */
export function keyedRecord<Value>(): Record<string, Value> {
  return Object.create(null) as Record<string, Value>;
}
