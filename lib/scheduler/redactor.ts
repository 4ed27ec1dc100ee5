/** Secrets shorter than this are not redacted: a 3-character value would blank out words all over the output. */
export const shortestRedacted = 4;

/**
 * Replaces every known secret in text with `***`. Secrets shorter than 4 characters are not redacted. A
 * secret of several lines (a private key, a credentials file) is also redacted line by line (lines of 8
 * characters or more): output comes in lines, so the whole never appears in one.
 */
export class Redactor {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | undefined;

  constructor(secrets: Iterable<string> = []) {
    for (const secret of secrets) this.add(secret);
  }

  add(secret: string): void {
    const values = [secret];
    if (/[\r\n]/.test(secret)) values.push(...secret.split(/\r?\n|\r/).map((line) => line.trim()).filter((line) => line.length >= 8));
    const added = values.filter((value) => value.length >= shortestRedacted && !this.secrets.has(value));
    if (added.length === 0) return;
    for (const value of added) this.secrets.add(value);
    const alternatives = [...this.secrets].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.pattern = new RegExp(alternatives.join('|'), 'g');
  }

  /** The length of the longest secret, 0 without any. */
  get longestSecret(): number {
    let longest = 0;
    for (const secret of this.secrets) longest = Math.max(longest, secret.length);
    return longest;
  }

  /**
   * A place at or before `at` to cut `text` without cutting a secret in two: text sent in pieces (a very
   * long line) is redacted piece by piece, and a secret split between two pieces would be in neither.
   */
  safeCut(text: string, at: number): number {
    let cut = at;
    for (let moved = true; moved; ) {
      moved = false;
      for (const secret of this.secrets) {
        const found = text.indexOf(secret, Math.max(0, cut - secret.length + 1));
        if (found !== -1 && found < cut) {
          cut = found;
          moved = true;
        }
      }
    }
    return cut;
  }

  redact(text: string): string {
    return this.pattern ? text.replace(this.pattern, '***') : text;
  }

  /**
   * Redacts every string (and key) inside a JSON-like value. Walked, not redacted as JSON text: there a
   * secret with a newline, a quote or a backslash is escaped and no longer matches.
   */
  redactValue<Value>(value: Value): Value {
    if (!this.pattern) return value;
    const walk = (item: unknown): unknown => {
      if (typeof item === 'string') return this.redact(item);
      if (Array.isArray(item)) return item.map(walk);
      if (item === null || typeof item !== 'object') return item;
      const redacted: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const [key, entry] of Object.entries(item)) redacted[this.redact(key)] = walk(entry);
      return redacted;
    };
    return walk(JSON.parse(JSON.stringify(value))) as Value;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
