/** Review findings 1 and 5: reload is transactional (state that cannot be opened, busy metrics port). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startRunner } from '../../monitor/runner.js';
import { noNetworkResolver } from '../helpers/cli.js';
import { NOW, freePort, tempDir, writeConfig } from './helpers.js';

const cfgText = (state: string, listen: string) => `schedule: "0 0 1 1 *"
state: ${state}
metrics: { listen: "${listen}" }
endpoints:
  - host: api.pinctl.test
    addresses: [127.0.0.1]
`;

let busy: net.Server;
let busyPort: number;
beforeAll(async () => {
  busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  busyPort = (busy.address() as net.AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => busy.close(() => r())));

async function get(addr: { host: string; port: number }, path: string) {
  const res = await fetch(`http://${addr.host}:${addr.port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, text: await res.text() };
}

describe('reload is transactional', () => {
  it('keeps the running store and listener when the new state cannot be opened', async () => {
    const dir = tempDir();
    const path = writeConfig(dir, cfgText('./state', '127.0.0.1:0'));
    const logs: string[] = [];
    const runner = await startRunner({ configPath: path, env: {}, cwd: dir, now: () => NOW, resolve: noNetworkResolver, log: (l) => logs.push(l), sweepAtStart: false });
    try {
      const addr = runner.metricsAddress()!;
      writeConfig(dir, cfgText('/proc/nope/state', '127.0.0.1:0'));
      expect(await runner.reload()).toBe(false);
      expect(logs.at(-1)).toMatch(/^error: reload of .* failed, keeping the running config: .*\/proc\/nope/);
      expect(runner.config().state).toBe(`${dir}/state`);
      expect(runner.metricsAddress()).toEqual(addr);
      const m = await get(addr, '/metrics');
      expect(m.status).toBe(200);
      expect(m.text).toMatch(/pinctl_config_reloads_total\{result="failure"\} 1/);
      expect((await get(addr, '/healthz')).status).toBe(200);
    } finally {
      await runner.stop();
    }
  });

  it('keeps the old metrics listener when the new listen address is busy', async () => {
    const dir = tempDir();
    const path = writeConfig(dir, cfgText('./state', '127.0.0.1:0'));
    const logs: string[] = [];
    const runner = await startRunner({ configPath: path, env: {}, cwd: dir, now: () => NOW, resolve: noNetworkResolver, log: (l) => logs.push(l), sweepAtStart: false });
    try {
      const addr = runner.metricsAddress()!;
      writeConfig(dir, cfgText('./state', `127.0.0.1:${busyPort}`));
      expect(await runner.reload()).toBe(false);
      expect(logs.at(-1)).toMatch(/^error: reload of .* failed/);
      expect(runner.metricsAddress()).toEqual(addr);
      expect((await get(addr, '/metrics')).status).toBe(200);
      // A later valid change switches over and closes the old listener.
      const next = await freePort();
      writeConfig(dir, cfgText('./state2', `127.0.0.1:${next}`));
      expect(await runner.reload()).toBe(true);
      expect(runner.metricsAddress()!.port).toBe(next);
      expect((await get(runner.metricsAddress()!, '/metrics')).text).toMatch(/pinctl_config_reloads_total\{result="success"\} 1/);
      await expect(get(addr, '/metrics')).rejects.toThrow();
    } finally {
      await runner.stop();
    }
  });
});
