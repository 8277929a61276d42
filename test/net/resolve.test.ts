/**
 * The `dns` resolver against a real DNS server on 127.0.0.1 (test/helpers/dns-server.ts): no query
 * leaves the machine, every server is the test's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { DnsServer, RCODE, dnsServer } from '../helpers/dns-server.js';
import { Resolver, defaultResolver, makeDnsResolver, makeResolver, resolverMode } from '../../src/net/resolve.js';
import { modeFromEnv, modeFromNsswitch, nsswitchHostSources } from '../../src/net/resolver-mode.js';
import { ProbeError } from '../../src/errors.js';

let dns: DnsServer;
let silent: DnsServer;
let dir: string;
const hostsPath = () => join(dir, 'hosts');
const systemCalls: string[] = [];
/** Stands in for getaddrinfo (dotless names): records the call, never queries anything. */
const system = makeResolver(async (host) => {
  systemCalls.push(host);
  return [{ address: '10.9.9.9' }];
});

beforeAll(async () => {
  dns = await dnsServer((name, type) => {
    if (name.startsWith('silent')) return 'silent';
    if (name.startsWith('nx.')) return { rcode: RCODE.NXDOMAIN };
    if (name.startsWith('servfail.')) return { rcode: RCODE.SERVFAIL };
    if (name.startsWith('refused.')) return { rcode: RCODE.REFUSED };
    if (name.startsWith('v4only.')) return ['192.0.2.4'];
    if (name.startsWith('nodata.')) return [];
    if (name.startsWith('aaaasilent.')) return type === 'AAAA' ? 'silent' : ['192.0.2.8'];
    return ['192.0.2.1', '192.0.2.2', '2001:db8::1'];
  });
  silent = await dnsServer(() => 'silent');
  dir = mkdtempSync(join(tmpdir(), 'pinctl-resolve-'));
  writeFileSync(hostsPath(), '127.0.0.1 localhost\n10.0.0.7 pinned.hosts.test pinned # alias\n::1 pinned.hosts.test\n');
});
afterAll(async () => {
  await dns.close();
  await silent.close();
  rmSync(dir, { recursive: true, force: true });
});

const resolver = (servers: string[]): Resolver => makeDnsResolver({ servers, hostsPath: hostsPath(), system });
const failure = (p: Promise<unknown>) => p.then(() => expect.fail('resolved'), (e: unknown) => e as ProbeError);
const asked = (s: DnsServer, name: string) => s.queries.filter((q) => q.name.toLowerCase() === name).map((q) => q.type).sort();

describe('dns mode: hosts file, then c-ares', () => {
  it('returns the A and the AAAA addresses, both asked at once', async () => {
    const got = await resolver([dns.address])('both.pinctl.test', { timeoutMs: 3000 });
    expect(got).toEqual(['192.0.2.1', '192.0.2.2', '2001:db8::1']);
    expect(asked(dns, 'both.pinctl.test')).toEqual(['A', 'AAAA']);
  });
  it('a name with only an A record (AAAA answered with no data)', async () => {
    expect(await resolver([dns.address])('v4only.pinctl.test', { timeoutMs: 3000 })).toEqual(['192.0.2.4']);
  });
  it('names in the hosts file resolve without any DNS server (case-insensitive, aliases, both families)', async () => {
    const r = resolver([silent.address]);
    const before = silent.queries.length;
    expect(await r('Pinned.Hosts.Test', { timeoutMs: 500 })).toEqual(['10.0.0.7', '::1']);
    expect(await r('pinned', { timeoutMs: 500 })).toEqual(['10.0.0.7']);
    expect(await r('localhost', { timeoutMs: 500 })).toEqual(['127.0.0.1']);
    expect(await r('app.localhost', { timeoutMs: 500 })).toEqual(['127.0.0.1']);
    expect(silent.queries.length).toBe(before);
    expect(systemCalls).not.toContain('pinned');
  });
  it('an IP address is its own answer', async () => {
    expect(await resolver([silent.address])('2001:db8::5')).toEqual(['2001:db8::5']);
  });
  it('a dotless name not in the hosts file goes to getaddrinfo (c-ares applies no search domains)', async () => {
    expect(await resolver([dns.address])('intranet', { timeoutMs: 500 })).toEqual(['10.9.9.9']);
    expect(systemCalls).toContain('intranet');
    expect(asked(dns, 'intranet')).toEqual([]);
  });
  it('NXDOMAIN, SERVFAIL, REFUSED and a name with no address: the DNS code and a hint that explains it', async () => {
    const r = resolver([dns.address]);
    const nx = await failure(r('nx.pinctl.test', { timeoutMs: 3000 }));
    expect(nx).toBeInstanceOf(ProbeError);
    expect(nx.code).toBe('DNS');
    expect(nx.message).toBe('nx.pinctl.test: DNS lookup failed (ENOTFOUND)');
    expect(nx.hint).toMatch(/does not exist \(NXDOMAIN\).*--resolve/);
    const sf = await failure(r('servfail.pinctl.test', { timeoutMs: 3000 }));
    expect(sf.message).toBe('servfail.pinctl.test: DNS lookup failed (ESERVFAIL)');
    expect(sf.hint).toMatch(/SERVFAIL/);
    const rf = await failure(r('refused.pinctl.test', { timeoutMs: 3000 }));
    expect(rf.message).toBe('refused.pinctl.test: DNS lookup failed (EREFUSED)');
    expect(rf.hint).toMatch(/refused the query/);
    const nd = await failure(r('nodata.pinctl.test', { timeoutMs: 3000 }));
    expect(nd.message).toBe('nodata.pinctl.test: DNS lookup failed (ENODATA)');
    expect(nd.hint).toMatch(/no A or AAAA record/);
  });
  it('a silent server costs the deadline, not more, and the message says so with the server', async () => {
    const t0 = performance.now();
    const e = await failure(resolver([silent.address])('silent.pinctl.test', { timeoutMs: 400 }));
    const took = performance.now() - t0;
    expect(e.message).toBe('silent.pinctl.test: DNS lookup failed (no answer within 400 ms)');
    expect(e.hint).toContain(silent.address);
    expect(took).toBeGreaterThanOrEqual(380);
    expect(took).toBeLessThan(400 + 1500); // the deadline plus a loaded machine's lag
  });
  it('an A answered but an AAAA never: the A addresses, at the deadline', async () => {
    const t0 = performance.now();
    expect(await resolver([dns.address])('aaaasilent.pinctl.test', { timeoutMs: 400 })).toEqual(['192.0.2.8']);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(380);
  });
  it('a silent first server: the second is asked within the deadline', async () => {
    expect(await resolver([silent.address, dns.address])('second.pinctl.test', { timeoutMs: 2000 })).toEqual(['192.0.2.1', '192.0.2.2', '2001:db8::1']);
  });
  it('nothing listening on the server port: ECONNREFUSED, naming the server', async () => {
    const closed = await new Promise<number>((res) => {
      const s = createSocket('udp4');
      s.bind(0, '127.0.0.1', () => {
        const port = s.address().port;
        s.close(() => res(port));
      });
    });
    const e = await failure(resolver([`127.0.0.1:${closed}`])('any.pinctl.test', { timeoutMs: 2000 }));
    expect(e.message).toMatch(/DNS lookup failed \((ECONNREFUSED|no answer within 2000 ms)\)/);
    expect(e.hint).toContain(`127.0.0.1:${closed}`);
  });
  it('200 lookups at once, 40 to a name that never answers: nothing queues behind them', async () => {
    const r = resolver([dns.address]);
    const names = [...Array.from({ length: 40 }, (_, i) => `silent${i}.pinctl.test`), ...Array.from({ length: 160 }, (_, i) => `ok${i}.pinctl.test`)];
    const t0 = performance.now();
    const settled = await Promise.allSettled(names.map((n) => r(n, { timeoutMs: 1000 })));
    const took = performance.now() - t0;
    expect(settled.slice(0, 40).every((s) => s.status === 'rejected')).toBe(true);
    expect(settled.slice(40).filter((s) => s.status === 'rejected')).toEqual([]);
    expect(took).toBeLessThan(1000 + 4000); // one deadline (getaddrinfo on 4 threads: 10 rounds and false failures)
  });
});

