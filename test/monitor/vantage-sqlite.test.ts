/**
 * Vantages on the embedded SQLite state: `monitor once` with `vantage: eu`, then `vantage: us`, on
 * one state directory. The name resolves (config `addresses:`) to two real TLS servers on one port
 * with different keys. Each vantage keeps its own findings (us: a pin mismatch named after it); one
 * vantage-disagreement for the state; a later eu sweep resolves nothing of us's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Store } from '../../monitor/store.js';
import { monitorCli, tempDir } from './helpers.js';
import { serveTls, vantageConfig } from './vantage-status-rig.js';

const servers: tls.Server[] = [];
let port = 0;

async function serve(host: string, at: number, cert: string, key: string): Promise<tls.Server> {
  const server = await serveTls(host, at, cert, key);
  servers.push(server);
  return server;
}

beforeAll(async () => {
  port = ((await serve('127.0.0.1', 0, 'chain.pem', 'leaf.key')).address() as AddressInfo).port;
  await serve('127.0.0.2', port, 'chain-new-key.pem', 'leaf-new-key.key');
});
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

const config = (dir: string, vantage: string, address: string) => vantageConfig(dir, port, vantage, address);

type Out = { observations: { vantage: string; address: string }[]; opened: { kind: string; title: string }[]; open: { kind: string }[] };
const once = async (path: string) => {
  const r = await monitorCli(['monitor', 'once', '--config', path, '--json']);
  return { code: r.code, out: JSON.parse(r.stdout) as Out };
};

describe('vantages on a SQLite state', () => {
  it('each vantage keeps its findings; one vantage-disagreement for the state', async () => {
    const dir = tempDir();
    const eu = config(dir, 'eu', '127.0.0.1');
    const us = config(dir, 'us', '127.0.0.2');
    const first = await once(eu);
    expect(first.code).toBe(0);
    expect(first.out.observations.map((o) => [o.vantage, o.address])).toEqual([['eu', '127.0.0.1']]);

    const second = await once(us);
    expect(second.code).toBe(1);
    const id = `api.pinctl.test:${port}`;
    // us's own problem is named after it; the disagreement belongs to the state.
    expect(second.out.opened.map((f) => [f.kind, f.title.startsWith('[us] ')]).sort()).toEqual([
      ['pin-mismatch', true],
      ['vantage-disagreement', false],
    ]);

    const third = await once(eu);
    expect(third.out.opened).toEqual([]); // eu neither reopens the disagreement nor judges us's pins
    expect(third.out.open.map((f) => f.kind).sort()).toEqual(['pin-mismatch', 'vantage-disagreement']);

    const store = await Store.open(`${dir}/state`);
    try {
      const open = await store.openFindings();
      expect(open.map((f) => [f.key, f.vantage ?? null]).sort()).toEqual([
        [`pin-mismatch|${id}|vantage=us`, 'us'],
        [`vantage-disagreement|${id}`, null],
      ]);
      expect((await store.lastSweep('eu'))?.vantage).toBe('eu');
    } finally {
      store.close();
    }
  });
});
