import type { TaskId } from '../dsl/ids.js';

/**
 * make's order: depth first from the roots, each task after its dependencies, dependencies in the order
 * they were declared. The position of each task; a task reached twice keeps its first position. Iterative,
 * so a chain of 10,000 tasks does not exhaust the stack.
 */
export function declarationOrder(dependenciesOf: (id: TaskId) => readonly TaskId[], roots: Iterable<TaskId>): Map<TaskId, number> {
  const order = new Map<TaskId, number>();
  const entered = new Set<TaskId>();
  for (const root of roots) {
    if (entered.has(root)) continue;
    entered.add(root);
    const stack: { id: TaskId; next: number }[] = [{ id: root, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const dependencies = dependenciesOf(top.id);
      if (top.next < dependencies.length) {
        const dependency = dependencies[top.next++]!;
        if (!entered.has(dependency)) {
          entered.add(dependency);
          stack.push({ id: dependency, next: 0 });
        }
        continue;
      }
      stack.pop();
      order.set(top.id, order.size);
    }
  }
  return order;
}
