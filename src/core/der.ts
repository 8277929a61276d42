/**
 * A minimal, strict DER reader: just enough to find the exact SubjectPublicKeyInfo bytes inside a
 * certificate or CSR and the certificates inside a PKCS#7 SignedData. Every read is bounds-checked
 * so truncated or mutated input raises DerError instead of reading past the buffer.
 */
export class DerError extends Error {}

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset one past the last content byte. */
  end: number;
}

export const TAG = {
  INTEGER: 0x02,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
  CONTEXT_0: 0xa0,
  CONTEXT_0_IMPLICIT_SET: 0xa0,
} as const;

/** Reads one TLV at `offset`; the value must fit before `limit`. Only definite lengths (DER). */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset >= limit) throw new DerError(`expected a DER element at byte ${offset}, found end of data`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tags are not used in X.509 (byte ${offset})`);
  let pos = offset + 1;
  if (pos >= limit) throw new DerError(`truncated DER length at byte ${pos}`);
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else if (first === 0x80) {
    throw new DerError(`indefinite length at byte ${pos - 1} is BER, not DER`);
  } else {
    const n = first & 0x7f;
    if (n > 4) throw new DerError(`DER length of ${n} bytes at byte ${pos - 1} is too large`);
    if (pos + n > limit) throw new DerError(`truncated DER length at byte ${pos}`);
    // DER (X.690 10.1): the shortest form. A padded length is BER, and OpenSSL's re-encoding of
    // such an element differs from its bytes: hashing them would give a pin no client computes.
    if (buf[pos] === 0 || (n === 1 && buf[pos]! < 0x80)) {
      throw new DerError(`non-minimal DER length at byte ${pos - 1} (${n} length bytes where fewer suffice): BER, not DER`);
    }
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos++]!;
  }
  const end = pos + length;
  if (end > limit) {
    throw new DerError(`DER element at byte ${offset} claims ${length} bytes but only ${limit - pos} remain`);
  }
  return { tag, start: offset, contentStart: pos, end };
}

/** The children of a constructed element, in order. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw new DerError(`element at byte ${parent.start} is not constructed`);
  const out: Tlv[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) throw new DerError(`expected ${what}, found nothing`);
  if (t.tag !== tag) {
    throw new DerError(`expected ${what} (tag 0x${tag.toString(16)}), found tag 0x${t.tag.toString(16)} at byte ${t.start}`);
  }
  return t;
}

export function slice(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.start, t.end);
}

/** The outermost element must cover the whole buffer: trailing bytes mean a corrupt or wrong file. */
export function readWhole(buf: Uint8Array): Tlv {
  const t = readTlv(buf, 0);
  if (t.end !== buf.length) throw new DerError(`${buf.length - t.end} unexpected bytes after the DER element`);
  return t;
}

/** The first element's bytes (OpenSSL's TRUSTED CERTIFICATE appends trust settings after it). */
export function leadingElement(buf: Uint8Array): Uint8Array {
  return buf.subarray(0, readTlv(buf, 0).end);
}

export function oidToString(buf: Uint8Array, t: Tlv): string {
  const bytes = buf.subarray(t.contentStart, t.end);
  if (bytes.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    } else if (i === bytes.length - 1) {
      throw new DerError('truncated OID');
    }
  }
  return parts.join('.');
}

/** Does the outermost element (or the first below it) use BER's indefinite length? A cheap sniff. */
export function hasIndefiniteLength(buf: Uint8Array): boolean {
  return buf.length > 4 && buf[0] === TAG.SEQUENCE && (buf[1] === 0x80 || buf.subarray(2, 6).includes(0x80));
}

const MAX_BER_DEPTH = 64;

/**
 * BER → DER for what PKCS#7 exporters produce: the outer indefinite lengths (0x80 … 00 00) become
 * definite; definite-length elements inside are copied as they are (certificates are DER already).
 * Null when the bytes are not well-formed BER.
 */
export function berToDer(buf: Uint8Array): Uint8Array | null {
  try {
    const [out, end] = reencode(buf, 0, 0);
    return end === buf.length ? out : null;
  } catch {
    return null;
  }
}

function reencode(buf: Uint8Array, offset: number, depth: number): [Uint8Array, number] {
  if (depth > MAX_BER_DEPTH) throw new DerError('BER nesting too deep');
  if (offset + 2 > buf.length) throw new DerError('truncated BER');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tag');
  if (buf[offset + 1] !== 0x80) {
    // A definite-length element is kept byte for byte: a certificate's bytes are what was signed.
    const t = readTlvLoose(buf, offset);
    return [buf.subarray(offset, t.end), t.end];
  }
  if ((tag & 0x20) === 0) throw new DerError('indefinite length on a primitive element');
  const parts: Uint8Array[] = [];
  let pos = offset + 2;
  for (;;) {
    if (pos + 2 > buf.length) throw new DerError('indefinite length without end-of-contents');
    if (buf[pos] === 0 && buf[pos + 1] === 0) return [encodeTlv(tag, parts), pos + 2];
    const [child, next] = reencode(buf, pos, depth + 1);
    parts.push(child);
    pos = next;
  }
}

/** readTlv without the DER minimality rule (BER input may pad its lengths). */
function readTlvLoose(buf: Uint8Array, offset: number): Tlv {
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length = first;
  if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 4 || pos + n > buf.length) throw new DerError('bad BER length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos++]!;
  }
  if (pos + length > buf.length) throw new DerError('truncated BER element');
  return { tag: buf[offset]!, start: offset, contentStart: pos, end: pos + length };
}

function encodeTlv(tag: number, parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const lenBytes: number[] = [];
  if (len < 0x80) lenBytes.push(len);
  else {
    for (let v = len; v > 0; v = Math.floor(v / 256)) lenBytes.unshift(v % 256);
    lenBytes.unshift(0x80 | lenBytes.length);
  }
  const out = new Uint8Array(1 + lenBytes.length + len);
  out[0] = tag;
  out.set(lenBytes, 1);
  let pos = 1 + lenBytes.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
