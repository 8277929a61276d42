/**
 * Rig for shared sweeps (several monitors of one vantage probing one sweep): many real TLS
 * endpoints on 127.0.0.1, each a port of its own that counts the connections it accepted (one per
 * probe: retries are 0) and answers after a delay, so a sweep lasts long enough for several
 * monitors to share it and for one to be killed in the middle; the state read directly (SQLite
 * file or PostgreSQL database).
 */
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import Database from 'libsql';
import pg from 'pg';
import { opensslPin, readPki } from '../helpers/fixtures.js';
import { pkiFile, writeConfig } from './helpers.js';

export interface SlowEndpoint {
  port: number;
  /** Connections accepted (= handshakes attempted by probes). */
  handshakes: number;
  /** Serves another certificate and key from now on. */
  serve(chain: string, key: string): void;
  close(): Promise<void>;
}

export async function slowEndpoint(delayMs: number): Promise<SlowEndpoint> {
  const inner = tls.createServer({ cert: readPki('chain.pem'), key: readPki('leaf.key') }, (s) => s.end());
  inner.on('tlsClientError', () => {});
  const sockets = new Set<net.Socket>();
  const front = net.createServer((sock) => {
    ep.handshakes++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    // The TLS server takes the connection over after the delay (the ClientHello waits in the socket).
    setTimeout(() => !sock.destroyed && inner.emit('connection', sock), delayMs);
  });
  const ep: SlowEndpoint = {
    port: 0,
    handshakes: 0,
    serve: (chain, key) => inner.setSecureContext({ cert: readPki(chain), key: readPki(key) }),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        front.close(() => r());
      }),
  };
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
  ep.port = (front.address() as net.AddressInfo).port;
  return ep;
}

/**
 * One endpoint per port, all named api.pinctl.test; endpoint 0 pins keys its server does not serve
 * (one pin-mismatch at the first sweep), the others pin the served leaf and a backup.
 */
export function sharedConfig(dir: string, state: string, ports: number[], extra: string): string {
  const good = `["${opensslPin('leaf.pem')}", "${opensslPin('backup.key')}"]`;
  const wrong = `["${opensslPin('leaf-new-key.key')}", "${opensslPin('backup.key')}"]`;
  const endpoints = ports
    .map((p, i) => `  - host: api.pinctl.test\n    port: ${p}\n    addresses: [127.0.0.1]\n    caFile: ${pkiFile('root.pem')}\n    pins: ${i === 0 ? wrong : good}\n`)
    .join('');
  return writeConfig(dir, `state: ${state}\nretries: 0\ntimeout: 5s\nconcurrency: 2\n${extra}endpoints:\n${endpoints}`);
}

/** SQL on the state as a test reads it: PostgreSQL ($1 placeholders) or the SQLite file (?). */
export interface StateReader {
  rows(sql: string, args?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function pgReader(url: string): Promise<StateReader> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {}); // the database is dropped at the end
  await c.connect();
  return { rows: async (sql, args = []) => (await c.query(sql.replace(/\?/g, (_, i: number) => `$${sql.slice(0, i).split('?').length}`), args)).rows, close: () => c.end() };
}

export function sqliteReader(stateDir: string): StateReader {
  const db = new Database(join(stateDir, 'monitor.db'), { timeout: 10_000 });
  return { rows: async (sql, args = []) => db.prepare(sql).all(args) as Record<string, unknown>[], close: async () => void db.close() };
}

export const claimerOf = (pid: number) => new RegExp(` pid ${pid}$`);

export async function until(what: string, cond: () => Promise<boolean> | boolean, ms: number, stepMs = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
