import type { z } from 'zod';

/** zod's first problem with a value, where it is and in words (what every checked file and input reports). */
export type SchemaIssue = { readonly path: readonly PropertyKey[]; readonly message: string };

/**
 * The first problem zod found, described for the person who wrote the value: an unknown key by name, a
 * missing one as missing, and a value that is none of a union's forms by the form it took (an object with a
 * wrong field: that field, where it is), else by the union's own message, else by what each form expects,
 * never zod's bare "Invalid input".
 */
export function firstIssue(error: { readonly issues: readonly z.core.$ZodIssue[] }): SchemaIssue {
  return described(error.issues[0]!);
}

/** The first problem as one line: `key.path: message`, or the message alone at the top. */
export function issueLine(error: { readonly issues: readonly z.core.$ZodIssue[] }): string {
  const issue = firstIssue(error);
  const where = issue.path.map(String).join('.');
  return where ? `${where}: ${issue.message}` : issue.message;
}

function described(issue: z.core.$ZodIssue): SchemaIssue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return { path: issue.path, message: message(issue) };
  const tookItsShape = (branch: z.core.$ZodIssue[]) => branch.length > 0 && (branch[0]!.path.length > 0 || (branch[0]!.code !== 'invalid_type' && branch[0]!.code !== 'invalid_value'));
  const [closest] = issue.errors.filter(tookItsShape).sort((a, b) => a.length - b.length);
  if (closest) {
    const inner = described(closest[0]!);
    return { path: [...issue.path, ...inner.path], message: inner.message };
  }
  if (issue.message !== 'Invalid input') return { path: issue.path, message: issue.message };
  const expected = [...new Set(issue.errors.map((branch) => branch[0]?.message).filter((text): text is string => Boolean(text)))];
  return { path: issue.path, message: expected.length > 0 ? expected.join('; or ') : issue.message };
}

function message(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `'${key}'`).join(', ')}`;
  if (issue.code === 'invalid_key') return issue.issues[0]?.message ?? issue.message;
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) return `is missing (expected ${issue.expected})`;
  return issue.message;
}
