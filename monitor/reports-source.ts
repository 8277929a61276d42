/**
 * `reportsFrom`: the pin-failure reports `pinctl serve` received since the last sweep (the I/O
 * edge of monitor/report-findings.ts), read from its data directory (`dir`: reports.log, with
 * src/service/reports-log.ts) or from the service itself (`url`: `GET /v1/reports?cursor=…`, with
 * the admin token).
 *
 * Where the last sweep stopped (the log's inode, byte offset and first bytes' fingerprint) is a
 * history event written in the sweep's own transaction, so a sweep that dies before its commit
 * reads the same reports again and a committed one never does: each report is counted once, across
 * restarts, log rotation, and monitors sharing one state.
 *
 * Reports come from apps, not from a place the monitor probes from: they are state-wide. One cursor
 * per source for the whole state, read and decided only by the holder of the decision lead
 * (`decideReports`, called under `store.leadDecision()` with vantage-disagreement), from reading the
 * cursor to the commit: two vantages on one state neither read the same lines twice nor split them.
 */
import { LogCursor, LogRead, REPORTS_LOG, formatCursor, parseCursor, readReportsLog } from '../src/service/reports-log.js';
import type { MonitorConfig } from './config.js';
import { ReconcilePlan, reconcile } from './findings.js';
import type { StoredFinding } from './types.js';
import type { EventWrite, MonitorState } from './state.js';
import { ReportsCheck, ReportsPolicy, reportFindings } from './report-findings.js';

export interface ReportsSourceConfig {
  /** Stable id (SHA-256 of the absolute directory or the URL, shortened). */
  id: string;
  /** Absolute data directory of `pinctl serve` (`dir`), or null with `url`. */
  dir: string | null;
  /** Base URL of `pinctl serve` (`url`), or null with `dir`. */
  url: string | null;
  /** The admin token for `url` (tokenFile / tokenEnv); never printed. */
  token: string | null;
  /** As written in the config. */
  asWritten: string;
  policy: ReportsPolicy;
  timeoutMs: number;
}

export const REPORTS_EVENT = 'reports-read';
/** At most this much of the log per sweep (the service caps it at 256 MB): a backlog is read over several sweeps. */
export const MAX_READ_BYTES = 16 * 1024 * 1024;

const cursorEndpoint = (id: string) => `reports:${id}`;

export interface ReportsRead {
  check: ReportsCheck;
  /** The cursor to commit with the sweep; null when nothing moved. */
  event: EventWrite | null;
}

/** The cursor the last committed sweep left, or null (never read: start at the log's beginning). */
export async function lastCursor(store: MonitorState, id: string): Promise<LogCursor | null> {
  const events = await store.history(cursorEndpoint(id), 1);
  const d = events.find((x) => x.type === REPORTS_EVENT)?.details as Partial<LogCursor> | undefined;
  if (!d || typeof d.ino !== 'string' || typeof d.offset !== 'number') return null;
  return { ino: d.ino, offset: d.offset, ...(typeof d.head === 'string' ? { head: d.head } : {}) };
}

type Fetch = typeof fetch;

export interface ReportsDecision {
  plan: ReconcilePlan;
  /** What was read (empty without reportsFrom). */
  reports: ReportsCheck[];
  /** The cursor to commit with the sweep; null when nothing moved. */
  event: EventWrite | null;
}

export const isReportFinding = (f: Pick<StoredFinding, 'kind'>) => f.kind === 'pin-failure-reports';

/**
 * The state-wide pin-failure-reports findings after the reports added since the shared cursor.
 * Call it only while holding the decision lead, with the open findings read under it, and commit
 * `event` with the plan before releasing the lead. Without reportsFrom, open report findings resolve.
 */
