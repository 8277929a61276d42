/**
 * A resolver that never answers (issue 14 item 5): each lookup ends at the probe's deadline, lookups
 * run with the sweep's concurrency, and the healthy endpoints are checked as usual. First with a stub
 * lookup, then with a real DNS server on 127.0.0.1 that never answers some names (the `dns` resolver
 * pointed at it), then with the machine's own resolver pointed at it through a mount namespace over
 * /etc/resolv.conf where root allows (resolver-namespace.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin } from '../helpers/fixtures.js';
import { Resolver, makeDnsResolver, makeResolver } from '../../src/net/resolve.js';
import { DnsServer, dnsServer } from '../helpers/dns-server.js';
import { loadConfig } from '../../monitor/config.js';
import { sweep, trustStores } from '../../monitor/sweep.js';
import { probeTls } from '../../src/net/probe.js';
import { NOW, pkiFile, tempDir, writeConfig } from './helpers.js';

let good: Running;
let dns: DnsServer;
beforeAll(async () => {
  good = await tlsServer('chain.pem', 'leaf.key');
  // Healthy names: an A record for the TLS server (no AAAA: it listens on 127.0.0.1 only).
  dns = await dnsServer((name) => (name.startsWith('silent') ? 'silent' : ['127.0.0.1']));
});
afterAll(async () => {
  await good.close();
  await dns.close();
});

const healthyEndpoint = (name: string) =>
  `  - host: ${name}\n    sni: api.pinctl.test\n    port: ${good.port}\n    caFile: ${pkiFile('root.pem')}\n    pins: ["${opensslPin('intermediate.pem')}"]\n`;

describe('a silent resolver', () => {
  it('40 names that never resolve and 10 healthy endpoints: one deadline per lookup, 16 lookups at once', async () => {
    const started: number[] = [];
    const ended: number[] = [];
    let t0 = 0;
    const stub = makeResolver(async (host) => {
      if (host.startsWith('healthy')) return [{ address: '127.0.0.1' }];
      started.push(performance.now() - t0);
      return new Promise(() => undefined); // never answers
    });
    const silent: Resolver = (host, opts) => stub(host, opts).finally(() => host.startsWith('silent') && ended.push(performance.now() - t0));
    const healthy = Array.from({ length: 10 }, (_, i) => healthyEndpoint(`healthy${i}.pinctl.test`));
    const dead = Array.from({ length: 40 }, (_, i) => `  - host: silent${i}.pinctl.test\n    port: 443\n`);
    const dir = tempDir();
    const path = writeConfig(dir, `schedule: "* * * * *"\nstate: ./state\ntimeout: 500ms\nretries: 0\nconcurrency: 16\nendpoints:\n${[...healthy, ...dead].join('')}`);
    const cfg = loadConfig(path, { env: {}, cwd: dir, now: NOW });
    t0 = performance.now();
    const r = await sweep(cfg, { now: () => NOW, resolve: silent, stores: trustStores(cfg, {}) });
    const took = performance.now() - t0;
    const failed = r.observations.filter((o) => o.error?.reason === 'dns');
    expect(failed).toHaveLength(40);
    expect(failed[0]!.error!.message).toMatch(/no answer within 500 ms/);
    expect(r.observations.filter((o) => o.error === null)).toHaveLength(10);
    // At most 16 lookups at once (the sweep's concurrency), and more than libuv's 4 threads would
    // allow. Counted from the start and end times, not against the clock: on a loaded machine the
    // healthy probes sharing the 16 slots may take longer than a lookup's deadline.
    expect(started.length).toBe(40);
    const inFlight = started.map((t) => started.filter((u) => u <= t).length - ended.filter((u) => u < t).length);
    expect(Math.max(...inFlight)).toBeLessThanOrEqual(16);
    expect(Math.max(...inFlight)).toBeGreaterThan(4);
    // 40 lookups of 500 ms, 16 at a time: 3 rounds (1.5 s); generous for a loaded machine. Without a deadline: never.
    expect(took).toBeLessThan(10_000);
  }, 30_000);

  it('a real DNS server that never answers 40 names, 100 healthy endpoints, timeout 3s, retries 0: about one deadline', async () => {
    const dir = tempDir();
    const hostsPath = writeConfig(dir, '127.0.0.1 localhost\n', 'hosts'); // nothing of the test's names
    const resolve = makeDnsResolver({ servers: [dns.address], hostsPath });
    // The silent names first in the file, so they take workers before the healthy ones (the worst order).
    const dead = Array.from({ length: 40 }, (_, i) => `  - host: silent${i}.pinctl.test\n    port: 443\n`);
    const healthy = Array.from({ length: 100 }, (_, i) => healthyEndpoint(`healthy${i}.pinctl.test`));
    const path = writeConfig(dir, `schedule: "* * * * *"\nstate: ./state\ntimeout: 3s\nretries: 0\nendpoints:\n${[...dead, ...healthy].join('')}`);
    const cfg = loadConfig(path, { env: {}, cwd: dir, now: NOW });
    expect(cfg.concurrency).toBe(64); // the default: all 40 silent lookups wait at once
    const t0 = performance.now();
    let firstProbe = 0;
    const r = await sweep(cfg, {
      now: () => NOW,
      resolve,
      stores: trustStores(cfg, {}),
      probe: (req) => ((firstProbe ||= performance.now() - t0), probeTls(req)),
    });
    const took = performance.now() - t0;
    const failed = r.observations.filter((o) => o.error !== null);
    expect(failed.map((o) => o.host).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `silent${i}.pinctl.test`).sort());
    for (const o of failed) expect(o.error!.message).toBe(`${o.host}: DNS lookup failed (no answer within 3000 ms)`);
    const ok = r.observations.filter((o) => o.error === null);
    expect(ok).toHaveLength(100); // no healthy endpoint false-fails
    expect(new Set(ok.map((o) => o.address))).toEqual(new Set(['127.0.0.1']));
    // Every silent name was asked (A and AAAA), all within the first round of workers.
    expect(new Set(dns.queries.filter((q) => q.name.startsWith('silent')).map((q) => q.name)).size).toBe(40);
    // The lookups took one deadline (probes start after them), the sweep a little more; the issue measured 201 s.
    expect(firstProbe).toBeGreaterThanOrEqual(2900);
    expect(firstProbe).toBeLessThan(3000 + 4500); // one deadline plus a loaded machine's lag, not two deadlines
    expect(took).toBeLessThan(30_000);
  }, 60_000);
});
