/** Payloads every implementation reads the same way (review: JSON.parse keeps the last duplicate). */
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { TrustedStore } from '../../src/bundle/trusted-store.js';
import { embeddedKeyset } from '../../src/bundle/keys.js';
import { signEnvelope, signerFromPem } from '../../src/bundle/sign.js';
import { serializeEnvelope } from '../../src/bundle/envelope.js';
import { EnvelopeError, PayloadError } from '../../src/bundle/errors.js';
import { PAYLOAD_TYPES } from '../../src/bundle/types.js';
import { parseStrictJson } from '../../src/bundle/strict-json.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer = signerFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string;
const A = Buffer.alloc(32, 1).toString('base64');
const B = Buffer.alloc(32, 2).toString('base64');
const NOW = new Date('2026-06-01T00:00:00Z');

const bundle = (payloadText: string | Buffer) => {
  const body = typeof payloadText === 'string' ? Buffer.from(payloadText) : payloadText;
  return new Uint8Array(Buffer.from(serializeEnvelope(signEnvelope(PAYLOAD_TYPES.pins, body, [signer]))));
};
const payload = (extra = '', issued = '2026-01-01T00:00:00Z') =>
  `{"type":"pins","audience":"app","version":1${extra},"issuedAt":"${issued}","expiresAt":"2027-01-01T00:00:00Z","domains":[{"domain":"a.example","includeSubdomains":false,"pins":["${A}","${B}"]}]}`;
const store = () => new TrustedStore({ audience: 'app', keyset: embeddedKeyset([pub]) });

describe('strict JSON', () => {
  it('a well-formed payload is accepted', () => {
    expect(store().verify('pins', bundle(payload()), NOW).status).toBe('applied');
  });
  it('a member repeated in one object is refused', () => {
    expect(() => store().verify('pins', bundle(payload(',"version":2')), NOW)).toThrow(/appears twice/);
    expect(() => parseStrictJson(Buffer.from('{"a":{"b":1,"b":2}}'))).toThrow(/"b" appears twice/);
    expect(parseStrictJson(Buffer.from('[{"a":1},{"a":2}]'))).toEqual([{ a: 1 }, { a: 2 }]); // same key in sibling objects is fine
    expect(parseStrictJson(Buffer.from('{"a\\"b":1,"a\\\\":2}'))).toEqual({ 'a"b': 1, 'a\\': 2 });
  });
  it('a byte-order mark before the payload is refused', () => {
    expect(() => store().verify('pins', bundle(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(payload())])), NOW)).toThrow(PayloadError);
  });
  it('an envelope with a repeated member is refused', () => {
    const env = Buffer.from(bundle(payload())).toString().replace('"payloadType"', '"payloadType": "x", "payloadType"');
    expect(() => store().verify('pins', new Uint8Array(Buffer.from(env)), NOW)).toThrow(EnvelopeError);
  });
  it('a calendar date that does not exist is refused', () => {
    expect(() => store().verify('pins', bundle(payload('', '2026-02-30T00:00:00Z')), NOW)).toThrow(/issuedAt: expected an RFC 3339/);
  });
  it('finds repeats however they are written: escaped keys, "__proto__", colons in strings, inside overwritten values', () => {
    const bad = [
      '{"a":1,"\\u0061":2}',
      '{"__proto__":{},"__proto__":{}}',
      '{"x":"a:b","y":"c:d","x":"e"}',
      '{"a":{"b":{"c":1,"c":2}},"a":3}',
      '[{"k\\"":1,"k\\u0022":2}]',
      `${'['.repeat(5000)}{"d":1,"d":1}${']'.repeat(5000)}`,
    ];
    for (const text of bad) expect(() => parseStrictJson(Buffer.from(text)), text.slice(0, 40)).toThrow(/appears twice/);
    const good = ['{"a:":1,"a":2,"\\":":3}', '{"__proto__":{"a":1},"a":{"__proto__":2}}', '{"1":{"a":1},"b":{"a":1},"0":[]}', '{}', '[]', '"{\\"a\\":1,\\"a\\":2}"'];
    for (const text of good) expect(parseStrictJson(Buffer.from(text)), text).toEqual(JSON.parse(text));
    const deep = `${'['.repeat(5000)}{"d":1}${']'.repeat(5000)}`;
    expect(() => parseStrictJson(Buffer.from(deep))).not.toThrow();
  });
});
