/** One JSON POST for the HTTP channels (webhook, Slack, PagerDuty), bounded by the attempt's deadline. */
import http from 'node:http';
import https from 'node:https';
import { DeliveryError } from './types.js';

export interface HttpAnswer {
  status: number;
  body: string;
  retryAfterMs?: number;
}

/**
 * POSTs `body` (already serialized: the stored bytes) and reads the answer (its first 64 KiB).
 * node:http rather than fetch: an abort must destroy the socket (a tarpit that keeps sending
 * header lines held fetch's connection open after the abort). Aborts on the attempt's signal or
 * after `timeoutMs`, whichever comes first.
 */
export function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<HttpAnswer> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'pinctl-monitor',
          'content-length': String(Buffer.byteLength(body)),
          ...headers,
        },
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= 65_536) chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            retryAfterMs: retryAfter(res.headers['retry-after'] ?? null),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function retryAfter(v: string | null): number | undefined {
  if (!v) return undefined;
  // Seconds only: an HTTP date would need the clock; the backoff applies then.
  const s = Number(v);
  return Number.isFinite(s) && s >= 0 ? Math.min(s, 86_400) * 1000 : undefined;
}

/**
 * The one HTTP classification of every HTTP channel (webhook, Slack, PagerDuty): 408 Request
 * Timeout, 425 Too Early, 429 Too Many Requests and 5xx are worth retrying; any other 4xx means the
 * receiver refused the message itself (400 malformed, 401/403 refused, 404/410 gone, 422
 * unprocessable), so the same bytes would be refused again: the row is dead. (A 3xx is not
 * followed and counts as refused too: a moved webhook needs its new URL in the config.)
 */
export const retryableStatus = (status: number) => status === 408 || status === 425 || status === 429 || status >= 500;

/** Throws a classified DeliveryError for a non-2xx answer. */
export function requireSuccess(what: string, a: HttpAnswer, detail = a.body): void {
  if (a.status >= 200 && a.status <= 299) return;
  const said = detail.trim().replace(/\s+/g, ' ').slice(0, 300);
  throw new DeliveryError(`${what} answered HTTP ${a.status}${said ? `: ${said}` : ''}`, {
    retryable: retryableStatus(a.status),
    retryAfterMs: a.retryAfterMs,
  });
}
