/** DSSE envelope parsing and serialisation, strict about shape (SPEC §1.1, §4.2). */
import { EnvelopeError } from './errors.js';
import { StrictJsonError, parseStrictJson } from './strict-json.js';
import { base64DecodeBytes, base64DecodeStrict, base64Encode } from './bytes.js';
import { ByteJson, fastPathOrNull, memberNames, offFastPath } from './json-bytes.js';
import { nativePrimitives } from './primitives.js';

export interface EnvelopeSignature {
  keyid: string;
  sig: Uint8Array;
}

export interface Envelope {
  payloadType: string;
  payload: Uint8Array;
  signatures: EnvelopeSignature[];
}

export const MAX_SIGNATURES = 16;
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 with canonical padding and zero unused bits (SPEC §1.1). */
export function decodeBase64(value: unknown, what: string): Uint8Array {
  const bytes = typeof value === 'string' ? base64DecodeStrict(value) : null;
  if (bytes !== null) return bytes;
  // Only on failure: which rule it broke (the pattern over a 2.8 MB payload is not paid on success).
  if (typeof value !== 'string' || !B64.test(value)) throw new EnvelopeError(`${what}: expected standard base64, found ${describe(value)}`);
  throw new EnvelopeError(`${what}: base64 is not canonical`);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return v.length > 40 ? `a ${v.length}-character string` : JSON.stringify(v);
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function exactKeys(o: Record<string, unknown>, keys: string[], what: string): void {
  const extra = Object.keys(o).filter((k) => !keys.includes(k));
  const missing = keys.filter((k) => !(k in o));
  if (extra.length || missing.length) {
    throw new EnvelopeError(`${what}: expected exactly ${keys.join(', ')}${missing.length ? `; missing ${missing.join(', ')}` : ''}${extra.length ? `; unexpected ${extra.join(', ')}` : ''}`);
  }
}

/** SPEC §4.2: the envelope, read by the fast path when it is the common kind, else by the general reader. */
export function parseEnvelope(bytes: Uint8Array): Envelope {
  return readPlainEnvelope(bytes) ?? parseEnvelopeGeneral(bytes);
}

const MEMBERS = memberNames('payloadType', 'payload', 'signatures');
const SIGNATURE_MEMBERS = memberNames('keyid', 'sig');

/**
 * The common envelope (plain ASCII strings, members in any order) read in one pass, its payload
 * decoded from base64 where it lies: no 2 MB string of the envelope, no JSON tree. null for
 * anything else, which parseEnvelopeGeneral then judges with its exact error; so this accepts
 * only what the general reader accepts (exported for test/bundle/fast-path.test.ts).
 */
export function readPlainEnvelope(bytes: Uint8Array): Envelope | null {
  return fastPathOrNull(() => {
    // Where the runtime has a native ASCII decoder (Node), one copy of the envelope as text: the
    // payload's end is found by a native string search and decoded from a slice of it (no copy).
    const r = new ByteJson(bytes, nativePrimitives().asciiDecode?.(bytes));
    let payloadType = '';
    let payload: Uint8Array | null = null;
    let signatures: EnvelopeSignature[] = [];
    const seen = r.object(MEMBERS, (k) => {
      if (k === 0) payloadType = r.plainText();
      else if (k === 1) payload = plainBase64(r);
      else signatures = plainSignatures(r);
    });
    if (!r.atEnd() || seen !== 0b111 || payloadType === '') offFastPath();
    return { payloadType, payload: payload!, signatures };
  });
}

/** A base64 string without escapes (the decoder refuses "\\", controls and non-ASCII bytes itself). */
function plainBase64(r: ByteJson): Uint8Array {
  const start = r.openString();
  const end = r.quoteFrom(start);
  const text = r.text;
  let bytes: Uint8Array | null = null;
  if (end >= 0 && text !== undefined) bytes = base64DecodeStrict(text.slice(start, end));
  else if (end >= 0) bytes = base64DecodeBytes(r.b.subarray(start, end));
  if (bytes === null) return offFastPath();
  r.i = end + 1;
  return bytes;
}

function plainSignatures(r: ByteJson): EnvelopeSignature[] {
  const out: EnvelopeSignature[] = [];
  r.expect(91 /* [ */);
  do {
    if (out.length === MAX_SIGNATURES) offFastPath();
    let keyid = '';
    let sig: Uint8Array | null = null;
    const seen = r.object(SIGNATURE_MEMBERS, (k) => {
      if (k === 0) keyid = r.plainText();
      else sig = plainBase64(r);
    });
    if (seen !== 0b11 || keyid.length > 128 || sig!.length !== 64) offFastPath();
    out.push({ keyid, sig: sig! });
  } while (r.eat(44 /* , */));
  r.expect(93 /* ] */);
  return out;
}

/** The general reader (a strict JSON tree), for every envelope readPlainEnvelope leaves to it. */
export function parseEnvelopeGeneral(bytes: Uint8Array): Envelope {
  let doc: unknown;
  try {
    doc = parseStrictJson(bytes);
  } catch (e) {
    throw new EnvelopeError(
      `expected a DSSE envelope (JSON), found ${e instanceof StrictJsonError ? `JSON that is ambiguous: ${e.message}` : 'bytes that are not UTF-8 JSON'}`,
      'is this a bundle? `pinctl bundle inspect FILE` shows what it holds',
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new EnvelopeError(`expected a JSON object, found ${describe(doc)}`);
  const o = doc as Record<string, unknown>;
  exactKeys(o, ['payloadType', 'payload', 'signatures'], 'envelope');
  if (typeof o.payloadType !== 'string' || o.payloadType.length === 0) throw new EnvelopeError(`payloadType: expected a string, found ${describe(o.payloadType)}`);
  const payload = decodeBase64(o.payload, 'payload');
  if (!Array.isArray(o.signatures) || o.signatures.length === 0 || o.signatures.length > MAX_SIGNATURES) {
    throw new EnvelopeError(`signatures: expected 1 to ${MAX_SIGNATURES} entries, found ${Array.isArray(o.signatures) ? o.signatures.length : describe(o.signatures)}`);
  }
  const signatures = o.signatures.map((s, i): EnvelopeSignature => {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new EnvelopeError(`signatures[${i}]: expected an object, found ${describe(s)}`);
    const e = s as Record<string, unknown>;
    exactKeys(e, ['keyid', 'sig'], `signatures[${i}]`);
    if (typeof e.keyid !== 'string' || e.keyid.length > 128) throw new EnvelopeError(`signatures[${i}].keyid: expected a string, found ${describe(e.keyid)}`);
    const sig = decodeBase64(e.sig, `signatures[${i}].sig`);
    if (sig.length !== 64) throw new EnvelopeError(`signatures[${i}].sig: expected 64 bytes (Ed25519), found ${sig.length}`);
    return { keyid: e.keyid, sig };
  });
  return { payloadType: o.payloadType, payload, signatures };
}

export function serializeEnvelope(env: Envelope): string {
  return `${JSON.stringify(
    {
      payloadType: env.payloadType,
      payload: base64Encode(env.payload),
      signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: base64Encode(s.sig) })),
    },
    null,
    2,
  )}\n`;
}
