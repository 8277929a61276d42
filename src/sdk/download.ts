/**
 * Bounded GET of a bundle over http or https (trust comes from the signature, not the transport).
 * The size cap is enforced while reading (SPEC §4.1): the request is aborted as soon as it is
 * exceeded, so an endless body costs at most maxBytes of memory.
 */
import http from 'node:http';
import https from 'node:https';
import { FetchError, TooLargeError } from '../bundle/errors.js';

import type { Download, DownloadOptions } from './core/transport.js';

export type { Download, DownloadOptions } from './core/transport.js';

export function download(url: URL, opts: DownloadOptions): Promise<Download> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'identity' };
    if (opts.etag) headers['if-none-match'] = opts.etag;
    // agent: false: a one-off connection, nothing kept alive between refreshes.
    const req = (url.protocol === 'https:' ? https : http).request(url, { method: 'GET', headers, agent: false });
    const timer = setTimeout(() => settle(new FetchError(`GET ${url.href}: no complete answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);

    function settle(err: Error | null, value?: Download): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value!);
    }

    req.on('error', (e) => settle(new FetchError(`GET ${url.href}: ${e.message}`)));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status === 304 || (opts.notFound ?? [404, 410]).includes(status)) {
        res.resume();
        return settle(null, status === 304 ? { status: 304 } : { status: 404 });
      }
      if (status !== 200) {
        res.resume();
        return settle(new FetchError(`GET ${url.href}: HTTP ${status}`, status >= 300 && status < 400 ? 'redirects are not followed: give the final URL' : undefined));
      }
      const declared = Number(res.headers['content-length']);
      if (declared > opts.maxBytes) return settle(tooLarge(url, opts.maxBytes));
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > opts.maxBytes) return settle(tooLarge(url, opts.maxBytes));
        chunks.push(chunk);
      });
      res.on('end', () => {
        const etag = res.headers.etag;
        settle(null, { status: 200, body: new Uint8Array(Buffer.concat(chunks)), ...(etag ? { etag } : {}) });
      });
      res.on('error', (e) => settle(new FetchError(`GET ${url.href}: ${e.message}`)));
      res.on('close', () => {
        if (!res.complete) settle(new FetchError(`GET ${url.href}: the connection closed before the body ended`));
      });
    });
    req.end();
  });
}

function tooLarge(url: URL, max: number): TooLargeError {
  return new TooLargeError(`GET ${url.href}: the response exceeds the ${max}-byte limit; the download was aborted`);
}
