/** The pure pieces of the service: routing, ETags, the admin token check, rate limits, durations, file names. */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { bearerMatches, etagOf, ifNoneMatchHits, pathOf, publicPaths, queryFlag, route, tokenDigest } from '../../src/service/routes.js';
import { TokenBucketLimiter, parseRate } from '../../src/service/rate-limit.js';
import { parseExpiresIn, rfc3339, validity } from '../../src/service/time.js';
import { staticFileNames } from '../../src/service/static.js';
import { chainMatches, guardTargets } from '../../src/service/guard.js';
import { historyName } from '../../src/service/store.js';
import { parseListen } from '../../cli/commands/serve.js';
import { InputError } from '../../src/errors.js';
import { jsonNestingDepth } from '../../src/service/http.js';
import { healthOf } from '../../src/service/metrics.js';

describe('route', () => {
  it('maps SPEC §6 paths and methods', () => {
    expect(route('GET', '/v1/bundles/pins')).toEqual({ kind: 'get', path: '/v1/bundles/pins' });
    expect(route('HEAD', '/v1/bundles/trust-roots')).toEqual({ kind: 'get', path: '/v1/bundles/trust-roots' });
    expect(route('POST', '/v1/bundles/pins')).toEqual({ kind: 'publish', type: 'pins' });
    expect(route('POST', '/v1/bundles/trust-roots')).toEqual({ kind: 'publish', type: 'trust-roots' });
    expect(route('POST', '/v1/keyset')).toEqual({ kind: 'publish-keyset' });
    expect(route('GET', '/v1/keyset/12')).toEqual({ kind: 'get', path: '/v1/keyset/12' });
    expect(route('GET', '/v1/keys')).toEqual({ kind: 'get', path: '/v1/keys' });
    expect(route('POST', '/v1/reports')).toEqual({ kind: 'report' });
    expect(route('GET', '/healthz')).toEqual({ kind: 'health' });
  });
  it('refuses other methods with Allow, and unknown paths', () => {
    expect(route('DELETE', '/v1/bundles/pins')).toEqual({ kind: 'method-not-allowed', allow: 'GET, HEAD, POST' });
    expect(route('GET', '/v1/reports')).toEqual({ kind: 'reports-read' });
    expect(route('PUT', '/v1/reports')).toEqual({ kind: 'method-not-allowed', allow: 'GET, HEAD, POST' });
    expect(route('POST', '/v1/keys')).toEqual({ kind: 'method-not-allowed', allow: 'GET, HEAD' });
    expect(route('GET', '/v1/keyset/0')).toEqual({ kind: 'not-found' });
    expect(route('GET', '/v1/keyset/007')).toEqual({ kind: 'not-found' });
    expect(route('GET', '/v1/bundles/pins/')).toEqual({ kind: 'not-found' });
    expect(route('GET', '/')).toEqual({ kind: 'not-found' });
  });
  it('splits query strings off and reads ?force=1', () => {
    expect(pathOf('/v1/bundles/pins?force=1')).toBe('/v1/bundles/pins');
    expect(queryFlag('/v1/bundles/pins?force=1', 'force')).toBe(true);
    expect(queryFlag('/v1/bundles/pins?force=true', 'force')).toBe(true);
    expect(queryFlag('/v1/bundles/pins?force=0', 'force')).toBe(false);
    expect(queryFlag('/v1/bundles/pins', 'force')).toBe(false);
  });
});

describe('ETag', () => {
  it('is the quoted hex SHA-256 of the bytes', () => {
    const b = Buffer.from('{"a":1}\n');
    expect(etagOf(b)).toBe(`"${createHash('sha256').update(b).digest('hex')}"`);
  });
  it('If-None-Match: exact, weak, lists and *', () => {
    const e = etagOf(Buffer.from('x'));
    expect(ifNoneMatchHits(e, e)).toBe(true);
    expect(ifNoneMatchHits(`W/${e}`, e)).toBe(true);
    expect(ifNoneMatchHits(`"other", ${e}`, e)).toBe(true);
    expect(ifNoneMatchHits('*', e)).toBe(true);
    expect(ifNoneMatchHits('"other"', e)).toBe(false);
    expect(ifNoneMatchHits(undefined, e)).toBe(false);
  });
});

