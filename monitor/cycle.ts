/**
 * One monitoring cycle, shared by `monitor once` and each scheduled run of `monitor run`:
 * sweep → diff against the previous state → reconcile open findings → one transaction with the
 * observations, finding changes, history events and queued alerts → deliver due alerts.
 */
import { createHash, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { describeError } from '../src/errors.js';
import { Prober } from '../src/net/probe.js';
import { Resolver } from '../src/net/resolve.js';
import { TrustStore } from '../src/core/trust-store.js';
import { MonitorConfig } from './config.js';
import { ReconcilePlan, addrKey, byEndpoint, diffObservations, reconcile } from './findings.js';
import { DeliveryLock, DeliveryResult, Senders, alertId, defaultSenders, deliverDue, renderAlert } from './alerts.js';
import { EventWrite, HistoryEvent, SweepWrite, Store } from './store.js';
import { SweepResult, sweep } from './sweep.js';
import { Observation, StoredFinding, atLeast } from './types.js';
import { DomainGroup, FetchLike, PublishOutcome, RecordedProposal, callsForPins, curlCommand, domainGroups, groupOf, proposePins, publishProposal, retireBackups, writeProposal } from './proposals.js';

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
}

/**
 * A pin set proposed for a chain-drift finding (dynamicPinning), and what publishing it gave:
 * 'new-pins' (the new chain's keys, the shipped pins as backups) or, once the overlap window has
 * passed, 'retire-backups' (the same set without the old chain's keys).
 */
export interface ProposalResult {
  kind: 'new-pins' | 'retire-backups';
  findingId: string;
  /** new-pins: every finding the proposal answers (published once unless all of them were). */
  findingIds?: string[];
  endpoint: string;
  /** The pin-set entry (host name) the proposal replaces. */
  domain: string;
  file: string;
  pins: string[];
  backups: string[];
  /** retire-backups: the old chain's keys no longer in the set. */
  dropped: string[];
  /** Null: not published (publish: false, or already attempted for this finding). */
  publish: PublishOutcome | null;
}

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
}

