/**
 * Things tool helpers keep open across tasks of a run (pooled SSH connections). Helpers register a closer
 * when first used; the CLI closes them all when the run ends, without loading helpers nobody used.
 */
const closers = new Set<() => Promise<void>>();

export function registerRunResource(close: () => Promise<void>): void {
  closers.add(close);
}

export async function closeRunResources(): Promise<void> {
  const pending = [...closers];
  closers.clear();
  await Promise.all(pending.map((close) => close().catch(() => undefined)));
}