describe('admin token', () => {
  const expected = tokenDigest('s3cret-token-0123456789');
  it('accepts exactly Bearer TOKEN', () => {
    expect(bearerMatches('Bearer s3cret-token-0123456789', expected)).toBe(true);
    expect(bearerMatches('bearer s3cret-token-0123456789', expected)).toBe(true);
  });
  it('refuses a wrong, missing or differently shaped token', () => {
    expect(bearerMatches('Bearer s3cret-token-012345678', expected)).toBe(false);
    expect(bearerMatches('Bearer s3cret-token-0123456789x', expected)).toBe(false);
    expect(bearerMatches('Basic s3cret-token-0123456789', expected)).toBe(false);
    expect(bearerMatches('s3cret-token-0123456789', expected)).toBe(false);
    expect(bearerMatches(undefined, expected)).toBe(false);
    expect(bearerMatches('Bearer ', tokenDigest(''))).toBe(false);
  });
});

describe('TokenBucketLimiter', () => {
  it('allows a burst of N per client, then refills at N per minute', () => {
    let t = 0;
    const l = TokenBucketLimiter.perMinute(10, () => t);
    for (let i = 0; i < 10; i++) expect(l.take('a').ok).toBe(true);
    const refused = l.take('a');
    expect(refused).toEqual({ ok: false, retryAfterSeconds: 6 });
    expect(l.take('b').ok).toBe(true); // per client
    t += 6_000;
    expect(l.take('a').ok).toBe(true);
    expect(l.take('a').ok).toBe(false);
  });
  it('bounds the clients it tracks', () => {
    let t = 0;
    const l = new TokenBucketLimiter({ capacity: 2, refillPerSecond: 1, maxClients: 100 }, () => t);
    for (let i = 0; i < 1000; i++) l.take(`10.0.${i >> 8}.${i & 255}`);
    expect(l.size).toBeLessThanOrEqual(100);
    t += 1;
  });
  it('parses rates', () => {
    expect(parseRate('10/min')).toEqual({ capacity: 10, refillPerSecond: 10 / 60 });
    expect(parseRate('2/s')).toEqual({ capacity: 2, refillPerSecond: 2 });
    expect(parseRate('600/h')).toEqual({ capacity: 600, refillPerSecond: 600 / 3600 });
    expect(parseRate('10')).toEqual({ capacity: 10, refillPerSecond: 10 / 60 });
    expect(parseRate('0/min')).toBeNull();
    expect(parseRate('ten')).toBeNull();
  });
});

describe('time', () => {
  it('parses 30m, 12h, 7d', () => {
    expect(parseExpiresIn('30m')).toBe(30 * 60_000);
    expect(parseExpiresIn('12h')).toBe(12 * 3_600_000);
    expect(parseExpiresIn('7d')).toBe(7 * 86_400_000);
    for (const bad of ['7', '7w', '0m', '-1d', '1.5h', '400d', '']) expect(() => parseExpiresIn(bad)).toThrow(InputError);
  });
  it('writes RFC 3339 UTC without milliseconds', () => {
    expect(rfc3339(new Date('2026-06-01T12:34:56.789Z'))).toBe('2026-06-01T12:34:56Z');
    expect(validity(new Date('2026-06-01T12:00:00.999Z'), 7 * 86_400_000)).toEqual({ issuedAt: '2026-06-01T12:00:00Z', expiresAt: '2026-06-08T12:00:00Z' });
  });
});