export async function runCycle(cfg: MonitorConfig, store: Store, deps: CycleDeps): Promise<CycleResult> {
  const ids = cfg.endpoints.map((e) => e.id);
  const previous = await store.previousStates(ids);
  const swept = await sweep(cfg, { now: deps.now, stores: deps.stores, probe: deps.probe, resolve: deps.resolve, sleep: deps.sleep, onProgress: deps.onProgress });
  const now = deps.now();
  const nowIso = now.toISOString();
  for (const [sha, der] of swept.certificates) store.saveCertificate(sha, der);

  const previousChains = new Map<string, Observation>();
  for (const [k, v] of previous) if (v.lastWithChain) previousChains.set(k, v.lastWithChain);
  const found = diffObservations({ previous: previousChains, current: swept.observations, endpoints: cfg.endpoints, now, commands: { certPath: (sha) => store.certPath(sha) } });
  const open = await store.openFindings();
  const recentlyResolved = await store.recentlyResolved('chain-drift', new Date(now.getTime() - cfg.driftWindowMs).toISOString());
  const plan = reconcile({
    open,
    recentlyResolved,
    found,
    current: swept.observations,
    endpoints: cfg.endpoints,
    now,
    driftWindowMs: cfg.driftWindowMs,
    reminderMs: cfg.alerts.reminderMs,
    minSeverity: cfg.alerts.minSeverity,
  });

  const events: EventWrite[] = [];
  const proposalJson = new Map<string, string>();
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
    details: f.details,
  });
  for (const o of swept.observations) {
    const before = previous.get(addrKey(o.endpoint, o.address));
    if (!before) {
      events.push({
        at: nowIso,
        endpoint: o.endpoint,
        host: o.host,
        address: o.address || null,
        type: 'first-seen',
        kind: null,
        severity: null,
        findingId: null,
        summary: o.chain.length > 0 ? `first seen: ${o.chain.map((c) => `${c.position} "${c.subject}" pin ${c.spkiSha256}`).join(', ')}` : `first seen: ${o.error?.reason ?? 'no chain'} (${o.error?.message ?? ''})`,
        details: o.chain.length > 0 ? { chain: o.chain.map((c) => ({ position: c.position, subject: c.subject, spkiSha256: c.spkiSha256, sha256: c.sha256, notAfter: c.notAfter })) } : { error: o.error },
      });
    }
  }
  for (const f of plan.opened) events.push(ev(f, 'opened', f.title));
  for (const u of plan.updated) if (u.changed) events.push(ev(u.finding, 'changed', u.finding.title));
  for (const r of plan.resolved) events.push(ev(r.finding, 'resolved', `${r.finding.title} — resolved: ${r.resolution}`));

  // Dynamic pinning: before the alerts are rendered, so they name the proposal file.
  const proposals: ProposalResult[] = [];
  const dp = cfg.dynamicPinning ?? null;
  /** After a `pins-proposed` event's overlap window: a retire decision (event + file) or nothing yet. */
  /** A recorded proposal's keys to retire; records from before `retire` existed: from the finding. */
  const retireKeysOf = async (e: HistoryEvent): Promise<string[]> => {
    const recorded = e.details as RecordedProposal;
    return recorded.retire ?? oldChainKeysIn(recorded.backups, e.findingId ? await store.finding(e.findingId) : null);
  };
  const retireOne = async (e: HistoryEvent & { id: number }, g: DomainGroup): Promise<ProposalResult | null> => {
    const recorded = e.details as RecordedProposal;
    const d = retireBackups(recorded, await retireKeysOf(e), g, now);
    if (d.kind === 'wait') return null;
    const base = { at: nowIso, endpoint: e.endpoint, host: e.host, address: null, kind: 'chain-drift', severity: 'info', findingId: e.findingId };
    const link = { domain: g.domain, proposal: recorded.file, proposalEventId: e.id };
    if (d.kind === 'skipped') {
      events.push({ ...base, type: 'pins-retire-skipped', summary: `old keys kept after the overlap window: ${d.reason}`, details: { reason: d.reason, ...link } });
      return null;
    }
    const p = d.proposal;
    const file = writeProposal(cfg.state, g.domain, now, p.json);
    events.push({
      ...base,
      type: 'pins-retire-proposed',
      summary: `overlap window ended ${p.keepBackupsUntilAt}: proposed pins for ${g.domain} without the old chain's key(s) ${p.dropped.join(', ')} in ${file}`,
      details: { file, pins: p.pins, backups: p.backups, dropped: p.dropped, curl: curlCommand(dp!, file), ...link },
    });
    proposalJson.set(file, p.json);
    return { kind: 'retire-backups', findingId: e.findingId ?? '', endpoint: e.endpoint, domain: g.domain, file, pins: p.pins, backups: p.backups, dropped: p.dropped, publish: null };
  };
  if (dp) {
    // One proposal per pin-set entry (domain), whatever number of its endpoints changed: the
    // entry applies to every port and address of the name, so all of them must pass it.
    const groups = domainGroups(cfg.endpoints, byEndpoint(swept.observations));
    const governing = groupOf(groups);
    const pending = new Map<string, HistoryEvent & { id: number }>();
    for (const e of await store.proposalsToRetire()) pending.set((e.details as RecordedProposal).domain ?? governing.get(e.endpoint)?.domain ?? e.host, e);
    // Findings that call for new pins, by the entry governing their endpoint.
    const changedBy = new Map<string, StoredFinding[]>();
    for (const f of [...plan.opened, ...plan.updated.filter((u) => u.changed).map((u) => u.finding)]) {
      if (!callsForPins(f)) continue;
      const g = governing.get(f.endpoint);
      if (!g) {
        events.push(ev(f, 'pins-proposal-skipped', `no pin set proposed: ${f.endpoint} is reached by IP address, and pinctl.pins.v1 pins host names`));
        continue;
      }
      changedBy.set(g.domain, [...(changedBy.get(g.domain) ?? []), f]);
    }
    for (const [domain, findings] of changedBy) {
      const g = groups.get(domain)!;
      const earlier = pending.get(domain);
      const last = earlier?.details as RecordedProposal | undefined;
      const d = proposePins(findings, g, now, dp.overlapMs, last);
      if (d.kind === 'none') continue;
      const f = findings[0]!;
      if (d.kind === 'skipped') {
        events.push(ev(f, 'pins-proposal-skipped', `no pin set proposed for ${domain}: ${d.reason}`));
        continue;
      }
      const p = d.proposal;
      let file: string;
      try {
        file = writeProposal(cfg.state, domain, now, p.json);
      } catch (e) {
        events.push(ev(f, 'pins-proposal-skipped', `cannot write the proposed pin set: ${(e as Error).message}`));
        continue;
      }
      // Two changes inside one overlap window: the older proposal's old keys retire with this one.
      const carried = earlier ? await retireKeysOf(earlier) : [];
      const retire = [...new Set([...p.retire, ...carried])];
      const curl = curlCommand(dp, file);
      for (const x of findings) {
        x.details = { ...x.details, proposal: { file, curl, publish: dp.publish, service: dp.service, domain, pins: p.pins, backups: p.backups, positions: p.positions, keepBackupsUntil: p.keepBackupsUntil } };
      }
      const recorded: RecordedProposal = { file, domain, pins: p.pins, backups: p.backups, positions: p.positions, keepBackupsUntil: p.keepBackupsUntil, keepBackupsUntilAt: p.keepBackupsUntilAt, retire };
      events.push({ ...ev(f, 'pins-proposed', `proposed pins for ${domain}: ${p.pins.join(', ')} (+ ${p.backups.length} backup(s): ${p.backups.join(', ')}) in ${file}`), details: recorded });
      proposals.push({ kind: 'new-pins', findingId: f.id, findingIds: findings.map((x) => x.id), endpoint: f.endpoint, domain, file, pins: p.pins, backups: p.backups, dropped: [], publish: null });
      proposalJson.set(file, p.json);
    }
    // Overlap windows that have ended: the same entry without the old chains' keys. A domain with
    // findings calling for new pins in this cycle (proposed or not) waits: its state is changing.
    // One domain's bad record never stops the sweep.
    for (const [domain, e] of pending) {
      const g = groups.get(domain);
      if (!g || changedBy.has(domain)) continue;
      try {
        const retired = await retireOne(e, g);
        if (retired) proposals.push(retired);
      } catch (err) {
        deps.log?.(`${domain}: retiring the old pins failed (next sweep retries): ${describeError(err)}`);
      }
    }
    // A finding updated without a new proposal keeps the one it has (reminders still name it).
    const before = new Map(open.map((f) => [f.id, f]));
    for (const u of plan.updated) {
      const old = before.get(u.finding.id)?.details.proposal;
      if (old && u.finding.details.proposal === undefined) u.finding.details = { ...u.finding.details, proposal: old };
    }
  }

  const byId = new Map<string, StoredFinding>();
  for (const f of plan.opened) byId.set(f.id, f);
  for (const u of plan.updated) byId.set(u.finding.id, u.finding);
  for (const r of plan.resolved) byId.set(r.finding.id, r.finding);
  const channels = (['email', 'webhook'] as const).filter((c) => cfg.alerts[c] !== null);
  const outbox: SweepWrite['outbox'] = [];
  for (const a of plan.alerts) {
    const f = byId.get(a.findingId)!;
    for (const channel of channels) {
      const id = alertId(f.id, a.type, nowIso, channel);
      outbox.push({ id, channel, findingId: f.id, type: a.type, createdAt: nowIso, message: renderAlert(f, a.type, id, now), nextAttemptAt: nowIso });
    }
  }

  const sweepId = `${swept.startedAt}-${randomUUID().slice(0, 8)}`;
  const committed = await store.commitSweep(
    {
      sweep: { id: sweepId, startedAt: swept.startedAt, finishedAt: swept.finishedAt, durationMs: swept.durationMs, configHash: cfg.hash },
      observations: swept.observations,
      previous,
      opened: plan.opened,
      updated: plan.updated.map((u) => u.finding),
      resolved: plan.resolved.map((r) => r.finding),
      events,
      outbox,
    },
    { failAt: deps.failCommitAt },
  );
  // Another monitor on this state decided a retirement first: this one's file is not used.
  for (const e of committed.superseded) {
    const file = (e.details as { file?: string } | undefined)?.file;
    const i = proposals.findIndex((p) => p.kind === 'retire-backups' && p.file === file);
    if (i < 0) continue;
    proposals.splice(i, 1);
    rmSync(file!, { force: true });
  }

  if (dp?.publish) {
    const hosts = new Map(cfg.endpoints.map((e) => [e.id, e.host]));
    const allPublished = async (ids: string[]) => {
      for (const id of ids) if (!(await store.findingEvents(id)).some((e) => e.type.startsWith('pins-publish'))) return false;
      return true;
    };
    for (const pr of proposals) {
      const retire = pr.kind === 'retire-backups';
      const prefix = retire ? 'pins-retire-publish' : 'pins-publish';
      // The findings the attempt and its outcome are recorded on (every one the proposal answers).
      const findings = retire ? [] : (pr.findingIds ?? [pr.findingId]).map((id) => byId.get(id)).filter((x): x is StoredFinding => x !== undefined);
      const event = (type: string, summary: string, details: unknown): EventWrite[] =>
        findings.length > 0
          ? findings.map((f) => ({ ...ev(f, type, summary), at: deps.now().toISOString(), details }))
          : [{ at: deps.now().toISOString(), endpoint: pr.endpoint, host: hosts.get(pr.endpoint) ?? pr.endpoint, address: null, type, kind: 'chain-drift', severity: 'info', findingId: pr.findingId, summary, details }];
      // At most one attempt per finding, ever: the attempt is recorded before the request (a
      // new-pins proposal is posted unless every finding it answers was; a retire-backups one is
      // made once by construction).
      if (!retire && (await allPublished(pr.findingIds ?? [pr.findingId]))) continue;
      await store.addEvents(event(`${prefix}-attempt`, `publishing ${pr.file} to ${dp.service}/v1/bundles/pins`, { file: pr.file }));
      const outcome = await publishProposal(dp, proposalJson.get(pr.file)!, deps.fetch);
      pr.publish = outcome;
      const what = retire ? `pins without the old key(s) ${pr.dropped.join(', ')}` : 'pins';
      const summary =
        outcome.result === 'published'
          ? `published ${what} ${retire ? 'as version' : 'version'} ${outcome.version ?? '?'} to ${dp.service} (${pr.file})${unexpectedRemovals(outcome.body, pr)}`
          : outcome.result === 'refused'
            ? `the service refused the ${what} (409, ${refusal(outcome.body)}): ${JSON.stringify(outcome.body)}`
            : `publishing the ${what} failed (${outcome.status ?? 'no response'}): ${outcome.error}`;
      deps.log?.(`${pr.endpoint}: ${summary}`);
      await store.addEvents(event(`${prefix}-${outcome.result}`, summary, { file: pr.file, ...outcome }));
    }
  }

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
    proposals,
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

