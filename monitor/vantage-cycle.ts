/**
 * A cycle's state-wide part when vantages share a state: `vantage-disagreement` is decided by one
 * monitor at a time (the decision lead, held from reading the open findings to the commit), so a
 * disagreement is opened, alerted and resolved once, whichever vantage's sweep sees it first.
 */
import type { MonitorConfig } from './config.js';
import { ReconcilePlan, reconcile } from './findings.js';
import type { MonitorState, SweepLease } from './state.js';
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
}

const emptyPlan = (): ReconcilePlan => ({ opened: [], updated: [], resolved: [], alerts: [] });

export async function decideAcrossVantages(
  store: MonitorState,
  cfg: MonitorConfig,
  own: Observation[],
  open: StoredFinding[],
  now: Date,
  log?: (line: string) => void,
): Promise<CrossVantage> {
  const vantage = cfg.vantage ?? DEFAULT_VANTAGE;
  const windowMs = vantageWindowMs(cfg);
  const ids = cfg.endpoints.map((e) => e.id);
  const recent = (list: Observation[]) => list.filter((o) => now.getTime() - Date.parse(o.at) <= windowMs);
  const others = recent(await store.otherVantages(vantage, ids));
  const disagreement = (f: StoredFinding) => f.kind === 'vantage-disagreement';
  if (others.length === 0 && !open.some(disagreement)) return { plan: emptyPlan(), lease: null };
  const lease = await acquire(store);
  if (!lease) {
    log?.('vantage-disagreement not decided this sweep: another monitor is deciding it now');
    return { plan: emptyPlan(), lease: null };
  }
  try {
    // Read again under the lead: what other vantages committed meanwhile counts.
    const configured = new Set(ids);
    const decided = (await store.openFindings()).filter((f) => disagreement(f) && configured.has(f.endpoint));
    const current = [...own, ...recent(await store.otherVantages(vantage, ids))];
    const found = vantageDisagreement({ endpoints: cfg.endpoints, observations: current, now, windowMs });
    const plan = reconcile({
      open: decided,
      found,
      current,
      endpoints: cfg.endpoints,
      now,
      driftWindowMs: cfg.driftWindowMs,
      reminderMs: cfg.alerts.reminderMs,
      minSeverity: cfg.alerts.minSeverity,
      vantageWindowMs: windowMs,
    });
    return { plan, lease };
  } catch (e) {
    await lease.release();
    throw e;
  }
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
