/**
 * A resolver that never answers (a stub in place of getaddrinfo: tests never query real DNS):
 * each lookup ends at the probe's deadline, lookups run with the sweep's concurrency, and the
 * healthy endpoints are checked as usual.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin } from '../helpers/fixtures.js';
import { makeResolver } from '../../src/net/resolve.js';
import { loadConfig } from '../../monitor/config.js';
import { sweep, trustStores } from '../../monitor/sweep.js';
import { NOW, pkiFile, tempDir, writeConfig } from './helpers.js';

let good: Running;
beforeAll(async () => {
  good = await tlsServer('chain.pem', 'leaf.key');
});
afterAll(async () => {
  await good.close();
});

describe('a silent resolver', () => {
  it('40 names that never resolve and 10 healthy endpoints: one deadline per lookup, 16 lookups at once', async () => {
    const started: number[] = [];
    let t0 = 0;
    const silent = makeResolver(async (host) => {
      if (host.startsWith('healthy')) return [{ address: '127.0.0.1' }];
      started.push(performance.now() - t0);
      return new Promise(() => undefined); // never answers
    });
    const healthy = Array.from({ length: 10 }, (_, i) => `  - host: healthy${i}.pinctl.test\n    sni: api.pinctl.test\n    port: ${good.port}\n    caFile: ${pkiFile('root.pem')}\n    pins: ["${opensslPin('intermediate.pem')}"]\n`);
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
    // 16 lookups at once: the 17th starts only when the first ones reach their deadline.
    expect(started.length).toBe(40);
    expect(started.filter((t) => t < 400).length).toBe(16);
    expect(started[16]!).toBeGreaterThanOrEqual(450);
    // 40 lookups of 500 ms, 16 at a time: 3 rounds (1.5 s); generous for a loaded machine. Without a deadline: never.
    expect(took).toBeLessThan(10_000);
  }, 30_000);
});
