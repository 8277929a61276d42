/**
 * The status page's document: what `/api/status` answers and what `/` renders. Pure: the caller
 * reads the store (source.ts) and passes everything in, including the clock.
 */
import type { EndpointConfig } from '../config.js';
import type { HistoryEvent, OutboxRow } from '../store.js';
import { byEndpoint } from '../findings.js';
import { windowEnd, type Proposal } from '../proposal-state.js';
import { EndpointRow, endpointRows } from '../status.js';
import { findingVantage, vantageOf } from '../vantage.js';
import type { CertRecord, Observation, Position, Severity, StoredFinding } from '../types.js';

export interface BundleInfo {
  /** Where it was read: the service's GET /v1/bundles/pins. */
  url: string;
  version: number | null;
  issuedAt: string | null;
  expiresAt: string | null;
  audience: string | null;
  /** Why version/expiry are unknown (unreachable, 404 before the first publish, not a bundle). */
  error: string | null;
}

export interface ChainPosition {
  position: Position;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  daysToExpiry: number;
  spkiSha256: string;
  sha256: string;
  /** A pin the app ships is this certificate's key. */
  pinned: boolean;
  /** Addresses serving it. */
  addresses: string[];
}

export interface TimelineEntry {
  at: string;
  /** first-seen, opened, changed, resolved, alerted, pins-proposed, pins-publish-*, ... */
  type: string;
  kind: string | null;
  severity: string | null;
  summary: string;
}

export interface FindingSummary {
  id: string;
  kind: string;
  severity: Severity;
  endpoint: string;
  address: string | null;
  title: string;
  openedAt: string;
  lastAlertAt: string | null;
  /** The vantage that decided it; null for a state-wide finding (vantage-disagreement, pin-failure reports). */
  vantage: string | null;
}

export interface EndpointStatus extends EndpointRow {
  host: string;
  port: number;
  pins: { source: string; format: string; expiration: string | null; count: number } | null;
  /** Each address this row's vantage probed (the name keeps its first meaning: the points probed). */
  vantages: { address: string; ok: boolean; protocol: string | null; error: string | null; at: string }[];
  chain: ChainPosition[];
  findings: FindingSummary[];
  timeline: TimelineEntry[];
}

export interface OverlapWindow {
  endpoint: string;
  domain: string;
  from: string;
  until: string;
}

export interface StatusDocument {
  generatedAt: string;
  healthy: boolean;
  lastSweep: { finishedAt: string; durationMs: number } | null;
  bundle: BundleInfo | null;
  endpoints: EndpointStatus[];
  findings: FindingSummary[];
  pinSetExpirations: { endpoint: string; source: string; expiration: string }[];
  overlaps: OverlapWindow[];
}

export interface StatusInput {
  now: Date;
  endpoints: EndpointConfig[];
  observations: Observation[];
  open: StoredFinding[];
  lastChanges: Map<string, string>;
  lastSweep: { finishedAt: string; durationMs: number } | null;
  /** History events per endpoint id, oldest first. */
  history: Map<string, HistoryEvent[]>;
  /** Dynamic-pinning proposals (the state's proposals table), oldest first. */
  proposals?: Proposal[];
  /** Alerts sent (outbox rows with status 'sent'). */
  sent: OutboxRow[];
  bundle: BundleInfo | null;
  /** The reading monitor's vantage: an endpoint no vantage observed yet is shown under it. */
  vantage?: string;
}

const DAY = 86_400_000;
/** Event types shown on the timeline (others, e.g. publish attempts, are implementation detail). */
const TIMELINE_TYPES =
  /^(first-seen|opened|changed|resolved|pins-proposed|pins-retire-proposed|pins-publish-(published|refused|failed)|pins-retire-publish-(published|refused|failed))$/;

