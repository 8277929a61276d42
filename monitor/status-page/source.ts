/**
 * Reads what the status page shows: the store through its existing read methods, and the signing
 * service's current pins bundle (version, expiry) when `dynamicPinning.service` names one.
 */
import type { MonitorConfig } from '../config.js';
import type { MonitorState } from '../state.js';
import { parseEnvelope } from '../../src/bundle/envelope.js';
import { payloadHeader } from '../../src/bundle/payload.js';
import { describeError } from '../../src/errors.js';
import { BundleInfo, StatusDocument, statusDocument } from './model.js';

/** Timeline length per endpoint: the newest events (history keeps everything; the page shows recent). */
const TIMELINE_EVENTS = 100;

export async function readStatus(
  store: MonitorState,
  cfg: MonitorConfig,
  now: Date,
  bundle: BundleInfo | null,
): Promise<StatusDocument> {
  const configured = new Set(cfg.endpoints.map((e) => e.id));
  const [observations, open, lastChanges, lastSweep, sent, proposals] = await Promise.all([
    store.latestObservations(),
    store.openFindings(),
    store.lastChanges(),
    store.lastSweep(),
    store.outbox('sent'),
    store.proposals(),
  ]);
  const history = new Map<string, Awaited<ReturnType<MonitorState['history']>>>();
  for (const ep of cfg.endpoints)
    history.set(
      ep.id,
      (await store.history(ep.id, TIMELINE_EVENTS)).filter((e) => e.endpoint === ep.id),
    );
  return statusDocument({
    now,
    endpoints: cfg.endpoints,
    observations: observations.filter((o) => configured.has(o.endpoint)),
    open: open.filter((f) => configured.has(f.endpoint)),
    lastChanges,
    lastSweep,
    history,
    proposals,
    sent,
    bundle,
    vantage: cfg.vantage,
  });
}

export type FetchLike = (
  url: string,
  init: { signal: AbortSignal },
) => Promise<{ status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

/** Bundles are small; a larger answer is not one. */
const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;

/**
 * The service's current pins bundle: version, issuedAt, expiresAt, audience from the payload.
 * Not verified (the monitor holds no signing key set): this is what the service serves, for
 * people and for the expiry alert, not something applied.
 */
export async function fetchBundleInfo(
  service: string,
  fetchFn: FetchLike = fetch,
  timeoutMs = 3000,
): Promise<BundleInfo> {
  const url = `${service}/v1/bundles/pins`;
  const unknown = (error: string): BundleInfo => ({
    url,
    version: null,
    issuedAt: null,
    expiresAt: null,
    audience: null,
    error,
  });
  try {
    const res = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200)
      return unknown(res.status === 404 ? 'no pins bundle published yet (404)' : `HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > MAX_BUNDLE_BYTES) return unknown(`answer of ${bytes.length} bytes is not a bundle`);
    const h = payloadHeader(parseEnvelope(bytes).payload);
    const text = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      url,
      version: typeof h.version === 'number' ? h.version : null,
      issuedAt: text(h.issuedAt),
      expiresAt: text(h.expiresAt),
      audience: text(h.audience),
      error: null,
    };
  } catch (e) {
    return unknown(describeError(e));
  }
}

/** One fetch per `ttlMs` at most, however often the page or /metrics is read. */
export function cachedBundleInfo(
  service: () => string | null,
  now: () => Date,
  ttlMs = 60_000,
  fetchFn?: FetchLike,
): () => Promise<BundleInfo | null> {
  let cached: { service: string; at: number; info: Promise<BundleInfo> } | null = null;
  return async () => {
    const s = service();
    if (!s) return null;
    const t = now().getTime();
    if (!cached || cached.service !== s || t - cached.at >= ttlMs || t < cached.at)
      cached = { service: s, at: t, info: fetchBundleInfo(s, fetchFn) };
    return cached.info;
  };
}