describe('which resolver', () => {
  it('reads the hosts line of nsswitch.conf', () => {
    expect(nsswitchHostSources('passwd: files\nhosts:  files mdns4_minimal [NOTFOUND=return] dns # x\n')).toEqual(['files', 'mdns4_minimal', 'dns']);
    expect(nsswitchHostSources('passwd: files\n# hosts: ldap\n')).toBeNull();
  });
  it('dns only when the system uses the hosts file and DNS alone, in that order', () => {
    expect(modeFromNsswitch('hosts: files dns\n')).toBe('dns');
    expect(modeFromNsswitch('hosts: files [NOTFOUND=return] dns\n')).toBe('dns');
    expect(modeFromNsswitch('hosts: dns\n')).toBe('dns');
    expect(modeFromNsswitch(undefined)).toBe('dns'); // no nsswitch.conf: musl reads hosts then DNS
    expect(modeFromNsswitch('passwd: files\n')).toBe('dns');
    expect(modeFromNsswitch('hosts: files mdns4_minimal [NOTFOUND=return] dns\n')).toBe('system');
    expect(modeFromNsswitch('hosts: files resolve [!UNAVAIL=return] dns myhostname\n')).toBe('system');
    expect(modeFromNsswitch('hosts: files ldap dns\n')).toBe('system');
    expect(modeFromNsswitch('hosts: dns files\n')).toBe('system');
    expect(modeFromNsswitch('hosts:\n')).toBe('system');
  });
  it('PINCTL_RESOLVER overrides; a bad value is a usage error naming the variable', async () => {
    expect(modeFromEnv(undefined)).toBe('auto');
    expect(modeFromEnv('System')).toBe('system');
    expect(modeFromEnv('dns')).toBe('dns');
    expect(() => modeFromEnv('bind')).toThrow(/PINCTL_RESOLVER must be dns, system or auto, found "bind"/);
    const bad = defaultResolver({ env: { PINCTL_RESOLVER: 'bind' } });
    await expect(bad('a.test')).rejects.toMatchObject({ code: 'USAGE' });
  });
  it('auto: from the nsswitch.conf file (missing = dns); PINCTL_RESOLVER wins', () => {
    const path = join(dir, 'nsswitch.conf');
    writeFileSync(path, 'hosts: files mdns4_minimal dns\n');
    expect(resolverMode({ env: {}, nsswitchPath: path })).toBe('system');
    expect(resolverMode({ env: { PINCTL_RESOLVER: 'dns' }, nsswitchPath: path })).toBe('dns');
    expect(resolverMode({ env: { PINCTL_RESOLVER: 'auto' }, nsswitchPath: join(dir, 'missing') })).toBe('dns');
    writeFileSync(path, 'hosts: files dns\n');
    expect(resolverMode({ env: {}, nsswitchPath: path })).toBe('dns');
    expect(resolverMode({ env: { PINCTL_RESOLVER: 'system' }, nsswitchPath: path })).toBe('system');
  });
});
