/**
 * One monitoring cycle, shared by `monitor once` and each scheduled run of `monitor run`:
 * sweep → diff against the previous state → reconcile open findings → one transaction with the
 * observations, finding changes, history events and queued alerts → deliver due alerts.
 */
import { createHash, randomUUID } from 'node:crypto';
import { PinctlError } from '../src/errors.js';
import { Prober } from '../src/net/probe.js';
import { Resolver } from '../src/net/resolve.js';
import { TrustStore } from '../src/core/trust-store.js';
import { MonitorConfig } from './config.js';
import { ReconcilePlan, addrKey, diffObservations, reconcile } from './findings.js';
import { DeliveryLock, DeliveryResult, Senders, alertId, channelsFor, defaultSenders, deliverDue, queuedMessage } from './alerts.js';
import { alertView } from './channels/view.js';
import { configuredChannels } from './channels/index.js';
import type { AddressState, EventWrite, MonitorState, SweepLease, SweepRun, SweepWrite } from './state.js';
import { Probed, ShareOptions, awaitAllIn, gatherRun, leaseClock, probeBatches, shareOptions, waitForRun } from './shared-sweep.js';
import { RunDecided, cutBatches } from './run-rows.js';
import { DEFAULT_VANTAGE, findingVantage, qualify } from './vantage.js';
import { decideAcrossVantages, mergePlans } from './vantage-cycle.js';
import { SweepDeps, SweepResult } from './sweep.js';
import { Observation, StoredFinding, atLeast } from './types.js';
import { storedDetails } from './lifecycle.js';
import { FetchLike } from './proposals.js';
import { ProposalResult, afterCommit, proposeForCycle } from './pinning-cycle.js';
import { ServedBundleCheck, ServedBundles, servedSources, uncovered, withServedPins } from './served-bundles.js';
import { servedBundleFindings } from './served-bundle-findings.js';
import type { ReportsCheck } from './report-findings.js';

export interface CycleDeps {
  now: () => Date;
  stores: Map<string, TrustStore>;
  probe?: Prober;
  resolve?: Resolver;
  sleep?: (ms: number) => Promise<void>;
  senders?: Senders;
  onProgress?: (done: number, total: number) => void;
  log?: (line: string) => void;
  /** Crash simulation for tests: fail the sweep's transaction at this statement. */
  failCommitAt?: number;
  /** Shared with the delivery timer of `monitor run`: one delivery at a time per process. */
  deliveryLock?: DeliveryLock;
  /** Skip delivery (tests of the queue). */
  noDelivery?: boolean;
  /** dynamicPinning.publish: how the pins are POSTed to the signing service (tests inject one). */
  fetch?: FetchLike;
  /** pinsFrom bundle URLs: kept by `monitor run` across cycles; made per cycle when absent. */
  servedBundles?: ServedBundles;
  /**
   * `monitor run`: skip when a sweep of this state started less than this long ago (another
   * monitor on the same state swept this slot). Default 0: always sweep.
   */
  minSweepGapMs?: number;
  /** How a sweep is shared between the monitors of a vantage (monitor/shared-sweep.ts); default shareOptions(). */
  share?: ShareOptions;
}

/** Another monitor sweeps this state now, or swept this slot already: nothing was done. */
export class SweepSkipped extends PinctlError {
  constructor(message: string) {
    super('STATE_BUSY', message, { exitCode: 2, hint: 'several monitors share this state: one sweeps at a time; run it again later' });
  }
}

export type { ProposalResult } from './pinning-cycle.js';