/** The backups of an older proposal record that were keys of the finding's previous chain. */
function oldChainKeysIn(backups: string[], f: StoredFinding | null): string[] {
  const previous = Array.isArray(f?.details.previousChain) ? (f!.details.previousChain as { spkiSha256?: string }[]) : [];
  const keys = new Set(previous.map((c) => c.spkiSha256));
  return backups.filter((b) => keys.has(b));
}

/** What a 409 from the service was about, from its `code`. */
function refusal(body: unknown): string {
  const code = body && typeof body === 'object' ? (body as { code?: unknown }).code : undefined;
  return code === 'MERGE_REFUSED' ? 'merge refused: no current, unexpired pin set to merge into' : code === 'GUARD_FAILED' || code === undefined ? 'pre-publish guard' : String(code);
}

/**
 * From a merge's `changes`: pins the served entry had that this publish removed although the
 * proposal did not mean to drop them (added on the service by hand, say): said in the history.
 */
function unexpectedRemovals(body: unknown, pr: ProposalResult): string {
  const changes = body && typeof body === 'object' ? (body as { changes?: unknown }).changes : undefined;
  if (!Array.isArray(changes)) return '';
  const meant = new Set(pr.dropped);
  const removed = changes.flatMap((c: { removed?: unknown }) => (Array.isArray(c.removed) ? (c.removed as string[]) : [])).filter((k) => !meant.has(k));
  return removed.length ? `; the served entry also lost ${removed.join(', ')} (not in the proposal: publish it again with them if apps still need them)` : '';
}
