/**
 * A pins payload (SPEC §3, §3.1) read in one pass from its bytes straight into the pin model: no
 * JSON tree (an object per domain), no path strings, no regular expression per name. Only the
 * common case: a valid payload written with plain ASCII strings. Anything else (an escape, a
 * non-ASCII byte, an unknown or repeated member, a value the rules refuse, bad JSON) gives null,
 * and the caller takes the general path (strict-json.ts + payload.ts), which gives the exact error
 * in SPEC §4's order. This reader never refuses a bundle itself: it accepts only what the general
 * path accepts, with the same values (test/bundle/fast-path.test.ts holds both to it).
 * As sdk/android's PinsReader.kt does for the Kotlin SDK.
 */
import { ByteJson, fastPathOrNull, memberNames, offFastPath } from './json-bytes.js';
import { LIMITS, MAX_LIFETIME_MS, setDomainIndex, timestampMs } from './payload-rules.js';
import { Utf8Error, utf8Decode } from './bytes.js';
import { isPinAt } from '../vocab/pin.js';
import { hostNameEnd, isHostName } from '../vocab/hostname.js';
import type { PinsDomain, PinsPayload } from './types.js';
import { DomainIndex, hashNameBytes } from './domain-index.js';

const MEMBERS = memberNames('type', 'audience', 'version', 'issuedAt', 'expiresAt', 'domains');
const DOMAIN_MEMBERS = memberNames('domain', 'includeSubdomains', 'pins');
const QUOTE = 34;

/** A valid pins payload read from its bytes (steps 5 and 9 of SPEC §4 at once), or null. */
export function readPins(bytes: Uint8Array): PinsPayload | null {
  let text: string;
  try {
    text = utf8Decode(bytes); // one native pass on Node; every string of the payload is a slice of it
  } catch (e) {
    if (e instanceof Utf8Error) return null;
    throw e;
  }
  if (text.length !== bytes.length) return null; // not ASCII: byte and character offsets differ
  return fastPathOrNull(() => payload(new ByteJson(bytes, text)));
}

function payload(r: ByteJson): PinsPayload {
  let audience = '';
  let version = 0;
  let issuedAt = '';
  let expiresAt = '';
  let domains: PinsDomain[] = [];
  const seen = r.object(MEMBERS, (k) => {
    if (k === 0) {
      if (r.plainText() !== 'pins') offFastPath();
    } else if (k === 1) audience = r.plainText();
    else if (k === 2) version = r.positiveInteger();
    else if (k === 3) issuedAt = r.plainText();
    else if (k === 4) expiresAt = r.plainText();
    else domains = domainList(r);
  });
  if (!r.atEnd() || seen !== 0b111111 || audience === '') offFastPath();
  const issued = timestampMs(issuedAt);
  const expires = timestampMs(expiresAt);
  // NaN fails both comparisons the wrong way round, so test for what passes.
  if (!(expires > issued && expires - issued <= MAX_LIFETIME_MS)) offFastPath();
  // The member order of payload.ts's result, so both paths give equal objects.
  return { type: 'pins', audience, version, issuedAt, expiresAt, domains };
}

// A domain's entry takes 140 bytes or more ({"domain":"a","includeSubdomains":true,"pins":[two pins]}).
const MIN_DOMAIN_BYTES = 140;

function domainList(r: ByteJson): PinsDomain[] {
  const out: PinsDomain[] = [];
  // Also the check that each domain comes once; sized once from what the payload can hold.
  const index = new DomainIndex<PinsDomain>(Math.min(LIMITS.domains, r.b.length / MIN_DOMAIN_BYTES));
  r.expect(91 /* [ */);
  do {
    if (out.length === LIMITS.domains) offFastPath();
    const d = domain(r);
    if (!index.add(d, nameHash)) offFastPath();
    out.push(d);
  } while (r.eat(44 /* , */));
  r.expect(93 /* ] */);
  setDomainIndex(out, index);
  return out;
}

// The layout JSON.stringify writes (encodePayload): read as three literals and three values.
const [OPEN, INCLUDE, PINS] = memberNames('{"domain":', ',"includeSubdomains":', ',"pins":');

function domain(r: ByteJson): PinsDomain {
  r.ws();
  const at = r.i;
  return compactDomain(r) ?? ((r.i = at), anyLayoutDomain(r));
}

/** A domain entry in the compact layout, or null (then read again in any layout). */
function compactDomain(r: ByteJson): PinsDomain | null {
  if (!r.literal(OPEN)) return null;
  const name = hostName(r);
  if (!r.literal(INCLUDE)) return null;
  const includeSubdomains = r.boolean();
  if (!r.literal(PINS)) return null;
  const pins = pinList(r);
  return r.eat(125 /* } */) ? { domain: name, includeSubdomains, pins } : null;
}

function anyLayoutDomain(r: ByteJson): PinsDomain {
  let name = '';
  let includeSubdomains = false;
  let pins: string[] = [];
  const seen = r.object(DOMAIN_MEMBERS, (k) => {
    if (k === 0) name = hostName(r);
    else if (k === 1) includeSubdomains = r.boolean();
    else pins = pinList(r);
  });
  if (seen !== 0b111) offFastPath();
  return { domain: name, includeSubdomains, pins };
}

// The hash of the last name hostName() read, for the index (a second return value, without an object).
let nameHash = 0;

/** The cheap byte check of a DNS name; for anything else (IPv6) the full grammar of the string. */
function hostName(r: ByteJson): string {
  const start = r.openString();
  let end = hostNameEnd(r.b, start);
  if (end < 0) {
    end = r.b.indexOf(QUOTE, start);
    // The grammar has no "\\", so a name it accepts was written without escapes and is its own text.
    if (end < 0 || !isHostName(r.slice(start, end))) offFastPath();
  }
  r.i = end + 1;
  nameHash = hashNameBytes(r.b, start, end);
  return r.slice(start, end);
}

// Pins are read into this scratch list and then copied to an array of their exact count: an array
// grown by push() from empty reserves room for 17 entries, 10,000 times over (GC time).
const scratch: string[] = [];

function pinList(r: ByteJson): string[] {
  const b = r.b;
  let n = 0;
  r.expect(91 /* [ */);
  do {
    if (n === LIMITS.pinsPerDomain) offFastPath();
    const start = r.openString();
    if (b[start + 44] !== QUOTE || !isPinAt(b, start)) offFastPath();
    r.i = start + 45;
    scratch[n++] = r.slice(start, start + 44);
  } while (r.eat(44 /* , */));
  r.expect(93 /* ] */);
  // SPEC §3.1: at least two distinct pins (a backup).
  if (n < 2 || !hasTwoDistinct(n)) offFastPath();
  const pins = n === 2 ? [scratch[0]!, scratch[1]!] : scratch.slice(0, n);
  scratch.fill('', 0, n); // no slice of this payload's text outlives the read here
  return pins;
}

function hasTwoDistinct(n: number): boolean {
  for (let j = 1; j < n; j++) if (scratch[j] !== scratch[0]) return true;
  return false;
}
