/**
 * Pin-failure reports that apps POST to `pinctl serve` (`reports.log` lines), turned into one
 * finding per domain (pure: reports and the open findings in, findings out; no clock, no files).
 *
 * A finding's details carry what earlier sweeps counted (per-minute buckets over the window, the
 * total since it opened, apps, bundle versions, the pins apps saw), so each sweep adds only the
 * reports read since the last one: a report is counted once, and nothing has to be re-read.
 * Severity follows the count in the window; the finding resolves once a whole window passes
 * without a report for its domain.
 */
import type { Finding, Severity, StoredFinding } from './types.js';
import type { ReportLine } from '../src/service/reports-log.js';

export type { ReportLine };

export interface ReportsPolicy {
  windowMs: number;
  /** Reports in the window at which the finding is a warning, then critical (below: info). */
  warning: number;
  critical: number;
}

/** Where the reports came from, and whether this sweep could read them. */
export interface ReportsCheck {
  /** Stable id of the source (its directory or URL). */
  source: string;
  /** As written in the config, for titles and commands. */
  label: string;
  policy: ReportsPolicy;
  /** Lines read since the last sweep (in log order). */
  reports: ReportLine[];
  /** Why the source could not be read this sweep (open findings then stay as they are). */
  error: { code: string; message: string } | null;
}

/** Counts kept in a finding's details, so the next sweep continues from them. */
export interface ReportCounts {
  source: string;
  domain: string;
  total: number;
  inWindow: number;
  windowMs: number;
  firstAt: string;
  lastAt: string;
  /** [minute (ISO), reports] inside the window, oldest first. */
  buckets: [string, number][];
  /** Reports by type (pin-mismatch, untrusted-root, …), by app (audience), by bundle version. */
  types: Record<string, number>;
  apps: Record<string, number>;
  versions: Record<string, number>;
  /** The pins apps saw (chainPins, leaf first, joined by ","), with counts: what they failed on. */
  failedOn: Record<string, number>;
  /** Pins the apps expected (the served pins they enforce). */
  expected: Record<string, number>;
  ports: number[];
}

/** At most this many distinct keys per tally: a flood of odd reports must not grow the finding without bound. */
const MAX_KEYS = 20;
const MINUTE = 60_000;
const NO_DOMAIN = '(no domain)';

export const reportFindingKey = (source: string, domain: string) => `pin-failure-reports|${source}|${domain}`;

/**
 * The state-wide findings after this sweep's reports. Several open findings of one domain (a
 * state where each vantage kept its own, before reports were counted state-wide) continue as one:
 * their counts are added, since each report was counted by one of them.
 */
export function reportFindings(check: ReportsCheck, open: StoredFinding[], now: Date): Finding[] {
  const previous = new Map<string, ReportCounts>();
  for (const f of open) {
    const d = f.details;
    if (d.kind !== 'pin-failure-reports' || d.source !== check.source) continue;
    const seen = previous.get(d.domain);
    previous.set(d.domain, seen ? mergeCounts(seen, d) : d);
  }
  const fresh = new Map<string, ReportLine[]>();
  for (const r of check.reports) {
    const d = domainOf(r);
    fresh.set(d, [...(fresh.get(d) ?? []), r]);
  }
  const out: Finding[] = [];
  for (const domain of new Set([...previous.keys(), ...fresh.keys()])) {
    const windowMs = check.policy.windowMs;
    const before = previous.get(domain) ?? emptyCounts(check.source, domain, windowMs);
    const counts = addReports(before, fresh.get(domain) ?? [], now, windowMs);
    if (counts.inWindow > 0) out.push(toFinding(check, counts));
  }
  return out;
}

/** Two findings' counts of one domain as one (disjoint reports: totals and tallies add up). */
export function mergeCounts(a: ReportCounts, b: ReportCounts): ReportCounts {
  const c: ReportCounts = {
    ...copyCounts(a),
    total: a.total + b.total,
    inWindow: a.inWindow + b.inWindow,
    firstAt: [a.firstAt, b.firstAt].filter(Boolean).sort()[0] ?? '',
    lastAt: a.lastAt > b.lastAt ? a.lastAt : b.lastAt,
  };
  for (const [m, n] of b.buckets) addBucket(c.buckets, m, n);
  for (const k of ['types', 'apps', 'versions', 'failedOn', 'expected'] as const)
    for (const [key, n] of Object.entries(b[k])) tally(c[k], key, n);
  for (const p of b.ports) if (!c.ports.includes(p) && c.ports.length < MAX_KEYS) c.ports.push(p);
  return c;
}

/** A copy whose buckets, tallies and ports can be changed without touching `c`. */
function copyCounts(c: ReportCounts): ReportCounts {
  return {
    ...c,
    buckets: c.buckets.map(([m, n]) => [m, n]),
    types: { ...c.types },
    apps: { ...c.apps },
    versions: { ...c.versions },
    failedOn: { ...c.failedOn },
    expected: { ...c.expected },
    ports: [...c.ports],
  };
}

function domainOf(r: ReportLine): string {
  const d = r.report.domain;
  return typeof d === 'string' && d.length > 0 && d.length <= 253 ? d.toLowerCase().replace(/\.$/, '') : NO_DOMAIN;
}

