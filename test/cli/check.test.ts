import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { opensslPin, pkiFile, readPki } from '../helpers/fixtures.js';
import { closedPort, tlsServer, Running } from '../helpers/servers.js';
import { makeResolver } from '../../src/net/resolve.js';

const HOST = 'api.pinctl.test';
let server: Running & { server: import('node:tls').Server };
let dir: string;
beforeAll(async () => {
  server = await tlsServer('chain.pem', 'leaf.key');
  dir = mkdtempSync(join(tmpdir(), 'pinctl-check-'));
});
afterAll(async () => server.close());

const net = () => ['--resolve', `${HOST}:${server.port}:127.0.0.1`, '--ca-file', pkiFile('root.pem')];
const serve = (chain: string, key: string) => server.server.setSecureContext({ cert: readPki(chain), key: readPki(key) });

async function generate(format: string, pins: string[], extra: string[] = []): Promise<string> {
  const r = await cli(['generate', `${HOST}:${server.port}`, ...net(), ...pins.flatMap((p) => ['--pin', p]), '--backup-key', pkiFile('backup.key'), '--expiration', '2031-01-31', '--format', format, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  const file = join(dir, `${format}-${pins.join('-')}-${Math.random().toString(36).slice(2)}.${format === 'json' ? 'json' : format === 'android' ? 'xml' : 'plist'}`);
  writeFileSync(file, r.stdout);
  return file;
}

describe('pinctl check', () => {
  it('passes for the chain the pins were made from, in every readable format', async () => {
    serve('chain.pem', 'leaf.key');
    for (const format of ['android', 'ios', 'trustkit', 'json']) {
      const cfg = await generate(format, ['leaf', 'intermediate']);
      const r = await cli(['check', cfg, ...net()]);
      // api.pinctl.test has no public suffix: TrustKit's parse_configuration.m refuses it at start-up.
      expect(r.code, `${format}: ${r.stdout}${r.stderr}`).toBe(format === 'trustkit' ? 1 : 0);
      if (format === 'trustkit') expect(r.stderr).toContain('[trustkit-invalid-domain]');
      expect(r.stdout).toMatch(new RegExp(`PASS 127\\.0\\.0\\.1:${server.port}`));
    }
  });
  it('fails when the leaf key changes and only the leaf was pinned', async () => {
    serve('chain.pem', 'leaf.key');
    const cfg = await generate('android', ['leaf']);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    const r = await cli(['check', cfg, ...net()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL');
    expect(r.stdout).toContain('no pin matches');
    expect(r.stdout).toContain(opensslPin('leaf-new-key.pem'));
  });
  it('iOS needs both a leaf and a CA identity: a new leaf key fails iOS but not Android', async () => {
    serve('chain.pem', 'leaf.key');
    const ios = await generate('ios', ['leaf', 'intermediate']);
    const android = await generate('android', ['leaf', 'intermediate']);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    expect((await cli(['check', android, ...net()])).code).toBe(0);
    const r = await cli(['check', ios, ...net()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('NSPinnedLeafIdentities');
  });
  it('a new intermediate under the same root passes with a root pin', async () => {
    serve('chain.pem', 'leaf.key');
    const cfg = await generate('android', ['intermediate', 'root']);
    serve('chain-intermediate2.pem', 'leaf.key');
    const r = await cli(['check', cfg, ...net()]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(opensslPin('root.pem'));
  });
  it('a chain the platform would reject fails before pins are compared', async () => {
    serve('chain.pem', 'leaf.key');
    const cfg = await generate('json', ['leaf', 'intermediate']);
    serve('example-untrusted-chain.pem', 'example-untrusted-leaf.key');
    const r = await cli(['check', cfg, ...net(), '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.pass).toBe(false);
    expect(out.results[0].reasons.join(' ')).toContain('reject the chain');
  });
  it('--warn-days fails when a pinned certificate expires soon', async () => {
    serve('chain.pem', 'leaf.key');
    const cfg = await generate('android', ['leaf', 'intermediate']);
    expect((await cli(['check', cfg, ...net(), '--warn-days', '30'])).code).toBe(0);
    const r = await cli(['check', cfg, ...net(), '--warn-days', '4000']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/expires in \d+ day\(s\) \(2036-01-01\), within --warn-days 4000/);
  });
  it('an expired pin-set is no longer enforced: pass, with a note', async () => {
    serve('chain.pem', 'leaf.key');
    const cfg = await generate('android', ['leaf']);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    const r = await cli(['check', cfg, ...net()], { now: new Date('2031-06-01T00:00:00Z') });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no longer enforce');
  });
  it('--port sets the port when --resolve names only the address', async () => {
    serve('chain.pem', 'leaf.key');
    const cfg = await generate('android', ['leaf', 'intermediate']);
    const r = await cli(['check', cfg, '--port', String(server.port), '--resolve', `${HOST}:${server.port}:127.0.0.1`, '--ca-file', pkiFile('root.pem')]);
    expect(r.code).toBe(0);
  });
  it('an unreachable endpoint fails the check (exit 1)', async () => {
    serve('chain.pem', 'leaf.key');
    const cfg = await generate('android', ['leaf', 'intermediate']);
    const dead = await closedPort();
    const r = await cli(['check', cfg, '--resolve', `${HOST}:${dead}:127.0.0.1`, '--ca-file', pkiFile('root.pem')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('connection refused');
  });
  it('bad input exits 2 with a one-line error', async () => {
    const bad = join(dir, 'bad.xml');
    writeFileSync(bad, '<network-security-config><domain-config>');
    const r = await cli(['check', bad, ...net()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: /);
    expect((await cli(['check', join(dir, 'missing.xml')])).code).toBe(2);
    expect((await cli(['check', pkiFile('leaf.pem'), ...net()])).code).toBe(2);
  });
});

describe('pinctl check on a pinctl JSON pin set', () => {
  it('probes the port the pin set recorded when no --port or --resolve is given', async () => {
    serve('chain.pem', 'leaf.key');
    const cfg = await generate('json', ['leaf', 'intermediate']);
    // The name resolves (stubbed, no DNS query) and the port comes from the pin set's endpoints.
    const resolve = makeResolver(async () => [{ address: '127.0.0.1' }]);
    const r = await cli(['check', cfg, '--ca-file', pkiFile('root.pem'), '--json'], { resolve });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results[0].address).toBe(`127.0.0.1:${server.port}`);
    // --port overrides what was recorded.
    const dead = await closedPort();
    expect((await cli(['check', cfg, '--ca-file', pkiFile('root.pem'), '--port', String(dead)], { resolve })).code).toBe(1);
  });
});

describe('per-domain expirations', () => {
  it('an expired pin-set for one domain does not excuse another domain whose pins are enforced', async () => {
    serve('chain.pem', 'leaf.key');
    const bogus = 'A'.repeat(43) + '=';
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<network-security-config>
  <domain-config>
    <domain includeSubdomains="false">localhost</domain>
    <pin-set expiration="2020-01-01"><pin digest="SHA-256">${bogus}</pin></pin-set>
  </domain-config>
  <domain-config>
    <domain includeSubdomains="false">${HOST}</domain>
    <pin-set><pin digest="SHA-256">${bogus}</pin></pin-set>
  </domain-config>
</network-security-config>
`;
    const file = join(dir, 'mixed.xml');
    writeFileSync(file, xml);
    const r = await cli(['check', file, '--resolve', `${HOST}:${server.port}:127.0.0.1`, '--resolve', `localhost:${server.port}:127.0.0.1`, '--ca-file', pkiFile('root.pem'), '--json']);
    expect(r.code).toBe(1);
    const byDomain = Object.fromEntries(JSON.parse(r.stdout).results.map((x: { domain: string; pass: boolean }) => [x.domain, x.pass]));
    expect(byDomain).toEqual({ localhost: true, [HOST]: false });
    expect(r.stderr).toContain('read-mixed-expiration');
  });
  it('pins stop being enforced on the expiration day itself', async () => {
    serve('chain.pem', 'leaf.key');
    const cfg = await generate('android', ['leaf']);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    expect((await cli(['check', cfg, ...net()], { now: new Date('2031-01-30T12:00:00Z') })).code).toBe(1);
    expect((await cli(['check', cfg, ...net()], { now: new Date('2031-01-31T00:00:00Z') })).code).toBe(0);
  });
});