export interface CycleResult {
  sweepId: string;
  sweep: SweepResult;
  opened: StoredFinding[];
  changed: StoredFinding[];
  resolved: StoredFinding[];
  /** Every finding open after this cycle. */
  open: StoredFinding[];
  queued: number;
  delivery: DeliveryResult;
  /** Pin sets proposed this cycle (dynamicPinning). */
  proposals: ProposalResult[];
  /** The served bundles (pinsFrom: { bundle: URL }) pulled and verified this cycle. */
  servedBundles: ServedBundleCheck[];
  /** The config as this cycle used it: served-bundle endpoints carry the pins of their bundle. */
  config: MonitorConfig;
  /** The pin-failure reports read this cycle (reportsFrom), with the source's error if it could not be read. */
  reports: ReportsCheck[];
  /** How the sweep was shared between the monitors of this vantage. */
  shared: SharedSweep;
}

export interface SharedSweep {
  run: string;
  batches: number;
  /** What this monitor probed itself. */
  probedHere: Probed;
  /** Endpoints probed by each monitor (claimer: host and pid). */
  byClaimer: Record<string, number>;
}

/** What a monitor that helped another monitor's sweep of its vantage did (`monitor once` / `run` followers). */
export interface Helped {
  helped: true;
  /** The shared sweep: the id its decider commits it under. */
  sweepId: string;
  batches: number;
  endpoints: number;
}

const busy = (vantage: string) => `another monitor${vantage === DEFAULT_VANTAGE ? '' : ` of vantage ${vantage}`} is sweeping this state now`;

/** Leads a cycle of the config's vantage, or SweepSkipped when another monitor holds that lead. */
export async function runCycle(configured: MonitorConfig, store: MonitorState, deps: CycleDeps): Promise<CycleResult> {
  const vantage = configured.vantage ?? DEFAULT_VANTAGE;
  const lease = await store.leadSweep(vantage);
  if (!lease) throw new SweepSkipped(busy(vantage));
  try {
    return (await underLead(configured, store, deps))!;
  } finally {
    await lease.release();
  }
}

/**
 * `monitor once` and `monitor run`: lead when the vantage's lead is free (as runCycle), else help
 * the sweep the lead opened: claim and probe its batches. `once` then ends; `run` stays until the
 * sweep is decided and takes the lead over (and decides) if its holder goes away.
 */
export async function runOrHelp(configured: MonitorConfig, store: MonitorState, deps: CycleDeps, mode: 'once' | 'run'): Promise<CycleResult | Helped> {
  const vantage = configured.vantage ?? DEFAULT_VANTAGE;
  const opts = deps.share ?? shareOptions();
  const lease = await store.leadSweep(vantage);
  if (lease) return (await withLease(lease, () => underLead(configured, store, deps)))!;
  const run = await waitForRun(store, vantage, 3000, opts.pollMs);
  if (!run) throw new SweepSkipped(busy(vantage));
  if (run.configHash !== configured.hash) throw new SweepSkipped(`another monitor of this vantage sweeps ${run.id} with another config (${run.configHash.slice(0, 12)}, this one ${configured.hash.slice(0, 12)}): not joined`);
  const helped: Helped = { helped: true, sweepId: run.id, batches: 0, endpoints: 0 };
  const add = (p: Probed) => ((helped.batches += p.batches), (helped.endpoints += p.endpoints));
  add(await probeBatches({ run, cfg: configured, store, deps: sweepDeps(deps), opts }));
  while (mode === 'run' && !opts.signal?.aborted && (await store.openedRun(vantage))?.id === run.id) {
    const takeover = await store.leadSweep(vantage);
    if (takeover) {
      deps.log?.(`the lead of sweep ${run.id} went away: this monitor continues and decides it`);
      const r = await withLease(takeover, () => underLead(configured, store, deps, run.id));
      if (r) return r;
      break;
    }
    add(await probeBatches({ run, cfg: configured, store, deps: sweepDeps(deps), opts }));
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
  return helped;
}

async function withLease<T>(lease: SweepLease, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await lease.release();
  }
}

const sweepDeps = (deps: CycleDeps): SweepDeps => ({ now: deps.now, stores: deps.stores, probe: deps.probe, resolve: deps.resolve, sleep: deps.sleep, onProgress: deps.onProgress });

