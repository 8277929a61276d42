/** One JSON POST for the HTTP channels (webhook, Slack, PagerDuty), bounded by the attempt's deadline. */
import { DeliveryError } from './types.js';

export interface HttpAnswer {
  status: number;
  body: string;
  retryAfterMs?: number;
}

/**
 * POSTs `body` (already serialized: the stored bytes) and reads the whole answer. Aborts on the
 * attempt's signal or after `timeoutMs` (one wait), whichever comes first.
 */
export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'pinctl-monitor', ...headers },
    body,
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
  });
  const text = await res.text().catch(() => '');
  return { status: res.status, body: text, retryAfterMs: retryAfter(res.headers.get('retry-after')) };
}

function retryAfter(v: string | null): number | undefined {
  if (!v) return undefined;
  // Seconds only: an HTTP date would need the clock; the backoff applies then.
  const s = Number(v);
  return Number.isFinite(s) && s >= 0 ? Math.min(s, 86_400) * 1000 : undefined;
}

/** 408, 429 and 5xx are worth retrying; another 4xx means the message itself is refused. */
export const retryableStatus = (status: number) => status === 408 || status === 429 || status >= 500;

/** Throws a classified DeliveryError for a non-2xx answer. */
export function requireSuccess(what: string, a: HttpAnswer, detail = a.body): void {
  if (a.status >= 200 && a.status <= 299) return;
  const said = detail.trim().replace(/\s+/g, ' ').slice(0, 300);
  throw new DeliveryError(`${what} answered HTTP ${a.status}${said ? `: ${said}` : ''}`, { retryable: retryableStatus(a.status), retryAfterMs: a.retryAfterMs });
}