function emptyCounts(source: string, domain: string, windowMs: number): ReportCounts {
  return {
    source, domain, total: 0, inWindow: 0, windowMs, firstAt: '', lastAt: '',
    buckets: [], types: {}, apps: {}, versions: {}, failedOn: {}, expected: {}, ports: [],
  };
}

/** The counts after adding `reports`, with buckets older than the window dropped. Pure. */
export function addReports(before: ReportCounts, reports: ReportLine[], now: Date, windowMs: number): ReportCounts {
  const c: ReportCounts = { ...copyCounts(before), windowMs };
  for (const r of reports) {
    // The service's clock stamped receivedAt; a report from its future counts as now.
    const t = Math.min(Date.parse(r.receivedAt) || now.getTime(), now.getTime());
    const at = new Date(t).toISOString();
    c.total++;
    if (!c.firstAt || at < c.firstAt) c.firstAt = at;
    if (at > c.lastAt) c.lastAt = at;
    addBucket(c.buckets, new Date(t - (t % MINUTE)).toISOString());
    const rep = r.report;
    tally(c.types, typeof rep.type === 'string' ? rep.type : 'unknown');
    tally(c.apps, typeof rep.audience === 'string' ? rep.audience : 'unknown');
    const bundle = rep.bundle as { version?: unknown } | undefined;
    if (bundle && typeof bundle.version === 'number') tally(c.versions, String(bundle.version));
    if (isStrings(rep.chainPins)) tally(c.failedOn, rep.chainPins.join(','));
    if (isStrings(rep.expectedPins)) tally(c.expected, [...rep.expectedPins].sort().join(','));
    const port = rep.port;
    if (typeof port === 'number' && !c.ports.includes(port) && c.ports.length < MAX_KEYS) c.ports.push(port);
  }
  // A bucket counts while any part of its minute is inside the window.
  const from = now.getTime() - windowMs;
  c.buckets = c.buckets.filter(([m]) => Date.parse(m) + MINUTE > from);
  c.inWindow = c.buckets.reduce((n, [, k]) => n + k, 0);
  return c;
}

function addBucket(buckets: [string, number][], minute: string, n = 1): void {
  const i = buckets.findIndex(([m]) => m === minute);
  if (i >= 0) buckets[i]![1] += n;
  else {
    buckets.push([minute, n]);
    buckets.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }
}

function tally(m: Record<string, number>, key: string, n = 1): void {
  if (m[key] !== undefined) m[key] += n;
  else if (Object.keys(m).length < MAX_KEYS) m[key] = n;
  else m['(other)'] = (m['(other)'] ?? 0) + n;
}

const isStrings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.length > 0 && v.length <= 16 && v.every((x) => typeof x === 'string' && x.length <= 64);

export function severityOf(inWindow: number, p: ReportsPolicy): Severity {
  return inWindow >= p.critical ? 'critical' : inWindow >= p.warning ? 'warning' : 'info';
}

function toFinding(check: ReportsCheck, c: ReportCounts): Finding {
  const severity = severityOf(c.inWindow, check.policy);
  const window = formatWindow(c.windowMs);
  const apps = Object.keys(c.apps);
  const versions = Object.keys(c.versions);
  const top = Object.entries(c.failedOn).sort((a, b) => b[1] - a[1])[0];
  const served = top ? ` Most reports saw a chain whose leaf pin is ${top[0].split(',')[0]} (${top[1]} report(s)).` : '';
  const types = Object.entries(c.types).map(([t, n]) => `${t} ×${n}`).join(', ');
  return {
    key: reportFindingKey(c.source, c.domain),
    kind: 'pin-failure-reports',
    severity,
    endpoint: `reports/${c.domain}`,
    host: c.domain,
    port: c.ports[0] ?? 443,
    address: null,
    title:
      `${c.domain}: ${c.inWindow} pin-failure report(s) from apps in the last ${window} ` +
      `(${c.total} since ${c.firstAt}), ${apps.length} app(s)` +
      (versions.length ? `, bundle version(s) ${versions.join(', ')}` : ''),
    explanation:
      `Apps connecting to ${c.domain} refused the connection (${types}) and told the signing service: users ` +
      `of these apps cannot reach the service from where they are.${served} A chain the monitor does not see ` +
      '(another region, a middlebox, a captive portal) or pins the apps enforce that the servers no longer match.',
    action:
      `Compare what apps saw with what the endpoints serve: grep '"domain":"${c.domain}"' ` +
      `${check.label}/reports.log | tail; pinctl monitor history ${c.domain}`,
    signature: severity,
    details: { kind: 'pin-failure-reports', ...c },
  };
}

function formatWindow(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${Math.round(ms / MINUTE)}m`;
}

/**
 * Why an open report finding that this sweep did not produce is resolved; null while it cannot be
 * told (the source could not be read). `checks` undefined: the config names no reports source.
 */
export function reportResolution(f: StoredFinding, checks: ReportsCheck[] | undefined): string | null {
  const d = f.details;
  if (d.kind !== 'pin-failure-reports') return null;
  // Opened by one vantage when each counted the reports it read: continued by the state-wide finding.
  if (f.vantage) return `reports are counted once for the whole state now: ${d.domain} continues in one finding`;
  const check = (checks ?? []).find((c) => c.source === d.source);
  if (!check) return 'its reports source is no longer in the config';
  if (check.error) return null;
  return `no pin-failure reports for ${d.domain} in the last ${formatWindow(check.policy.windowMs)}`;
}
