/**
 * The fast paths (readPlainEnvelope, readPins) must agree with the general readers (strict JSON
 * tree + checks) on every input: the same value when they accept, and never accept what the
 * general reader refuses, so every verdict, error code and message stays the general reader's.
 * Run on every vector file and on mutations of valid inputs, each compared with the general
 * reader's verdict on the same bytes (never with a hard-coded one). As sdk/android's FastPathTest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnvelope, parseEnvelopeGeneral, readPlainEnvelope, serializeEnvelope } from '../../src/bundle/envelope.js';
import { decodePayload, parsePayload } from '../../src/bundle/payload.js';
import { readPins } from '../../src/bundle/pins-reader.js';
import { domainIndex } from '../../src/bundle/payload-rules.js';
import { signEnvelope, signerFromPem } from '../../src/bundle/sign.js';
import { PAYLOAD_TYPES } from '../../src/bundle/types.js';
import { isPin, isPinAt } from '../../src/vocab/pin.js';
import { hostNameEnd, isHostName } from '../../src/vocab/hostname.js';
import { PinTable } from '../../src/sdk/core/pinset.js';
import { BUNDLES_DIR } from './conformance.js';
import { usePrimitives, type NativePrimitives } from '../../src/bundle/primitives.js';
import { nodePrimitives } from '../../src/bundle/node-primitives.js';

const SHARED_VECTORS = join(import.meta.dirname, '..', '..', '..', 'shared', 'vectors');
const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const pinOf = (s: string) => createHash('sha256').update(s).digest('base64');
const PIN_A = pinOf('a');
const PIN_B = pinOf('b');
const SLASH_PIN = `ab/${'A'.repeat(40)}=`; // a valid pin with a "/", which JSON may escape
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function outcome(f: () => unknown): string {
  try {
    return `ok ${JSON.stringify(f())}`;
  } catch (e) {
    const err = e as Error & { code?: string };
    return `${err.constructor.name} ${err.code ?? ''}: ${err.message}`;
  }
}

const envelopeText = (f: () => { payloadType: string; payload: Uint8Array; signatures: { keyid: string; sig: Uint8Array }[] }) =>
  outcome(() => {
    const e = f();
    return [e.payloadType, hex(e.payload), e.signatures.map((s) => `${s.keyid}:${hex(s.sig)}`)];
  });

/** Same verdict with the fast path first as from the general reader alone; true when the fast path took it. */
function samePayloadVerdict(b: Uint8Array): boolean {
  const general = outcome(() => decodePayload(parsePayload(b), 'pins'));
  expect(outcome(() => decodePayload(b, 'pins')), Buffer.from(b).toString('latin1').slice(0, 300)).toBe(general);
  const fast = readPins(b);
  if (!fast) return false;
  expect(general.startsWith('ok '), `the fast path accepted what the general reader refuses: ${general}`).toBe(true);
  expect(`ok ${JSON.stringify(fast)}`).toBe(general);
  // The index the reader made finds every domain, and only those.
  const index = domainIndex(fast.domains)!;
  for (const d of fast.domains) expect(index.get(d.domain)).toBe(d);
  expect(index.get('not-a-domain-here.example')).toBeUndefined();
  return true;
}

function sameEnvelopeVerdict(b: Uint8Array): boolean {
  const general = envelopeText(() => parseEnvelopeGeneral(b));
  expect(envelopeText(() => parseEnvelope(b)), Buffer.from(b).toString('latin1').slice(0, 300)).toBe(general);
  const fast = readPlainEnvelope(b);
  if (!fast) return false;
  expect(general.startsWith('ok '), `the fast path accepted what the general reader refuses: ${general}`).toBe(true);
  return true;
}

const ISSUED = '2026-05-01T00:00:00Z';
const EXPIRES = '2026-06-01T00:00:00Z';
const domain = (name: string, pins = `"${PIN_A}","${PIN_B}"`, inc = 'true') => `{"domain":"${name}","includeSubdomains":${inc},"pins":[${pins}]}`;
const payload = (domains = domain('api.example.com'), version = '7', audience = 'com.example.app') =>
  `{"type":"pins","audience":"${audience}","version":${version},"issuedAt":"${ISSUED}","expiresAt":"${EXPIRES}","domains":[${domains}]}`;
