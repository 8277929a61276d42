/**
 * A state with two vantages for the status page and `monitor status`: `api.pinctl.test` resolves
 * (config `addresses:`) to a real TLS server on 127.0.0.1 from the default vantage and to another
 * on 127.0.0.2, same port, with a different key, from vantage `eu` (as geo-DNS would). One
 * `monitor once` of each on one SQLite directory; the status page is served from that state by the
 * real metrics listener (startMetricsServer), as `monitor run` serves it.
 */
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { opensslPin, readPki } from '../helpers/fixtures.js';
import { monitorCli, pkiFile, tempDir, writeConfig } from './helpers.js';
import { loadConfig } from '../../monitor/config.js';
import { openState } from '../../monitor/open-state.js';
import { readStatus } from '../../monitor/status-page/source.js';
import { renderStatusPage } from '../../monitor/status-page/html.js';
import { MetricsServer, startMetricsServer } from '../../monitor/metrics.js';

export interface VantageRig {
  /** The default vantage's config (the page is served with it). */
  home: string;
  eu: string;
  id: string;
  base: string;
  close(): Promise<void>;
}

/** A TLS server on host:port (port 0: any free one). */
export function serveTls(host: string, port: number, cert: string, key: string): Promise<tls.Server> {
  const server = tls.createServer({ cert: readPki(cert), key: readPki(key) }, (s) => s.end());
  server.on('tlsClientError', () => {});
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => done(server));
  });
}

/** A config on `dir`/state probing api.pinctl.test at `address` from `vantage` (null: the default). */
export const vantageConfig = (dir: string, port: number, vantage: string | null, address: string) =>
  writeConfig(
    dir,
    `schedule: "*/5 * * * *"
state: ./state
${vantage ? `vantage: ${vantage}\n` : ''}retries: 0
timeout: 2s
endpoints:
  - host: api.pinctl.test
    port: ${port}
    addresses: [${address}]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('leaf.pem')}", "${opensslPin('backup.key')}"]
`,
    `${vantage ?? 'default'}.yaml`,
  );

export async function startVantageRig(): Promise<VantageRig> {
  const first = await serveTls('127.0.0.1', 0, 'chain.pem', 'leaf.key');
  const port = (first.address() as AddressInfo).port;
  const second = await serveTls('127.0.0.2', port, 'chain-new-key.pem', 'leaf-new-key.key');
  const dir = tempDir('pinctl-vantage-status-');
  const home = vantageConfig(dir, port, null, '127.0.0.1');
  const eu = vantageConfig(dir, port, 'eu', '127.0.0.2');
  for (const c of [home, eu]) {
    const r = await monitorCli(['monitor', 'once', '--config', c, '--json']);
    expect(r.stdout, r.stderr).toBeTruthy();
  }
  const cfg = loadConfig(home, { env: {}, cwd: dir, now: new Date() });
  const store = await openState(cfg, { readOnly: true });
  const doc = () => readStatus(store, cfg, new Date(), null);
  const metrics: MetricsServer = await startMetricsServer(
    { host: '127.0.0.1', port: 0 },
    {
      metrics: async () => '',
      health: async () => ({ ok: true, body: {} }),
      status: { json: doc, html: async () => renderStatusPage(await doc()) },
    },
  );
  return {
    home,
    eu,
    id: `api.pinctl.test:${port}`,
    base: `http://127.0.0.1:${metrics.port}`,
    close: async () => {
      await metrics.close();
      await store.close();
      for (const s of [first, second]) await new Promise((r) => s.close(r));
    },
  };
}
