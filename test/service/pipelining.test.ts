/** Regression: a client that pipelines thousands of GETs and never reads must not make the fast
 * path build thousands of responses in memory (review finding: 8 connections → 700 MB). */
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { createHandler, listen } from '../../src/service/http.js';
import { makeEntry } from '../../src/service/routes.js';

describe('fast path under pipelining', () => {
  it('answers every pipelined request in order to a client that reads', async () => {
    const body = Buffer.alloc(10 * 1024, 0x61);
    const entries = new Map([['/v1/bundles/pins', makeEntry(body)]]);
    const handler = createHandler({ service: { entries, audience: 'x', versions: () => ({}) } as never, adminToken: 'x'.repeat(32) });
    const srv = await listen(handler, '127.0.0.1', 0, { fastPath: (p: string) => entries.get(p) });
    try {
      const n = 500;
      const got = await new Promise<number>((resolve, reject) => {
        let text = '';
        const s = net.connect(srv.port, '127.0.0.1', () => s.write('GET /v1/bundles/pins HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(n)));
        s.setEncoding('latin1');
        s.on('data', (d: string) => {
          text += d;
          const count = text.split('HTTP/1.1 200').length - 1;
          if (count === n && text.endsWith(body.toString('latin1'))) {
            s.destroy();
            resolve(count);
          }
        });
        s.on('error', reject);
      });
      expect(got).toBe(500);
    } finally {
      await srv.close();
    }
  });
  it('keeps memory bounded when the client never reads', async () => {
    const body = Buffer.alloc(100 * 1024, 0x61);
    const entries = new Map([['/v1/bundles/pins', makeEntry(body)]]);
    const handler = createHandler({ service: { entries, audience: 'x', versions: () => ({}) } as never, adminToken: 'x'.repeat(32) });
    const srv = await listen(handler, '127.0.0.1', 0, { fastPath: (p: string) => entries.get(p) });
    const req = 'GET /v1/bundles/pins HTTP/1.1\r\nHost:a\r\n\r\n';
    const chunk = Buffer.from(req.repeat(Math.floor(65536 / req.length))); // ~1,600 requests
    const before = process.memoryUsage().external + process.memoryUsage().arrayBuffers;
    const socks: net.Socket[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const s = net.connect(srv.port, '127.0.0.1', () => s.write(chunk));
        s.pause();
        socks.push(s);
      }
      await new Promise((r) => setTimeout(r, 1000));
      const grown = process.memoryUsage().external + process.memoryUsage().arrayBuffers - before;
      // 8 × 1,600 × 100 KiB would be 1.3 GB; a bounded turn is a few MB per connection.
      expect(grown).toBeLessThan(150 * 1024 * 1024);
    } finally {
      for (const s of socks) s.destroy();
      await srv.close();
    }
  });
});
