/** The candidate nearest to `input` by edit distance, if it is close enough to be a likely typo. */
export function suggestName(input: string, candidates: Iterable<string>): string | undefined {
  const names = [...candidates];
  // A task named without its namespace is the likeliest meaning.
  const namespaced = names.filter((name) => name.endsWith(`:${input}`)).sort();
  if (namespaced.length > 0) return namespaced[0];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of names) {
    const distance = editDistance(input, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  if (best === undefined) return undefined;
  const tolerance = Math.max(2, Math.floor(input.length / 3));
  if (bestDistance <= tolerance) return best;
  return undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]!;
}