/** An open run older than this is not continued (its observations would be stale): a new one starts. */
const MAX_RUN_AGE_MS = 60 * 60_000;

/**
 * Under the vantage's lead: continue the vantage's open run (its lead died) or open one, then
 * decide it. `only`: continue that run only (a follower taking over); null when it was decided meanwhile.
 */
async function underLead(configured: MonitorConfig, store: MonitorState, deps: CycleDeps, only?: string): Promise<CycleResult | null> {
  const vantage = configured.vantage ?? DEFAULT_VANTAGE;
  const opts = deps.share ?? shareOptions();
  let run = await store.openedRun(vantage);
  if (only !== undefined && run?.id !== only) return null;
  const age = run ? deps.now().getTime() - Date.parse(run.startedAt) : 0;
  if (run && (run.configHash !== configured.hash || age > MAX_RUN_AGE_MS || age < -MAX_RUN_AGE_MS)) {
    deps.log?.(`sweep ${run.id} left open by another monitor is dropped (${run.configHash !== configured.hash ? 'another config' : 'too old'}): a new one starts`);
    await store.dropRun(run.id);
    run = null;
  }
  if (run) deps.log?.(`continuing sweep ${run.id}, left open by a monitor of this vantage that went away`);
  else {
    if (deps.minSweepGapMs) {
      const last = await store.lastSweep(vantage);
      const since = last ? deps.now().getTime() - Date.parse(last.startedAt) : Infinity;
      if (since >= 0 && since < deps.minSweepGapMs) throw new SweepSkipped(`another monitor swept this state ${Math.round(since / 1000)} s ago (${last!.id})`);
    }
    const startedAt = deps.now().toISOString();
    const fresh = { id: `${startedAt}-${randomUUID().slice(0, 8)}`, vantage, configHash: configured.hash, startedAt };
    const batches = cutBatches(configured.endpoints.map((e) => e.id), opts.batchSize);
    if (!(await store.openRun(fresh, batches))) throw new SweepSkipped(busy(vantage));
    run = { ...fresh, batches: batches.length };
  }
  try {
    return await leadCycle(configured, store, deps, run, opts);
  } catch (e) {
    if (e instanceof RunDecided) throw new SweepSkipped(e.message);
    // A sweep that failed is dropped, as before shared sweeps (the next one probes afresh); only a
    // lead that died leaves its run for the next lead to continue.
    await store.dropRun(run.id).catch(() => undefined);
    throw e;
  }
}

async function leadCycle(configured: MonitorConfig, store: MonitorState, deps: CycleDeps, run: SweepRun, opts: ShareOptions): Promise<CycleResult> {
  // The served bundles first: their pins are what this sweep's endpoints are compared with.
  const sources = servedSources(configured.endpoints);
  const served = deps.servedBundles ?? new ServedBundles({ stateDir: configured.localDir, now: deps.now, timeoutMs: configured.timeoutMs });
  const servedChecks = sources.length > 0 ? await served.checkAll(sources) : [];
  const cfg = withServedPins(configured, servedChecks);
  const ids = cfg.endpoints.map((e) => e.id);
  const vantage = cfg.vantage ?? DEFAULT_VANTAGE;
  const previous = await store.previousStates(ids, vantage);
  const probedHere = await awaitAllIn({ run, cfg: configured, store, deps: sweepDeps(deps), opts });
  const { byClaimer } = await store.batchProgress(run.id, leaseClock());
  const swept = await gatherRun(run, store, deps.now());
  const now = deps.now();
  const shared: SharedSweep = { run: run.id, batches: run.batches, probedHere, byClaimer };

  const previousChains = new Map<string, Observation>();
  for (const [k, v] of previous) if (v.lastWithChain) previousChains.set(k, v.lastWithChain);
  const found = diffObservations({ previous: previousChains, current: swept.observations, endpoints: cfg.endpoints, now, commands: { certPath: (sha) => store.certPath(sha) } });
  found.push(...servedBundleFindings(servedChecks, now, (c) => uncovered(cfg, c)));
  const open = await store.openFindings();
  const recentlyResolved = await store.recentlyResolved('chain-drift', new Date(now.getTime() - cfg.driftWindowMs).toISOString());
  // This vantage decides its own findings; other vantages' and state-wide ones are not its to resolve.
  const own = reconcile({
    open: open.filter((f) => findingVantage(f) === vantage),
    recentlyResolved,
    found: found.map((f) => qualify(f, vantage)),
    current: swept.observations,
    endpoints: cfg.endpoints,
    now,
    driftWindowMs: cfg.driftWindowMs,
    reminderMs: cfg.alerts.reminderMs,
    minSeverity: cfg.alerts.minSeverity,
    servedBundles: servedChecks,
  });
  // State-wide under the decision lead: vantage-disagreement, and the pin-failure reports (read
  // since the state's one cursor, which commits with this sweep): each report counted once.
  const across = await decideAcrossVantages(store, cfg, swept.observations, open, now, deps.log);
  try {
    const release = async () => void (await across.lease?.release());
    return await decideAndCommit(cfg, store, deps, { shared, swept, previous, open, plan: mergePlans(own, across.plan), servedChecks, reports: across.reports, reportsEvent: across.reportsEvent, now, release });
  } finally {
    await across.lease?.release();
  }
}

