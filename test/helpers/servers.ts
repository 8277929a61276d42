/** Real servers on 127.0.0.1 for probing tests: TLS with a given chain, and misbehaving peers. */
import tls from 'node:tls';
import net from 'node:net';
import { readPki } from './fixtures.js';

export interface Running {
  port: number;
  close(): Promise<void>;
}

function listening(server: net.Server, host = '127.0.0.1'): Promise<Running> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => {
    server.listen(0, host, () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

export function tlsServer(chainFile: string, keyFile: string, opts: tls.TlsOptions = {}, host = '127.0.0.1'): Promise<Running & { server: tls.Server }> {
  const server = tls.createServer({ cert: readPki(chainFile), key: readPki(keyFile), ...opts }, (s) => s.end());
  server.on('tlsClientError', () => {});
  return listening(server, host).then((r) => ({ ...r, server }));
}

/** Accepts TCP and never answers: a stalled handshake. */
export function stallServer(): Promise<Running> {
  return listening(net.createServer(() => {}));
}

/** Speaks plain HTTP. */
export function httpLikeServer(): Promise<Running> {
  return listening(net.createServer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'))));
}

/** Sends half a TLS ServerHello and then stalls. */
export function midHandshakeStallServer(): Promise<Running> {
  return listening(net.createServer((s) => s.once('data', () => s.write(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00])))));
}

/** A port nothing listens on (bound then closed). */
export async function closedPort(): Promise<number> {
  const r = await listening(net.createServer());
  await r.close();
  return r.port;
}
