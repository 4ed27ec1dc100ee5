/** Replaces every known secret in text with `***`. Secrets shorter than 4 characters are not redacted. */
export class Redactor {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | undefined;

  constructor(secrets: Iterable<string> = []) {
    for (const secret of secrets) this.add(secret);
  }

  add(secret: string): void {
    if (secret.length < 4 || this.secrets.has(secret)) return;
    this.secrets.add(secret);
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

  /** Redacts every string inside a JSON-like value. */
  redactValue<Value>(value: Value): Value {
    if (!this.pattern) return value;
    return JSON.parse(this.redact(JSON.stringify(value))) as Value;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
