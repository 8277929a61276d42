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
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const j = closingQuote(text, i + 1);
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        // A key without escapes is its own text; only escaped keys need decoding to compare.
        const raw = text.slice(i + 1, j);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.keys.has(key)) throw new StrictJsonError(`member "${key}" appears twice in one object`);
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === 123 /* { */) stack.push({ keys: new Set(), expectKey: true });
    else if (c === 91 /* [ */) stack.push({ keys: null, expectKey: false });
    else if (c === 125 /* } */ || c === 93 /* ] */) stack.pop();
    else if (c === 44 /* , */) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
}

/** The index of the quote that ends the string starting at `from` (one not preceded by an odd run of backslashes). */
function closingQuote(text: string, from: number): number {
  let j = from;
  for (;;) {
    j = text.indexOf('"', j);
    let slashes = 0;
    while (text.charCodeAt(j - 1 - slashes) === 92) slashes++;
    if (slashes % 2 === 0) return j;
    j++;
  }
}
