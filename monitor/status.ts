/** Per-endpoint summary rows, shared by `monitor status`, the `--watch` table and log lines. */
import { createTask } from 'node-cron';
import { AlertsConfig, EndpointConfig, MonitorConfig } from './config.js';
import { configuredChannels } from './channels/index.js';
import { byEndpoint, chainSig, matchPins } from './findings.js';
import { Observation, Severity, StoredFinding, maxSeverity } from './types.js';
import { DEFAULT_VANTAGE, findingVantage, vantageOf } from './vantage.js';

export interface EndpointRow {
  endpoint: string;
  /**
   * The vantage whose view this row is (monitor/vantage.ts; `default` without `vantage:`): an
   * endpoint probed from several places has one row per vantage. Shown as a label except for the
   * default vantage, which looks as it always did.
   */
  vantage: string;
  /** ok, or the worst open finding's severity; 'unknown' before the first sweep. */
  status: 'ok' | Severity | 'unknown';
  addresses: number;
  answering: number;
  /** null when no endpoint address has pins configured or no chain was seen. */
  pinMatch: boolean | null;
  /** Days until the earliest notAfter of any served chain. */
  daysToExpiry: number | null;
  distinctChains: number;
  lastSeen: string | null;
  lastChange: string | null;
  /** Titles of open findings, worst first: this vantage's and the state-wide ones (vantage-disagreement). */
  problems: { severity: Severity; kind: string; title: string }[];
}

const RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/** "host:port", or "host:port [eu]" for a named vantage's row: one label rule for every view. */
export const rowLabel = (r: Pick<EndpointRow, 'endpoint'> & { vantage?: string }) =>
  !r.vantage || r.vantage === DEFAULT_VANTAGE ? r.endpoint : `${r.endpoint} [${r.vantage}]`;

/** The vantages that observed an endpoint, the default first, then by name; none: `home` (the monitor's own). */
export function vantagesOf(obs: Observation[], home: string): string[] {
  const names = [...new Set(obs.map(vantageOf))];
  if (names.length === 0) return [home];
  return names.sort((a, b) => (a === DEFAULT_VANTAGE ? -1 : b === DEFAULT_VANTAGE ? 1 : a.localeCompare(b)));
}

/**
 * One row per (endpoint, vantage that observed it), endpoints in config order. `home`: the vantage
 * an endpoint not observed yet is shown under (the monitor's own).
 */
export function endpointRows(
  endpoints: EndpointConfig[],
  observations: Observation[],
  open: StoredFinding[],
  lastChanges: Map<string, string>,
  now: Date,
  home: string = DEFAULT_VANTAGE,
): EndpointRow[] {
  // Open findings by endpoint, once: a filter per endpoint was 10,000 × 20,000 comparisons.
  const openBy = new Map<string, StoredFinding[]>();
  for (const f of open) {
    const list = openBy.get(f.endpoint);
    if (list) list.push(f);
    else openBy.set(f.endpoint, [f]);
  }
  return endpoints.flatMap((ep) => {
    const all = byEndpoint(observations).get(ep.id) ?? [];
    const epOpen = openBy.get(ep.id) ?? [];
    return vantagesOf(all, home).map((vantage) => {
      const obs = all.filter((o) => vantageOf(o) === vantage);
      const mine = epOpen.filter((f) => [vantage, null].includes(findingVantage(f)));
      return row(ep, vantage, obs, mine, lastChanges.get(ep.id) ?? null, now);
    });
  });
}

function row(
  ep: EndpointConfig,
  vantage: string,
  obs: Observation[],
  open: StoredFinding[],
  lastChange: string | null,
  now: Date,
): EndpointRow {
  const answering = obs.filter((o) => o.chain.length > 0);
  const findings = [...open].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  const notAfters = answering.flatMap((o) => o.chain.map((c) => Date.parse(c.notAfter)));
  const significant = findings.filter((f) => f.severity !== 'info');
  return {
    endpoint: ep.id,
    vantage,
    status: obs.length === 0 ? 'unknown' : significant.length ? maxSeverity(significant.map((f) => f.severity)) : 'ok',
    addresses: obs.length,
    answering: answering.length,
    pinMatch: ep.pins && answering.length ? answering.every((o) => matchPins(ep.pins!, o.chain, now).pass) : null,
    daysToExpiry: notAfters.length ? Math.floor((Math.min(...notAfters) - now.getTime()) / 86_400_000) : null,
    distinctChains: new Set(answering.map((o) => chainSig(o.chain))).size,
    lastSeen: obs.length ? obs.map((o) => o.at).sort().at(-1)! : null,
    lastChange,
    problems: findings.map((f) => ({ severity: f.severity, kind: f.kind, title: f.title })),
  };
}

/** The longest gap between the schedule's next runs (a weekday schedule's weekend counts). */
export function scheduleIntervalMs(schedule: string, timezone: string | null): number {
  const task = createTask(schedule, () => undefined, { timezone: timezone ?? undefined });
  try {
    const runs = task.getNextRuns(16).map((d) => d.getTime());
    let gap = 0;
    for (let i = 1; i < runs.length; i++) gap = Math.max(gap, runs[i]! - runs[i - 1]!);
    return gap || 60_000;
  } finally {
    void task.destroy();
  }
}

export interface Freshness {
  /** none: no sweep recorded yet; stale: the last sweep is older than limitMs; fresh otherwise. */
  state: 'none' | 'stale' | 'fresh';
  ageMs: number | null;
  limitMs: number;
  message: string | null;
}

/** Whether the last sweep is recent enough: `staleAfter`, else 3× the schedule's interval. */
export function freshness(
  cfg: Pick<MonitorConfig, 'schedule' | 'timezone' | 'staleAfterMs'>,
  lastSweepAt: string | null,
  now: Date,
  since?: Date,
  /** The age measured on the monotonic clock (monitor run knows it): wall-clock steps cannot skew it. */
  measuredAgeMs?: number,
): Freshness {
  const limitMs = cfg.staleAfterMs ?? 3 * scheduleIntervalMs(cfg.schedule, cfg.timezone);
  const ref = lastSweepAt ?? since?.toISOString() ?? null;
  if (ref === null && measuredAgeMs === undefined) return { state: 'none', ageMs: null, limitMs, message: 'no sweep recorded yet' };
  // A sweep dated after "now" means the clock stepped back since: its age is unknown, not negative.
  const ageMs = Math.max(0, measuredAgeMs ?? now.getTime() - Date.parse(ref!));
  if (ageMs > limitMs) {
    return {
      state: 'stale',
      ageMs,
      limitMs,
      message: `${lastSweepAt ? `the last sweep (${lastSweepAt})` : 'no sweep since the monitor started'} is ${formatAge(ageMs)} old, more than ${formatAge(limitMs)} (${cfg.staleAfterMs ? 'staleAfter' : '3× the schedule interval'}): is pinctl monitor run still running?`,
    };
  }
  return { state: 'fresh', ageMs, limitMs, message: null };
}

/** Seconds below a minute ("45 s"), whole minutes above ("15 min"): never "0 min". */
export function formatAge(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}

/** The configured alert channels, in registry order, with where each goes (no secrets). */
export function alertChannels(alerts: AlertsConfig): { channel: string; to: string }[] {
  return configuredChannels({ ...alerts }).map(({ entry, cfg }) => ({ channel: entry.name, to: entry.describe(cfg) }));
}