export function statusDocument(input: StatusInput): StatusDocument {
  const { now } = input;
  const rows = endpointRows(input.endpoints, input.observations, input.open, input.lastChanges, now, input.vantage);
  const observed = byEndpoint(input.observations);
  const configs = new Map(input.endpoints.map((ep) => [ep.id, ep]));
  // One entry per row: an endpoint seen from two vantages is two entries, each with its own view.
  const endpoints = rows.map((row) => {
    const ep = configs.get(row.endpoint)!;
    const obs = (observed.get(ep.id) ?? []).filter((o) => vantageOf(o) === row.vantage);
    const open = input.open.filter((f) => f.endpoint === ep.id && [row.vantage, null].includes(findingVantage(f)));
    return {
      ...row,
      host: ep.host,
      port: ep.port,
      pins: ep.pins
        ? { source: ep.pins.source, format: ep.pins.format, expiration: ep.pins.expiration, count: ep.pins.pins.length }
        : null,
      vantages: obs.map((o) => ({
        address: o.address,
        ok: !o.error,
        protocol: o.protocol,
        error: o.error ? `${o.error.reason}: ${o.error.message}` : null,
        at: o.at,
      })),
      chain: chainPositions(ep, obs, now),
      findings: open.map(summary),
      timeline: timeline(input.history.get(ep.id) ?? [], input.sent),
    };
  });
  return {
    generatedAt: now.toISOString(),
    healthy: !input.open.some((f) => f.severity !== 'info'),
    lastSweep: input.lastSweep
      ? { finishedAt: input.lastSweep.finishedAt, durationMs: Math.round(input.lastSweep.durationMs) }
      : null,
    bundle: input.bundle,
    endpoints,
    findings: input.open.map(summary),
    pinSetExpirations: input.endpoints.flatMap((ep) =>
      ep.pins?.expiration ? [{ endpoint: ep.id, source: ep.pins.source, expiration: ep.pins.expiration }] : [],
    ),
    overlaps: overlaps(input.proposals ?? [], new Set(input.endpoints.map((e) => e.id))),
  };
}

const summary = (f: StoredFinding): FindingSummary => ({
  id: f.id,
  kind: f.kind,
  severity: f.severity,
  endpoint: f.endpoint,
  address: f.address,
  title: f.title,
  openedAt: f.openedAt,
  lastAlertAt: f.lastAlertAt,
  vantage: findingVantage(f),
});

/** Every distinct certificate the endpoint's addresses serve, leaf first, with the addresses. */
function chainPositions(ep: EndpointConfig, obs: Observation[], now: Date): ChainPosition[] {
  const out = new Map<string, ChainPosition>();
  const pinned = new Set(ep.pins?.pins.map((p) => p.spkiSha256) ?? []);
  for (const o of obs) {
    for (const c of o.chain) {
      const seen = out.get(c.sha256);
      if (seen) {
        if (!seen.addresses.includes(o.address)) seen.addresses.push(o.address);
        continue;
      }
      out.set(c.sha256, position(c, pinned.has(c.spkiSha256), o.address, now));
    }
  }
  const order: Record<Position, number> = { leaf: 0, intermediate: 1, root: 2 };
  return [...out.values()].sort(
    (a, b) => order[a.position] - order[b.position] || a.notAfter.localeCompare(b.notAfter),
  );
}

function position(c: CertRecord, pinned: boolean, address: string, now: Date): ChainPosition {
  return {
    position: c.position,
    subject: c.subject,
    issuer: c.issuer,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    daysToExpiry: Math.floor((Date.parse(c.notAfter) - now.getTime()) / DAY),
    spkiSha256: c.spkiSha256,
    sha256: c.sha256,
    pinned,
    addresses: [address],
  };
}

/** History events of the endpoint, plus one "alerted" entry per alert sent for its findings. */
function timeline(events: HistoryEvent[], sent: OutboxRow[]): TimelineEntry[] {
  const mine = new Map<string, HistoryEvent>();
  for (const e of events) if (e.findingId) mine.set(e.findingId, e);
  const entries: TimelineEntry[] = events
    .filter((e) => TIMELINE_TYPES.test(e.type))
    .map((e) => ({ at: e.at, type: e.type, kind: e.kind, severity: e.severity, summary: e.summary }));
  for (const a of sent) {
    const f = mine.get(a.findingId);
    if (!f || !a.sentAt) continue;
    entries.push({
      at: a.sentAt,
      type: 'alerted',
      kind: f.kind,
      severity: f.severity,
      summary: `${a.type} alert sent by ${a.channel}: ${a.message.subject}`,
    });
  }
  return entries.sort((a, b) => a.at.localeCompare(b.at));
}

/** Dynamic pinning: each proposal keeps the old keys as backups from its time to its overlap end. */
function overlaps(proposals: Proposal[], configured: Set<string>): OverlapWindow[] {
  return proposals
    .filter((p) => configured.has(p.subjects[0]?.endpoint ?? ''))
    .map((p) => ({ endpoint: p.subjects[0]!.endpoint, domain: p.domain, from: p.createdAt, until: new Date(windowEnd(p)).toISOString() }))
    .sort((a, b) => a.from.localeCompare(b.from));
}