const manyPins = (n: number) => Array.from({ length: n }, (_, i) => `"${pinOf(`p${i}`)}"`).join(',');

function vectorFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? vectorFiles(p) : f.endsWith('.json') ? [p] : [];
  });
}

// Both ways the readers run: pure JS (Hermes, browsers) and with the Node adapter's primitives.
const PATHS: [string, NativePrimitives][] = [
  ['pure JS', {}],
  ['node:crypto and Buffer', nodePrimitives],
];
afterAll(() => usePrimitives(nodePrimitives));

describe.each(PATHS)('with %s primitives', (_name, primitives) => {
  beforeAll(() => usePrimitives(primitives));

  describe('fast paths = general readers', () => {
    it('every vector file (fixtures/bundles, ../shared/vectors) gets the same verdict through both', () => {
      const files = [...vectorFiles(join(BUNDLES_DIR, 'vectors')), ...vectorFiles(SHARED_VECTORS)];
      let fastEnvelopes = 0;
      let fastPayloads = 0;
      for (const f of files) {
        const b = new Uint8Array(readFileSync(f));
        if (sameEnvelopeVerdict(b)) fastEnvelopes++;
        let env;
        try {
          env = parseEnvelopeGeneral(b);
        } catch {
          continue;
        }
        if (env.payloadType === PAYLOAD_TYPES.pins && samePayloadVerdict(env.payload)) fastPayloads++;
      }
      expect(files.length).toBeGreaterThan(40);
      expect(fastEnvelopes).toBeGreaterThanOrEqual(30);
      expect(fastPayloads).toBeGreaterThanOrEqual(10);
    });

    it('well-formed pins payloads in other layouts take the fast path, with the same result', () => {
      const base = payload();
      const accepted = [
        base,
        base.replace(/,/g, ' ,\n\t').replace(/":/g, '" : ').replace(/\{/g, '{ ').replace(/\}/g, '\r\n}'),
        ` \n${base}\r\n `,
        payload(`${domain('a.example.com')},${domain('b.example.com', `"${SLASH_PIN}","${PIN_A}"`, 'false')}`),
        `{"domains":[${domain('api.example.com')}],${base.slice(1, base.indexOf(',"domains"'))}}`,
        payload('{"pins":["' + PIN_A + '","' + PIN_B + '"],"includeSubdomains":false,"domain":"x.example"}'),
        payload(domain('api.example.com', manyPins(64))),
        payload(domain('api.example.com', `"${PIN_A}","${PIN_A}","${PIN_B}"`)),
        payload(domain('2001:db8::1')), // IPv6: the full grammar decides, still on the fast path
        payload(domain('10.0.0.1')),
        payload(domain(`${'a'.repeat(63)}.example`)),
        payload(domain([1, 2, 3].map(() => 'a'.repeat(63)).join('.') + '.' + 'b'.repeat(61))), // 253 characters
        payload(undefined, '9007199254740'), // 13 digits
        payload(undefined, '123456789012345'),
        payload().replace(ISSUED, '2026-05-01T00:00:00.123Z'),
      ];
      for (const p of accepted) expect(samePayloadVerdict(bytes(p)), p).toBe(true);
    });

    it('unusual pins payloads leave the fast path and get the general reader\'s verdict', () => {
      const base = payload();
      const mutations = [
        base.replace('"domain"', '"dom\\u0061in"'), // accepted by the general reader only
        payload(undefined, undefined, 'com.ex\u00e4mple.app'),
        payload(undefined, undefined, 'com.ex\\u00e4mple.app'),
        payload(undefined, undefined, 'com.ex\\/ample.app'),
        payload(undefined, undefined, ''),
        payload(domain('api.example.com', `"${SLASH_PIN.replace('/', '\\/')}","${PIN_A}"`)),
        ...['7.0', '7e0', '7E0', '0', '-7', '007', '9007199254740992', '9007199254740993', '1e400', '"7"', 'true', 'null', '-0', '1.5', '0.7e1'].map((v) => payload(undefined, v)),
        base.replace('"version":7', '"version":7,"version":8'),
        base.replace('"includeSubdomains":true', '"includeSubdomains":true,"includeSubdomains":false'),
        base.replace('"type"', '"extra":1,"type"'),
        base.replace('"pins"', '"note":"x","pins"'),
        base.replace('"type":"pins"', '"type":"trust-roots"'),
        base.replace('"type":"pins"', '"type":"keyset"'),
        base.replace('"issuedAt"', '"issuedat"'),
        base.replace('"type":"pins",', ''),
        payload(domain('api.example.com', `"${PIN_A}"`)),
        payload(domain('api.example.com', `"${PIN_A}","${PIN_A}"`)),
        payload(domain('api.example.com', `"${PIN_A}","${PIN_A}","${PIN_A}"`)),
        payload(domain('api.example.com', `"${PIN_A}","${PIN_B.slice(0, -2)}="`)),
        payload(domain('api.example.com', `"${PIN_A}","${PIN_B.slice(0, -2)}B="`)),
        payload(domain('api.example.com', `"${PIN_A}","${PIN_B.slice(0, -1)}"`)),
        payload(domain('api.example.com', `"${PIN_A}","${PIN_B}A"`)),
        payload(domain('api.example.com', `"${PIN_A}",1`)),
        payload(domain('api.example.com', manyPins(65))),
        payload(domain('api.example.com', '')),
        ...['API.example.com', '*.example.com', 'example.com.', '-a.example.com', 'a-.example.com', 'a..example', '.a.example', `${'a'.repeat(64)}.com`, '', 'a_b.example', 'a b.example', '2001:DB8::1', '2001:db8:0::1', '::ffff:1.2.3.4x', `${[1, 2, 3].map(() => 'a'.repeat(63)).join('.')}.${'b'.repeat(62)}`].map((n) => payload(domain(n))),
        payload(domain('api\\".example.com')),
        payload(domain('api\\u002eexample.com')),
        payload(domain('api.ex\u00e4mple.com')),
        payload(`${domain('api.example.com')},${domain('api.example.com')}`),
        ...['"true"', 'null', '1', 'tru', 'truex', 'True'].map((inc) => payload(domain('api.example.com', undefined, inc))),
        payload(''),
        payload(`${domain('a.example')},`),
        base.replace('"domains":[', '"domains":{"x":[').replace(']}', ']}}'),
        base.replace(EXPIRES, '2026-04-01T00:00:00Z'),
        base.replace(EXPIRES, ISSUED),
        base.replace(EXPIRES, '2027-05-03T00:00:00Z'), // 367 days
        base.replace(ISSUED, '2026-02-30T00:00:00Z'),
        base.replace(ISSUED, '2026-05-01 00:00:00Z'),
        base.replace(ISSUED, '2026-05-01T00:00:00+00:00'),
        `${base} x`, `\uFEFF${base}`, base.slice(0, -1), `[${base}]`, `${base}${base}`, `${base}\u00a0`, `${base}\f`, `${base}\u0000`,
        base.replace(',', ' \u000b,'), base.replace(',', '\u00a0,'), '', '{}', '[]', 'null', '"pins"',
      ];
      for (const p of mutations) expect(samePayloadVerdict(bytes(p)), p).toBe(false);
      // 0xC3 then "e": a broken two-byte character in the member name "audience"
      const badUtf8 = bytes(base);
      badUtf8[base.indexOf('audience') + 3] = 0xc3;
      expect(samePayloadVerdict(badUtf8)).toBe(false);
    });

    it('every truncation and many byte changes of a pins payload: the general reader\'s verdict', () => {
      const base = bytes(payload(`${domain('a.example.com')},${domain('2001:db8::1', `"${PIN_B}","${SLASH_PIN}"`, 'false')}`));
      let fast = 0;
      for (let n = 0; n <= base.length; n++) if (samePayloadVerdict(base.subarray(0, n))) fast++;
      expect(fast).toBe(1); // only the whole payload
      const values = [0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c, 0x00, 0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x5d, 0x2e, 0x2d, 0x3d, 0x2f, 0x41, 0x61, 0x30, 0x39, 0x7f, 0x80, 0xc3, 0xff];
      for (let i = 0; i < base.length; i++) {
        for (const v of values) {
          if (base[i] === v) continue;
          const m = base.slice();
          m[i] = v;
          samePayloadVerdict(m);
        }
      }
    });

    it('a PinTable over a bundle\'s domains finds what a table of its own would', () => {
      const p = readPins(bytes(payload(`${domain('example.com')},${domain('api.example.org', undefined, 'false')},${domain('::1')}`)))!;
      const fresh = new PinTable([...p.domains]); // a copy: no index from a reader
      const shared = new PinTable(p.domains);
      for (const host of ['example.com', 'a.b.example.com', 'api.example.org', 'x.api.example.org', '::1', '[::1]', 'EXAMPLE.com.', 'org', 'other.example']) {
        expect(shared.lookup(host), host).toBe(fresh.lookup(host));
      }
    });
  });

  describe('fast path envelopes = general reader', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const signer = signerFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const good = serializeEnvelope(signEnvelope(PAYLOAD_TYPES.pins, bytes(payload()), [signer]));
    const compact = JSON.stringify(JSON.parse(good));
    const b64 = /"payload": "([^"]*)"/.exec(good)![1]!;
    const sig = /"sig": "([^"]*)"/.exec(good)![1]!;
    const keyid = signer.keyid;

    it('well-formed envelopes take the fast path', () => {
      for (const e of [good, compact, good.replace(/,/g, ' ,\n ').replace(/:/g, '\t:\t'), `{"signatures":[{"sig":"${sig}","keyid":"${keyid}"}],"payload":"${b64}","payloadType":"${PAYLOAD_TYPES.pins}"}`]) {
        expect(sameEnvelopeVerdict(bytes(e)), e).toBe(true);
      }
      const two = compact.replace(/\[(.*)\]/, '[$1,$1]');
      expect(sameEnvelopeVerdict(bytes(two))).toBe(true);
      expect(sameEnvelopeVerdict(bytes(compact.replace(/\[(.*)\]/, `[${Array(16).fill('$1').join(',')}]`)))).toBe(true);
    });

    it('unusual envelopes leave the fast path and get the general reader\'s verdict', () => {
      const mutations = [
        good.replace(/\//g, '\\/'), // valid JSON for the same bytes: general reader only
        good.replace('"payloadType"', '"payload\\u0054ype"'),
        good.replace('"payload":', '"payload":"AAAA","payload":'),
        good.replace('"sig":', '"keyid":"x","sig":'),
        good.replace('"signatures"', '"extra":1,"signatures"'),
        good.replace(/\{\s*"keyid"/, '{"extra":1,"keyid"'),
        good.replace(b64, b64.slice(0, -4)), good.replace(b64, `${b64}=`), good.replace(b64, `${b64.slice(0, 4)}=${b64.slice(5)}`),
        good.replace(b64, `${b64.slice(0, 8)}\\n${b64.slice(8)}`), good.replace(b64, `${b64.slice(0, 8)}\n${b64.slice(8)}`),
        good.replace(b64, `${b64.slice(0, 8)}\u00e9${b64.slice(12)}`), good.replace(b64, `${b64.slice(0, 8)}-_${b64.slice(10)}`),
        good.replace(b64, `${b64.slice(0, -4)}====`), good.replace(b64, ''),
        good.replace(sig, sig.slice(4)), good.replace(keyid, 'k'.repeat(129)), good.replace(keyid, 'k'.repeat(128)),
        good.replace(keyid, ''), good.replace(keyid, 'k\\u0041'), good.replace(keyid, 'k\u00e9'),
        good.replace(`"${PAYLOAD_TYPES.pins}"`, '""'), good.replace(`"${PAYLOAD_TYPES.pins}"`, '1'),
        compact.replace('[{', '[').replace('}]', ']'), compact.replace(/\[.*\]/, '[]'), compact.replace(/\[.*\]/, '{}'),
        compact.replace(/\[(.*)\]/, `[${Array(17).fill('$1').join(',')}]`), compact.replace(/\[(.*)\]/, '[$1,]'),
        `${good} x`, `\uFEFF${good}`, good.slice(0, -3), `[${good}]`, `${good}${good}`, '', '{}', 'null',
      ];
      const changed = mutations.filter((m) => m !== good && m !== compact);
      expect(changed.length).toBeGreaterThan(30);
      const fast = changed.filter((m) => sameEnvelopeVerdict(bytes(m)));
      // Still plain and valid envelopes (their signatures are another step): a shorter or empty
      // payload, a key id of 128 characters or none.
      expect(fast).toEqual([good.replace(b64, b64.slice(0, -4)), good.replace(b64, ''), good.replace(keyid, 'k'.repeat(128)), good.replace(keyid, '')]);
      expect(envelopeText(() => parseEnvelope(bytes(mutations[0]!)))).toBe(envelopeText(() => parseEnvelope(bytes(good))));
    });

    it('every truncation and many byte changes of an envelope: the general reader\'s verdict', () => {
      const base = bytes(compact);
      for (let n = 0; n < base.length; n++) expect(sameEnvelopeVerdict(base.subarray(0, n))).toBe(false);
      for (let i = 0; i < base.length; i++) {
        for (const v of [0x20, 0x0a, 0x00, 0x22, 0x5c, 0x2c, 0x3a, 0x7d, 0x5d, 0x3d, 0x2b, 0x2f, 0x2d, 0x41, 0x80, 0xff]) {
          if (base[i] === v) continue;
          const m = base.slice();
          m[i] = v;
          sameEnvelopeVerdict(m);
        }
      }
    });
  });

});

