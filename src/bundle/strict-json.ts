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
  // A repeated member is one JSON.parse merged: the text then has more members than the value.
  // Only then are keys compared one by one, which names the member (and stays the rule if an
  // engine ever counted differently).
  if (membersInText(text) !== membersInValue(value)) assertNoDuplicateMembers(text);
  return value;
}

/**
 * Members of every object in JSON text JSON.parse accepted: its colons outside strings. Strings
 * are jumped over with indexOf, so the loop touches only the few characters between them.
 */
function membersInText(text: string): number {
  let members = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) i = closingQuote(text, i + 1);
    else if (c === 58 /* : */) members++;
  }
  return members;
}

/**
 * Own keys of every object in a parsed value (JSON.parse keeps "__proto__" as an own key). Without
 * repeated members each object of the text is one object here with as many keys; a repeated member
 * leaves one key fewer, and drops the objects inside the value it overwrote.
 */
function membersInValue(value: unknown): number {
  let members = 0;
  const pending: unknown[] = [value]; // a stack, not recursion: nesting depth is the sender's choice
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const item of v) if (typeof item === 'object' && item !== null) pending.push(item);
      continue;
    }
    const keys = Object.keys(v);
    members += keys.length;
    for (const k of keys) {
      const item = (v as Record<string, unknown>)[k];
      if (typeof item === 'object' && item !== null) pending.push(item);
    }
  }
  return members;
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
