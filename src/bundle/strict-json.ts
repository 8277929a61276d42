/**
 * JSON as every implementation reads it the same way (SPEC §3): no byte-order mark, and no object
 * with the same member twice — JSON.parse keeps the last, other parsers the first, so a payload
 * with "version" twice could mean 1 to one client and 2 to another.
 */
import { utf8Decode } from './bytes.js';

export class StrictJsonError extends Error {}

export function parseStrictJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    // A BOM stays in the text and fails JSON.parse instead of being silently dropped.
    text = utf8Decode(bytes);
  } catch {
    throw new StrictJsonError('expected UTF-8');
  }
  const value: unknown = JSON.parse(text); // SyntaxError for anything that is not JSON
  assertNoDuplicateMembers(text);
  return value;
}

/** Call only on text JSON.parse accepted: it then only has to find keys, not validate syntax. */
function assertNoDuplicateMembers(text: string): void {
  const stack: { keys: Set<string> | null; expectKey: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) throw new StrictJsonError(`member "${key}" appears twice in one object`);
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ keys: null, expectKey: false });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
}
