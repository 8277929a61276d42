/**
 * What an operator watches on the signing service (pure: a snapshot and the clock in, text out):
 * `GET /metrics` in the Prometheus text format (0.0.4) and the `GET /healthz` verdict. Bundles
 * are signed for a limited time; these say how long the served ones have left, and whether the
 * last publish (or automatic re-signing) worked.
 */
import type { BundleType } from '../bundle/types.js';
import type { PublishRecord } from './service.js';

export const SERVED_TYPES: readonly BundleType[] = ['pins', 'trust-roots', 'keyset'];
/** /healthz is 503 once a served bundle or keyset is this close to its expiry. */
export const HEALTH_EXPIRY_MARGIN_MS = 24 * 3_600_000;

export interface Served {
  type: BundleType;
  version: number;
  issuedAt: string;
  expiresAt: string;
}

export interface MetricsSnapshot {
  now: Date;
  served: Served[];
  lastPublish: Map<string, PublishRecord>;
  /** When the service will re-sign each type next (Unix ms), if it will. */
  nextResign: Map<string, number>;
  reportsReceived: number;
  reportsDropped: Record<string, number>;
  readOnly: boolean;
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function family(name: string, type: 'gauge' | 'counter', help: string, samples: [Record<string, string>, number][]): string {
  const lines = samples.map(([labels, value]) => {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
    return `${name}${l ? `{${l}}` : ''} ${Number.isInteger(value) ? value : Number(value.toPrecision(12))}\n`;
  });
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${lines.join('')}`;
}

export function renderServiceMetrics(s: MetricsSnapshot): string {
  const now = s.now.getTime();
  const byType = (f: (x: Served) => number) => s.served.map((x): [Record<string, string>, number] => [{ type: x.type }, f(x)]);
  const published = [...s.lastPublish].sort((a, b) => a[0].localeCompare(b[0]));
  return [
    family('pinctl_serve_bundle_version', 'gauge', 'Version of the bundle served, per type (pins, trust-roots, keyset).', byType((x) => x.version)),
    family('pinctl_serve_bundle_issued_timestamp_seconds', 'gauge', 'issuedAt of the bundle served, as a Unix timestamp.', byType((x) => Date.parse(x.issuedAt) / 1000)),
    family('pinctl_serve_bundle_expiry_timestamp_seconds', 'gauge', 'expiresAt of the bundle served, as a Unix timestamp.', byType((x) => Date.parse(x.expiresAt) / 1000)),
    family('pinctl_serve_bundle_seconds_until_expiry', 'gauge', 'Seconds until the bundle served expires (negative once expired: clients refuse it).', byType((x) => Math.round((Date.parse(x.expiresAt) - now) / 1000))),
    family('pinctl_serve_next_resign_timestamp_seconds', 'gauge', 'When the service re-signs the served bundle with a new version, as a Unix timestamp.', [...s.nextResign].map(([type, at]) => [{ type }, Math.round(at / 1000)])),
    family('pinctl_serve_last_publish_timestamp_seconds', 'gauge', 'When the last publish of this type was attempted (admin or automatic re-signing), as a Unix timestamp.', published.map(([type, r]) => [{ type }, r.time])),
    family('pinctl_serve_last_publish_success', 'gauge', 'Whether the last publish of this type was stored and served (1) or failed (0).', published.map(([type, r]) => [{ type }, r.ok ? 1 : 0])),
    family('pinctl_serve_reports_received_total', 'counter', 'Pin-failure reports written to reports.log since the service started.', [[{}, s.reportsReceived]]),
    family('pinctl_serve_reports_dropped_total', 'counter', 'Pin-failure reports not written, by reason (log_full, rate_limited, read_only).', Object.entries(s.reportsDropped).sort().map(([reason, n]) => [{ reason }, n])),
    family('pinctl_serve_read_only', 'gauge', 'Whether the data directory could not be written at start-up (1: publishing is refused).', [[{}, s.readOnly ? 1 : 0]]),
  ].join('');
}

export interface Health {
  ok: boolean;
  /** One line per served bundle or keyset within its margin of expiry (or expired). */
  problems: string[];
}

/**
 * 503-worthy: a served bundle or keyset expiring within 24 h. For bundles the service signs
 * with a validity of 4 days or less, the margin is a quarter of that validity (else such a
 * service would never be healthy).
 */
export function healthOf(served: Served[], now: Date, validityMs: number): Health {
  const problems: string[] = [];
  for (const x of served) {
    const margin = x.type === 'keyset' ? HEALTH_EXPIRY_MARGIN_MS : Math.min(HEALTH_EXPIRY_MARGIN_MS, validityMs / 4);
    const left = Date.parse(x.expiresAt) - now.getTime();
    if (left <= 0) problems.push(`${x.type} v${x.version} expired at ${x.expiresAt}: clients refuse it`);
    else if (left <= margin) problems.push(`${x.type} v${x.version} expires at ${x.expiresAt}, in ${Math.round(left / 60_000)} min`);
  }
  return { ok: problems.length === 0, problems };
}
