/**
 * The lookup table of a pins payload's domains: the payload readers fill it while they check that
 * each domain comes once (SPEC §3.1), and the SDK's pin index (PinTable) looks hosts up in it, so a
 * 10,000-domain bundle is hashed once, not once per reader and again for the index.
 * Open addressing over typed arrays instead of a Map: a Map of 10,000 new strings cost about 2 ms
 * and grew (rehashed) a dozen times; here a name's hash is computed from the bytes the reader is
 * already reading, and the table is sized once from the payload's length.
 */

/** FNV-1a over the character codes of a host name (ASCII, so also over its UTF-8 bytes). */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h;
}

/** hashName of the bytes [start, end), which hold an ASCII name. */
export function hashNameBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h;
}

export class DomainIndex<T extends { readonly domain: string }> {
  private slots: Int32Array; // 1 + the entry's position in `entries`; 0 for a free slot
  private hashes: Int32Array; // the hash of each entry, by position, for growing
  private readonly entries: T[] = [];

  /** `expected`: how many entries it will probably hold (it grows past that). */
  constructor(expected: number) {
    const size = tableSize(expected);
    this.slots = new Int32Array(size);
    this.hashes = new Int32Array(size >> 1);
  }

  /** A table of these entries; a domain given twice keeps its last entry (as Map.set does). */
  static of<T extends { readonly domain: string }>(entries: readonly T[]): DomainIndex<T> {
    const index = new DomainIndex<T>(entries.length);
    for (const e of entries) {
      const hash = hashName(e.domain);
      if (!index.add(e, hash)) index.entries[index.find(e.domain, hash)] = e;
    }
    return index;
  }

  get size(): number {
    return this.entries.length;
  }

  /** The entry of this exact name. */
  get(name: string): T | undefined {
    const at = this.find(name, hashName(name));
    return at < 0 ? undefined : this.entries[at];
  }

  /** Adds `entry`, whose domain has hash `hash` (hashName); false, and nothing added, when its domain is there. */
  add(entry: T, hash: number): boolean {
    if (this.find(entry.domain, hash) >= 0) return false;
    const n = this.entries.length;
    if (2 * (n + 1) > this.slots.length) this.grow();
    this.entries.push(entry);
    this.hashes[n] = hash; // room: at most half as many entries as slots
    this.place(n, hash);
    return true;
  }

  /** The position of `name`'s entry, or -1. */
  private find(name: string, hash: number): number {
    const mask = this.slots.length - 1;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const at = this.slots[s]! - 1;
      if (at < 0) return -1;
      if (this.hashes[at] === hash && this.entries[at]!.domain === name) return at;
    }
  }

  private place(at: number, hash: number): void {
    const mask = this.slots.length - 1;
    let s = hash & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = at + 1;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    this.hashes = copyInto(new Int32Array(this.slots.length >> 1), this.hashes);
    for (let at = 0; at < this.entries.length; at++) this.place(at, this.hashes[at]!);
  }
}

/** A power of two at least twice `expected` (at most half full), 16 or more. */
function tableSize(expected: number): number {
  let size = 16;
  while (size < 2 * expected) size *= 2;
  return size;
}

function copyInto(to: Int32Array, from: Int32Array): Int32Array {
  to.set(from);
  return to;
}