describe('files and names', () => {
  it('zero-pads history names', () => {
    expect(historyName(7)).toBe('000007.json');
    expect(historyName(1234567)).toBe('1234567.json');
  });
  it('puts /v1/keyset at v1/keyset/index.json when v1/keyset/N exists', () => {
    const paths = publicPaths({ pins: new Uint8Array([1]), keysets: [{ version: 2, bytes: new Uint8Array([2]) }, { version: 1, bytes: new Uint8Array([3]) }], keys: new Uint8Array([4]) });
    expect([...paths.keys()]).toEqual(['v1/bundles/pins', 'v1/keyset/1', 'v1/keyset/2', 'v1/keyset', 'v1/keys']);
    expect(paths.get('v1/keyset')).toEqual(new Uint8Array([2]));
    const names = staticFileNames([...paths.keys()]);
    expect(names.get('v1/keyset')).toBe('v1/keyset/index.json');
    expect(names.get('v1/bundles/pins')).toBe('v1/bundles/pins');
  });
  it('parses --listen', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseListen('9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    for (const bad of ['127.0.0.1', 'host:99999', '[nope]:80', '1.2.3.4:80:90']) expect(() => parseListen(bad)).toThrow(InputError);
  });
});

describe('guard (pure parts)', () => {
  it('matches a pin anywhere in the served chain', () => {
    expect(chainMatches(['a', 'b'], ['x', 'b'])).toBe(true);
    expect(chainMatches(['a', 'b'], ['x', 'y'])).toBe(false);
    expect(chainMatches([], ['x'])).toBe(false);
  });
  it('probes recorded endpoints, or the domain on 443', () => {
    const t = guardTargets({
      expiration: null,
      domains: [
        { domain: 'a.test', includeSubdomains: false, pins: [], endpoints: [{ host: 'a.test', port: 8443, addresses: ['127.0.0.1', '127.0.0.1'] }] },
        { domain: 'b.test', includeSubdomains: false, pins: [], endpoints: [] },
      ],
    });
    expect(t).toEqual([
      { domain: 'a.test', pins: [], host: 'a.test', port: 8443, addresses: ['127.0.0.1'] },
      { domain: 'b.test', pins: [], host: 'b.test', port: 443, addresses: [] },
    ]);
  });
});

describe('service observability helpers (pure)', () => {
  it('jsonNestingDepth counts arrays and objects, not brackets inside strings', () => {
    expect(jsonNestingDepth('{}')).toBe(1);
    expect(jsonNestingDepth('{"a":[{"b":[]}]}')).toBe(4);
    expect(jsonNestingDepth('{"a":"[[[[{{{{"}')).toBe(1);
    expect(jsonNestingDepth('{"a":"\\"[[["}')).toBe(1);
    expect(jsonNestingDepth(`{"a":${'['.repeat(100)}${']'.repeat(100)}}`)).toBe(101);
  });

  it('healthOf: 24 h before expiry (a quarter of the validity for short-lived bundles); keysets always 24 h', () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const served = (type: 'pins' | 'keyset', expiresAt: string) => [{ type, version: 3, issuedAt: '2026-05-01T00:00:00Z', expiresAt }];
    const DAY = 86_400_000;
    expect(healthOf(served('pins', '2026-06-02T00:00:01Z'), now, 7 * DAY).ok).toBe(true);
    expect(healthOf(served('pins', '2026-06-01T23:59:59Z'), now, 7 * DAY).problems).toEqual(['pins v3 expires at 2026-06-01T23:59:59Z, in 1440 min']);
    expect(healthOf(served('pins', '2026-05-31T00:00:00Z'), now, 7 * DAY).problems).toEqual(['pins v3 expired at 2026-05-31T00:00:00Z: clients refuse it']);
    // Signed for 12 h: unhealthy only in the last 3 h.
    expect(healthOf(served('pins', '2026-06-01T04:00:00Z'), now, DAY / 2).ok).toBe(true);
    expect(healthOf(served('pins', '2026-06-01T02:00:00Z'), now, DAY / 2).ok).toBe(false);
    expect(healthOf(served('keyset', '2026-06-01T20:00:00Z'), now, DAY / 2).ok).toBe(false);
  });
});
