/** Test helpers for the SDK: signing keys, signed bundles, and a pinctl service on 127.0.0.1. */
import { generateKeyPairSync, createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { signEnvelope, signerFromPem, type Signer } from '../../src/bundle/sign.js';
import { serializeEnvelope } from '../../src/bundle/envelope.js';
import { encodePayload } from '../../src/bundle/payload.js';
import { PAYLOAD_TYPES, type BundleType, type Payload, type PinsDomain } from '../../src/bundle/types.js';
import { readPki, opensslPin } from '../helpers/fixtures.js';

export const AUDIENCE = 'com.example.app';
export const NOW = new Date('2026-06-01T00:00:00Z');
export const ISSUED = '2026-05-31T00:00:00Z';
export const EXPIRES = '2026-06-08T00:00:00Z';

export const PIN = {
  leaf: opensslPin('leaf.pem'),
  leafNew: opensslPin('leaf-new-key.pem'),
  intermediate: opensslPin('intermediate.pem'),
  root: opensslPin('root.pem'),
  rootRsa: opensslPin('root-rsa.pem'),
  backup: opensslPin('backup.key'),
};

export function newSigner(): Signer {
  const { privateKey } = generateKeyPairSync('ed25519');
  return signerFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
}

export const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
export const keyid = (raw: Uint8Array) => createHash('sha256').update(raw).digest('hex');

type Common = { version: number; audience?: string; issuedAt?: string; expiresAt?: string };

export function pinsPayload(p: Common & { domains: PinsDomain[] }): Payload {
  return { type: 'pins', audience: p.audience ?? AUDIENCE, version: p.version, issuedAt: p.issuedAt ?? ISSUED, expiresAt: p.expiresAt ?? EXPIRES, domains: p.domains };
}

export function rootsPayload(p: Common & { roots: string[] }): Payload {
  const roots = p.roots.map((file) => {
    const der = readPki(file).toString('utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    return { name: file, spkiSha256: opensslPin(file), certificate: der };
  });
  return { type: 'trust-roots', audience: p.audience ?? AUDIENCE, version: p.version, issuedAt: p.issuedAt ?? ISSUED, expiresAt: p.expiresAt ?? EXPIRES, roots };
}

export function keysetPayload(p: Common & { keys: Uint8Array[]; threshold?: number }): Payload {
  return {
    type: 'keyset',
    audience: p.audience ?? AUDIENCE,
    version: p.version,
    issuedAt: p.issuedAt ?? ISSUED,
    expiresAt: p.expiresAt ?? EXPIRES,
    threshold: p.threshold ?? 1,
    keys: p.keys.map((k) => ({ keyid: keyid(k), publicKey: b64(k) })),
  };
}

/** The envelope bytes as a service serves them; `as` signs under another payloadType. */
export function sign(payload: Payload, signers: Signer[], as: BundleType = payload.type): Buffer {
  return Buffer.from(serializeEnvelope(signEnvelope(PAYLOAD_TYPES[as], encodePayload(payload), signers)));
}

export const domain = (name: string, pins: string[], includeSubdomains = false): PinsDomain => ({ domain: name, includeSubdomains, pins });

export interface Route {
  status?: number;
  body?: Buffer | string;
  etag?: string;
  /** slow: never answers; endless: a chunked body that never ends. */
  mode?: 'slow' | 'endless';
}

export interface Service {
  url: string;
  routes: Map<string, Route>;
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  reports: unknown[];
  /** Bytes written by the endless route before the client hung up. */
  endless: { written: number; closed: boolean };
  close(): Promise<void>;
}

/** A pinctl service on 127.0.0.1: GET routes from `routes`, POST /v1/reports recorded. */
export async function startService(): Promise<Service> {
  const routes = new Map<string, Route>();
  const requests: Service['requests'] = [];
  const reports: unknown[] = [];
  const endless = { written: 0, closed: false };
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (req.method === 'POST' && req.url === '/v1/reports') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        reports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(204).end();
      });
      return;
    }
    const route = routes.get(req.url ?? '');
    if (!route) return void res.writeHead(404).end();
    if (route.mode === 'slow') return;
    if (route.mode === 'endless') {
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const timer = setInterval(() => {
        res.write(chunk);
        endless.written += chunk.length;
      }, 1);
      res.on('close', () => {
        clearInterval(timer);
        endless.closed = true;
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      return;
    }
    if (route.etag && req.headers['if-none-match'] === route.etag) return void res.writeHead(304, { etag: route.etag }).end();
    const body = Buffer.from(route.body ?? '');
    res.writeHead(route.status ?? 200, { 'content-type': 'application/json', 'content-length': body.length, ...(route.etag ? { etag: route.etag } : {}) });
    res.end(body);
  });
  const r = await listen(server);
  return { url: `http://127.0.0.1:${r.port}`, routes, requests, reports, endless, close: r.close };
}

/** An HTTPS app server with the fixture chain; `use` switches the served chain for new handshakes. */
export async function startAppServer(chain = 'chain.pem', key = 'leaf.key') {
  const server = https.createServer({ cert: readPki(chain), key: readPki(key) }, (_req, res) => res.end('ok'));
  server.on('tlsClientError', () => {});
  const r = await listen(server);
  return { ...r, use: (c: string, k: string) => server.setSecureContext({ cert: readPki(c), key: readPki(k) }) };
}

function listen(server: http.Server): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    ),
  );
}

export const tempDir = () => mkdtempSync(join(tmpdir(), 'pinctl-sdk-'));

/** Waits until `cond` holds (for fire-and-forget effects such as reports). */
export async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
