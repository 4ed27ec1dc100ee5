/**
 * JSON with object keys sorted at every level, so that `{a, b}` and `{b, a}` serialise the same. Otherwise
 * exactly JSON.stringify: `undefined`, functions and symbols are dropped from objects and become `null` in
 * arrays, non-finite numbers are `null`, `toJSON()` is honoured (a Date is its ISO string). Written
 * directly, without building a sorted copy of the value: it runs for every task on every run.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value) ?? 'null';
}

function serialize(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson: a BigInt value cannot be serialised as JSON');
    case 'object': {
      if (value === null) return 'null';
      const withToJson = value as { toJSON?: () => unknown };
      if (typeof withToJson.toJSON === 'function') return serialize(withToJson.toJSON());
      if (Array.isArray(value)) {
        let text = '[';
        for (let index = 0; index < value.length; index++) text += `${index > 0 ? ',' : ''}${serialize(value[index]) ?? 'null'}`;
        return `${text}]`;
      }
      const record = value as Record<string, unknown>;
      let text = '{';
      for (const key of Object.keys(record).sort()) {
        const member = serialize(record[key]);
        if (member === undefined) continue;
        text += `${text.length > 1 ? ',' : ''}${JSON.stringify(key)}:${member}`;
      }
      return `${text}}`;
    }
    default:
      return undefined;
  }
}