export async function decideReports(
  cfg: MonitorConfig,
  store: MonitorState,
  open: StoredFinding[],
  now: Date,
): Promise<ReportsDecision> {
  const read = cfg.reportsFrom ? await readReportsSince(cfg.reportsFrom, store, now) : null;
  const reports = read ? [read.check] : [];
  const mine = open.filter(isReportFinding);
  const plan = reconcile({
    open: mine,
    found: reports.flatMap((r) => reportFindings(r, mine, now)),
    current: [],
    endpoints: cfg.endpoints,
    now,
    driftWindowMs: cfg.driftWindowMs,
    reminderMs: cfg.alerts.reminderMs,
    minSeverity: cfg.alerts.minSeverity,
    reports,
  });
  return { plan, reports, event: read?.event ?? null };
}

export async function readReportsSince(
  cfg: ReportsSourceConfig,
  store: MonitorState,
  now: Date,
  fetchFn: Fetch = fetch,
): Promise<ReportsRead> {
  const check: ReportsCheck = { source: cfg.id, label: cfg.asWritten, policy: cfg.policy, reports: [], error: null };
  const before = await lastCursor(store, cfg.id);
  let read: LogRead;
  try {
    read = cfg.dir ? await readReportsLog(cfg.dir, before, MAX_READ_BYTES) : await readOverHttp(cfg, before, fetchFn);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    check.error = { code: err.code ?? 'REPORTS_UNREADABLE', message: `${cfg.asWritten}: ${err.message}` };
    return { check, event: null };
  }
  check.reports = read.lines;
  const after = read.cursor;
  if (!after || (before && formatCursor(before) === formatCursor(after))) return { check, event: null };
  const endpoint = cursorEndpoint(cfg.id);
  const from = cfg.dir ? `${cfg.asWritten}/${REPORTS_LOG}` : cfg.asWritten;
  const event: EventWrite = {
    at: now.toISOString(),
    endpoint,
    host: endpoint,
    address: null,
    type: REPORTS_EVENT,
    kind: null,
    severity: null,
    findingId: null,
    summary:
      `read ${read.lines.length} pin-failure report(s) from ${from}` +
      (read.skipped ? ` (${read.skipped} unreadable line(s) skipped)` : ''),
    details: { ...after, read: read.lines.length, skipped: read.skipped },
  };
  return { check, event };
}

/** `GET URL/v1/reports?cursor=…` pages until the service says there is no more (or the sweep's budget is spent). */
async function readOverHttp(cfg: ReportsSourceConfig, from: LogCursor | null, fetchFn: Fetch): Promise<LogRead> {
  const out: LogRead = { lines: [], skipped: 0, cursor: from, more: false };
  for (let page = 0; page < 16; page++) {
    const u = new URL(`${cfg.url}/v1/reports`);
    if (out.cursor) u.searchParams.set('cursor', formatCursor(out.cursor));
    const headers: Record<string, string> = cfg.token ? { Authorization: `Bearer ${cfg.token}` } : {};
    const res = await fetchFn(u, { headers, signal: AbortSignal.timeout(cfg.timeoutMs) });
    if (res.status !== 200) {
      const text = (await res.text()).slice(0, 200);
      throw Object.assign(new Error(`GET ${u.pathname} answered ${res.status}: ${text}`), { code: `HTTP_${res.status}` });
    }
    const body = (await res.json()) as { cursor?: unknown; reports?: unknown; skipped?: unknown; more?: unknown };
    const cursor = typeof body.cursor === 'string' ? parseCursor(body.cursor) : null;
    if (!Array.isArray(body.reports) || (body.cursor !== null && !cursor)) {
      throw Object.assign(new Error('GET /v1/reports: expected {cursor, reports, more}'), { code: 'REPORTS_MALFORMED' });
    }
    out.lines.push(...(body.reports as LogRead['lines']));
    out.skipped += typeof body.skipped === 'number' ? body.skipped : 0;
    out.cursor = cursor ?? out.cursor;
    out.more = body.more === true;
    if (!out.more) break;
  }
  return out;
}
