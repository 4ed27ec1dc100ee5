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

/**
 * The task name and inputs of an instance id, as instanceId wrote them: values that read as JSON (numbers,
 * booleans, objects) are parsed, others are strings. Undefined for an id it cannot have written (a string
 * input holding ',' is ambiguous: such ids are not parsed).
 */
export function parseInstanceId(id: string): { readonly name: string; readonly inputs: Readonly<Record<string, unknown>> } | undefined {
  const parsed = parseTypedInputs(id);
  return parsed && instanceId(parsed.name, parsed.inputs) === id ? parsed : undefined;
}

/** A task name with inputs as a person types it: the keys in any order (parseInstanceId wants the id's own order). */
export function parseTypedInputs(id: string): { readonly name: string; readonly inputs: Readonly<Record<string, unknown>> } | undefined {
  const open = id.indexOf('[');
  if (open === -1) return { name: id, inputs: {} };
  if (!id.endsWith(']')) return undefined;
  const inputs: Record<string, unknown> = {};
  for (const pair of topLevelPairs(id.slice(open + 1, -1))) {
    const equals = pair.indexOf('=');
    if (equals <= 0) return undefined;
    const text = pair.slice(equals + 1);
    let value: unknown = text;
    if (/^(-?\d|true$|false$|null$|[[{"])/.test(text)) {
      try {
        const parsed: unknown = JSON.parse(text);
        // JSON as instanceId writes it; otherwise a string that only looks like JSON (`1.30`).
        if (canonicalJson(parsed) === text) value = parsed;
      } catch {
        // A string that only starts like JSON.
      }
    }
    inputs[pair.slice(0, equals)] = value;
  }
  return { name: id.slice(0, open), inputs };
}

/** `a=1,b={"x":[1,2]}` split at the commas outside JSON values (brackets, braces and strings). */
function topLevelPairs(text: string): string[] {
  const pairs: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (inString) {
      if (character === '\\') index++;
      else if (character === '"') inString = false;
    } else if (character === '"') inString = true;
    else if (character === '{' || character === '[') depth++;
    else if (character === '}' || character === ']') depth--;
    else if (character === ',' && depth === 0) {
      pairs.push(text.slice(start, index));
      start = index + 1;
    }
  }
  pairs.push(text.slice(start));
  return pairs;
}