interface Decided {
  shared: SharedSweep;
  swept: SweepResult;
  previous: Map<string, AddressState>;
  open: StoredFinding[];
  plan: ReconcilePlan;
  servedChecks: ServedBundleCheck[];
  reports: ReportsCheck[];
  /** Where the reports were read up to: committed with the sweep (reportsFrom). */
  reportsEvent?: EventWrite | null;
  now: Date;
  /** Ends the decision lead once the sweep is committed (delivery must not hold it). */
  release: () => Promise<void>;
}

/** Events, proposals and alerts of the cycle's plan, one transaction, then delivery. */
async function decideAndCommit(cfg: MonitorConfig, store: MonitorState, deps: CycleDeps, d: Decided): Promise<CycleResult> {
  const { swept, previous, open, plan, servedChecks, reports, now } = d;
  const nowIso = now.toISOString();

  const events: EventWrite[] = d.reportsEvent ? [d.reportsEvent] : [];
  const ev = (f: StoredFinding, type: string, summary: string): EventWrite => ({
    at: nowIso,
    endpoint: f.endpoint,
    host: f.host,
    address: f.address,
    type,
    kind: f.kind,
    severity: f.severity,
    findingId: f.id,
    summary,
    details: storedDetails(f),
  });
  for (const o of swept.observations) {
    const before = previous.get(addrKey(o.endpoint, o.address));
    if (!before) {
      const seen = o.chain.length > 0 ? o.chain.map((c) => `${c.position} "${c.subject}" pin ${c.spkiSha256}`).join(', ') : `${o.error?.reason ?? 'no chain'} (${o.error?.message ?? ''})`;
      const place = o.vantage && o.vantage !== DEFAULT_VANTAGE ? `[${o.vantage}] ` : '';
      events.push({
        at: nowIso,
        endpoint: o.endpoint,
        host: o.host,
        address: o.address || null,
        type: 'first-seen',
        kind: null,
        severity: null,
        findingId: null,
        summary: `${place}first seen: ${seen}`,
        details: o.chain.length > 0 ? { chain: o.chain.map((c) => ({ position: c.position, subject: c.subject, spkiSha256: c.spkiSha256, sha256: c.sha256, notAfter: c.notAfter })) } : { error: o.error },
      });
    }
  }
  for (const f of plan.opened) events.push(ev(f, 'opened', f.title));
  for (const u of plan.updated) if (u.changed) events.push(ev(u.finding, 'changed', u.finding.title));
  for (const r of plan.resolved) events.push(ev(r.finding, 'resolved', `${r.finding.title} — resolved: ${r.resolution}`));

  // Dynamic pinning: before the alerts are rendered, so they name the proposal file.
  const dp = cfg.dynamicPinning ?? null;
  const proposed = dp ? await proposeForCycle(dp, { store, cfg, observations: swept.observations, now, nowIso, ev, log: deps.log }, plan, open) : { events: [], changes: [], proposals: [], json: new Map<string, string>() };
  events.push(...proposed.events);

  const byId = new Map<string, StoredFinding>();
  for (const f of plan.opened) byId.set(f.id, f);
  for (const u of plan.updated) byId.set(u.finding.id, u.finding);
  for (const r of plan.resolved) byId.set(r.finding.id, r.finding);
  const outbox: SweepWrite['outbox'] = [];
  // No channel configured: nothing to render (the views are not free on a large sweep).
  for (const a of configuredChannels({ ...cfg.alerts }).length ? plan.alerts : []) {
    const f = byId.get(a.findingId)!;
    const view = alertView(f, a.type, now);
    for (const { entry, cfg: channelCfg } of channelsFor(cfg.alerts, view)) {
      const id = alertId(f.id, a.type, nowIso, entry.name);
      outbox.push({ id, channel: entry.name, findingId: f.id, type: a.type, createdAt: nowIso, message: queuedMessage(entry, channelCfg, view, id), nextAttemptAt: nowIso });
    }
  }

  const sweepId = d.shared.run;
  const committed = await store.commitSweep(
    {
      sweep: { id: sweepId, startedAt: swept.startedAt, finishedAt: swept.finishedAt, durationMs: swept.durationMs, configHash: cfg.hash, vantage: cfg.vantage ?? DEFAULT_VANTAGE },
      observations: swept.observations,
      previous,
      opened: plan.opened,
      updated: plan.updated.map((u) => u.finding),
      resolved: plan.resolved.map((r) => r.finding),
      events,
      outbox,
      proposals: proposed.changes,
      run: d.shared.run,
    },
    { failAt: deps.failCommitAt },
  );
  await d.release();
  if (dp) await afterCommit(dp, proposed, committed.lost, { store, now: deps.now, fetch: deps.fetch, log: deps.log });

  const delivery = deps.noDelivery ? { sent: [], failed: [] } : await deliverDue(store, cfg.alerts, deps.senders ?? defaultSenders(cfg.alerts), deps.now, deps.log, { lock: deps.deliveryLock });
  return {
    sweepId,
    sweep: swept,
    opened: plan.opened,
    changed: plan.updated.filter((u) => u.changed).map((u) => u.finding),
    resolved: plan.resolved.map((r) => r.finding),
    open: openAfter(open, plan),
    queued: outbox.length,
    delivery,
    proposals: proposed.proposals,
    servedBundles: servedChecks,
    config: cfg,
    reports,
    shared: d.shared,
  };
}

/**
 * The findings open after this cycle, as the committed transaction left them: computed from the
 * plan instead of read back (10,000 rows re-read and re-parsed cost ~0.2 s and ~40 MB). Same order
 * as Store.openFindings(): opened_at, then id, compared as SQLite's BINARY collation does.
 */
export function openAfter(before: StoredFinding[], plan: ReconcilePlan): StoredFinding[] {
  const open = new Map(before.map((f) => [f.id, f]));
  for (const r of plan.resolved) open.delete(r.finding.id);
  for (const u of plan.updated) open.set(u.finding.id, u.finding);
  for (const f of plan.opened) open.set(f.id, f);
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...open.values()].sort((a, b) => cmp(a.openedAt, b.openedAt) || cmp(a.id, b.id));
}

/** Exit status of `monitor once` / `status`: 1 when any open finding is a warning or worse. */
export function healthy(open: StoredFinding[]): boolean {
  return !open.some((f) => atLeast(f.severity, 'warning'));
}

export const configFingerprint = (text: string) => createHash('sha256').update(text).digest('hex');
