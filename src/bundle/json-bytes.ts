/**
 * The JSON reader of the fast paths (pins-reader.ts, envelope.ts): one pass over the bytes of the
 * common case, no tree, no decoded copy of the whole input. It reads only a known shape with plain
 * ASCII strings; on anything else it leaves the fast path (offFastPath) and the caller's general
 * reader (strict-json.ts) decides, with its exact error. So a fast path never refuses anything
 * itself: it only ever accepts what the general reader accepts (test/bundle/fast-path.test.ts).
 * Bytes outside strings must be JSON's ASCII tokens, so checking each string's bytes checks all.
 */
import { utf8Decode } from './bytes.js';

const OFF = Object.freeze({ offFastPath: true });

/** Leaves the fast path: the general reader reads the input instead. */
export function offFastPath(): never {
  throw OFF;
}

/** `read`'s result, or null when the input left the fast path. */
export function fastPathOrNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch (e) {
    if (e === OFF) return null;
    throw e;
  }
}

/** Member names as bytes, for member(). */
export function memberNames(...names: string[]): Uint8Array[] {
  return names.map((n) => Uint8Array.from(n, (c) => c.charCodeAt(0)));
}

export class ByteJson {
  /** The next byte to read. */
  i = 0;

  /**
   * `text`: the input as a string of the same length (ASCII), when the caller has one; strings are
   * then slices of it (no copy on V8) instead of decoded one by one.
   */
  constructor(
    readonly b: Uint8Array,
    readonly text?: string,
  ) {}

  /** The index of the next '"' from `from`, or -1 (a string search is native and fast on V8). */
  quoteFrom(from: number): number {
    return this.text !== undefined ? this.text.indexOf('"', from) : this.b.indexOf(34, from);
  }

  /** Skips JSON whitespace (space, tab, LF, CR). */
  ws(): void {
    const b = this.b;
    let c = b[this.i];
    while (c === 32 || c === 10 || c === 13 || c === 9) c = b[++this.i];
  }

  /** Skips whitespace, then consumes `c` when it comes next. */
  eat(c: number): boolean {
    this.ws();
    if (this.b[this.i] !== c) return false;
    this.i++;
    return true;
  }

  expect(c: number): void {
    if (!this.eat(c)) offFastPath();
  }

  /** Nothing but whitespace is left. */
  atEnd(): boolean {
    this.ws();
    return this.i === this.b.length;
  }

  /**
   * An object of the members `names`, each at most once (a repeated one leaves the fast path: the
   * general reader names it), `read(k)` reading the value of member k; the bit mask of those seen.
   */
  object(names: readonly Uint8Array[], read: (k: number) => void): number {
    let seen = 0;
    this.expect(123 /* { */);
    do {
      const k = this.member(names);
      if (seen & (1 << k)) offFastPath();
      seen |= 1 << k;
      read(k);
    } while (this.eat(44 /* , */));
    this.expect(125 /* } */);
    return seen;
  }

  /** The index in `names` of the next member name (written without escapes), its ':' consumed. */
  member(names: readonly Uint8Array[]): number {
    const start = this.openString();
    let k = 0;
    while (k < names.length && !this.isName(names[k]!, start)) k++;
    if (k === names.length) offFastPath(); // an unknown member, or a name written with an escape
    this.i = start + names[k]!.length + 1;
    this.expect(58 /* : */);
    return k;
  }

  /** The bytes from `start` are `name` and its closing quote. */
  private isName(name: Uint8Array, start: number): boolean {
    const b = this.b;
    if (b[start + name.length] !== 34) return false;
    for (let j = 0; j < name.length; j++) if (b[start + j] !== name[j]) return false;
    return true;
  }

  /** Consumes `text` (bytes, see memberNames) when it comes next, whitespace not skipped. */
  literal(text: Uint8Array): boolean {
    const b = this.b;
    const i = this.i;
    for (let j = 0; j < text.length; j++) if (b[i + j] !== text[j]) return false;
    this.i = i + text.length;
    return true;
  }

  /** Skips whitespace and the opening quote of a string; the index of its first byte. */
  openString(): number {
    this.expect(34 /* " */);
    return this.i;
  }

  /** A string of printable ASCII without escapes (type, audience, timestamps, key ids). */
  plainText(): string {
    const start = this.openString();
    const b = this.b;
    let i = start;
    for (;;) {
      const c = b[i];
      if (c === 34) break;
      // Controls are not JSON; "\\" is an escape; 0x7f and above are left to the general reader.
      if (c === undefined || c < 0x20 || c > 0x7e || c === 92) offFastPath();
      i++;
    }
    this.i = i + 1;
    return this.slice(start, i);
  }

  /** The text of bytes [start, end), which the caller checked are ASCII. */
  slice(start: number, end: number): string {
    return this.text !== undefined ? this.text.slice(start, end) : utf8Decode(this.b.subarray(start, end));
  }

  /** true or false. */
  boolean(): boolean {
    this.ws();
    const b = this.b;
    const i = this.i;
    if (b[i] === 116 && b[i + 1] === 114 && b[i + 2] === 117 && b[i + 3] === 101) {
      this.i = i + 4;
      return true;
    }
    if (b[i] === 102 && b[i + 1] === 97 && b[i + 2] === 108 && b[i + 3] === 115 && b[i + 4] === 101) {
      this.i = i + 5;
      return false;
    }
    return offFastPath();
  }

  /**
   * A positive integer in plain digits of at most 15 (below 2^53, so safe): "7", never "7.0",
   * "7e0", "-7", "07" or 16 digits, which the general reader judges.
   */
  positiveInteger(): number {
    this.ws();
    const b = this.b;
    const start = this.i;
    let i = start;
    let v = 0;
    for (let c = b[i]!; c >= 48 && c <= 57; c = b[++i]!) v = v * 10 + (c - 48);
    const next = b[i];
    if (b[start] === 48 || i === start || i - start > 15 || next === 46 || next === 101 || next === 69) offFastPath();
    this.i = i;
    return v;
  }
}