describe('the cheap byte checks = the grammars', () => {
  const at = (s: string) => {
    const b = bytes(`"${s}"`);
    return { b, start: 1 };
  };
  it('hostNameEnd accepts exactly the names isHostName accepts (or defers)', () => {
    const names = ['a', 'a.b', 'api.example.com', '0', '1.2.3.4', 'a-b.c-d', 'a--b.example', `${'a'.repeat(63)}.b`, `${'a'.repeat(64)}.b`, '-a', 'a-', 'a.-b', 'a.b-', '', '.', 'a.', '.a', 'a..b', 'A', 'a_b', 'a b', 'a/b', '::1', '2001:db8::1', 'é.example',
      `${[1, 2, 3].map(() => 'a'.repeat(63)).join('.')}.${'b'.repeat(61)}`, `${[1, 2, 3].map(() => 'a'.repeat(63)).join('.')}.${'b'.repeat(62)}`];
    for (let i = 0; i < 2000; i++) {
      const alphabet = 'ab0-.';
      let s = '';
      for (let k = (i * 7) % 13; k >= 0; k--) s += alphabet[(i * 31 + k * 17 + ((i >> 3) * k)) % alphabet.length];
      names.push(s);
    }
    for (const n of names) {
      const { b, start } = at(n);
      const end = hostNameEnd(b, start);
      if (end >= 0) {
        expect(end, n).toBe(b.length - 1);
        expect(isHostName(n), n).toBe(true);
      } else if (!n.includes(':')) {
        expect(isHostName(n), n).toBe(false); // defers only where the full grammar refuses, or IPv6
      }
    }
    expect(hostNameEnd(bytes('abc'), 0)).toBe(-1); // no closing quote
  });

  it('isPinAt agrees with isPin', () => {
    const values = [PIN_A, PIN_B, SLASH_PIN, `${PIN_A.slice(0, 42)}B=`, `${PIN_A.slice(0, 43)}A`, `${PIN_A.slice(0, 42)}==`, PIN_A.slice(0, 43), `${PIN_A}A`, `${PIN_A.slice(0, 10)}-${PIN_A.slice(11)}`, `${PIN_A.slice(0, 10)}é${PIN_A.slice(11)}`];
    for (let i = 0; i < 500; i++) values.push(pinOf(String(i)), `${pinOf(String(i)).slice(0, 42)}${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'[i % 64]}=`);
    for (const v of values) {
      const b = bytes(`"${v}"`);
      expect(isPinAt(b, 1) && b[45] === 34, v).toBe(isPin(v)); // the reader checks the closing quote itself
    }
    expect(isPinAt(bytes(PIN_A).subarray(0, 43), 0)).toBe(false);
  });
});
