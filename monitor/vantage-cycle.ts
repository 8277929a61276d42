/**
 * A cycle's state-wide part when vantages share a state: `vantage-disagreement` and the
 * pin-failure reports (monitor/reports-source.ts) are decided by one monitor at a time (the
 * decision lead, held from reading the open findings to the commit), so a disagreement is opened,
 * alerted and resolved once, whichever vantage's sweep sees it first, and each report is read and
 * counted once for the whole state.
 */
import type { MonitorConfig } from './config.js';
import { ReconcilePlan, reconcile } from './findings.js';
import type { EventWrite, MonitorState, SweepLease } from './state.js';
import type { ReportsCheck } from './report-findings.js';
import { decideReports, isReportFinding } from './reports-source.js';
import { scheduleIntervalMs } from './status.js';
import type { Observation, StoredFinding } from './types.js';
import { DEFAULT_VANTAGE } from './vantage.js';
import { vantageDisagreement } from './vantage-findings.js';

/** `vantageWindow`, else 2× the schedule's interval, at least 5 minutes (sweeps of other places take their time). */
export function vantageWindowMs(cfg: MonitorConfig): number {
  return cfg.vantageWindowMs ?? Math.max(2 * scheduleIntervalMs(cfg.schedule, cfg.timezone), 5 * 60_000);
}

export interface CrossVantage {
  plan: ReconcilePlan;
  /** Held until the sweep is committed; null when nothing was decided. */
  lease: SweepLease | null;
  /** The pin-failure reports read under the lead (none when another monitor decides now). */
  reports: ReportsCheck[];
  /** Where they were read up to: committed with the sweep, before the lead is released. */
  reportsEvent: EventWrite | null;
}

/** Other vantages' observations count while younger than the window (a stopped vantage drops out). */
const recent = (list: Observation[], now: Date, windowMs: number) =>
  list.filter((o) => now.getTime() - Date.parse(o.at) <= windowMs);

const emptyPlan = (): ReconcilePlan => ({ opened: [], updated: [], resolved: [], alerts: [] });
const nothing = (): CrossVantage => ({ plan: emptyPlan(), lease: null, reports: [], reportsEvent: null });

export async function decideAcrossVantages(
  store: MonitorState,
  cfg: MonitorConfig,
  own: Observation[],
  open: StoredFinding[],
  now: Date,
  log?: (line: string) => void,
): Promise<CrossVantage> {
  const vantage = cfg.vantage ?? DEFAULT_VANTAGE;
  const ids = cfg.endpoints.map((e) => e.id);
  const others = recent(await store.otherVantages(vantage, ids), now, vantageWindowMs(cfg));
  const disagreement = (f: StoredFinding) => f.kind === 'vantage-disagreement';
  const compare = others.length > 0 || open.some(disagreement);
  const reportsDue = Boolean(cfg.reportsFrom) || open.some(isReportFinding);
  if (!compare && !reportsDue) return nothing();
  const lease = await acquire(store);
  if (!lease) {
    log?.('vantage-disagreement and pin-failure reports not decided this sweep: another monitor is deciding them now');
    return nothing();
  }
  try {
    // Read again under the lead: what other vantages committed meanwhile counts.
    const decided = await store.openFindings();
    const plan = compare ? await disagreements(store, cfg, own, decided, now) : emptyPlan();
    if (!reportsDue) return { plan, lease, reports: [], reportsEvent: null };
    const r = await decideReports(cfg, store, decided, now);
    return { plan: mergePlans(plan, r.plan), lease, reports: r.reports, reportsEvent: r.event };
  } catch (e) {
    await lease.release();
    throw e;
  }
}

/** vantage-disagreement over this sweep's and the other vantages' recent observations (under the lead). */
async function disagreements(
  store: MonitorState,
  cfg: MonitorConfig,
  own: Observation[],
  open: StoredFinding[],
  now: Date,
): Promise<ReconcilePlan> {
  const vantage = cfg.vantage ?? DEFAULT_VANTAGE;
  const windowMs = vantageWindowMs(cfg);
  const ids = cfg.endpoints.map((e) => e.id);
  const configured = new Set(ids);
  const current = [...own, ...recent(await store.otherVantages(vantage, ids), now, windowMs)];
  return reconcile({
    open: open.filter((f) => f.kind === 'vantage-disagreement' && configured.has(f.endpoint)),
    found: vantageDisagreement({ endpoints: cfg.endpoints, observations: current, now, windowMs }),
    current,
    endpoints: cfg.endpoints,
    now,
    driftWindowMs: cfg.driftWindowMs,
    reminderMs: cfg.alerts.reminderMs,
    minSeverity: cfg.alerts.minSeverity,
    vantageWindowMs: windowMs,
  });
}

/** The decision lead is held only for a decision and a commit: worth waiting a little for. */
async function acquire(store: MonitorState): Promise<SweepLease | null> {
  for (let i = 0; i < 30; i++) {
    const lease = await store.leadDecision();
    if (lease) return lease;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

export function mergePlans(a: ReconcilePlan, b: ReconcilePlan): ReconcilePlan {
  return {
    opened: [...a.opened, ...b.opened],
    updated: [...a.updated, ...b.updated],
    resolved: [...a.resolved, ...b.resolved],
    alerts: [...a.alerts, ...b.alerts],
  };
}
