/**
 * Dynamic pinning inside a monitoring cycle (monitor/cycle.ts): before the sweep's transaction,
 * proposals for the domain groups whose findings call for new pins and retirements of proposals
 * whose overlap window ended (events + files); after the commit, at most one publish of each.
 * The decisions themselves are the pure functions of monitor/proposals.ts.
 */
import { rmSync } from 'node:fs';
import { describeError } from '../src/errors.js';
import { DynamicPinningConfig, MonitorConfig } from './config.js';
import { ReconcilePlan, byEndpoint } from './findings.js';
import { DomainGroup, FetchLike, PublishOutcome, RecordedProposal, callsForPins, curlCommand, domainGroups, groupOf, proposePins, publishProposal, retireBackups, writeProposal } from './proposals.js';
import type { EventWrite, HistoryEvent, MonitorState } from './state.js';
import { Observation, StoredFinding } from './types.js';
import type { ChainDriftEvidence } from './evidence.js';

type DriftFinding = StoredFinding & { details: ChainDriftEvidence };

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

export interface Proposed {
  /** History events to write in the sweep's transaction. */
  events: EventWrite[];
  proposals: ProposalResult[];
  /** The bytes of each proposal file, by path (what is POSTed). */
  json: Map<string, string>;
}

export interface ProposeContext {
  store: MonitorState;
  cfg: MonitorConfig;
  observations: Observation[];
  now: Date;
  nowIso: string;
  /** The cycle's event for a finding. */
  ev: (f: StoredFinding, type: string, summary: string) => EventWrite;
  log?: (line: string) => void;
}

/** Before the sweep's transaction: proposals and retirements (files written, events returned). */
export async function proposeForCycle(dp: DynamicPinningConfig, ctx: ProposeContext, plan: ReconcilePlan, open: StoredFinding[]): Promise<Proposed> {
  const { store, cfg, now, nowIso, ev } = ctx;
  const events: EventWrite[] = [];
  const proposals: ProposalResult[] = [];
  const json = new Map<string, string>();
  /** A recorded proposal's keys to retire; records from before `retire` existed: from the finding. */
  const retireKeysOf = async (e: HistoryEvent): Promise<string[]> => {
    const recorded = e.details as RecordedProposal;
    return recorded.retire ?? oldChainKeysIn(recorded.backups, e.findingId ? await store.finding(e.findingId) : null);
  };
  /** After a `pins-proposed` event's overlap window: a retire decision (event + file) or nothing yet. */
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
    const file = writeProposal(cfg.localDir, g.domain, now, p.json);
    events.push({
      ...base,
      type: 'pins-retire-proposed',
      summary: `overlap window ended ${p.keepBackupsUntilAt}: proposed pins for ${g.domain} without the old chain's key(s) ${p.dropped.join(', ')} in ${file}`,
      details: { file, pins: p.pins, backups: p.backups, dropped: p.dropped, curl: curlCommand(dp, file), ...link },
    });
    json.set(file, p.json);
    return { kind: 'retire-backups', findingId: e.findingId ?? '', endpoint: e.endpoint, domain: g.domain, file, pins: p.pins, backups: p.backups, dropped: p.dropped, publish: null };
  };
  // One proposal per pin-set entry (domain), whatever number of its endpoints changed: the
  // entry applies to every port and address of the name, so all of them must pass it.
  const groups = domainGroups(cfg.endpoints, byEndpoint(ctx.observations));
  const governing = groupOf(groups);
  const pending = new Map<string, HistoryEvent & { id: number }>();
  for (const e of await store.proposalsToRetire()) pending.set((e.details as RecordedProposal).domain ?? governing.get(e.endpoint)?.domain ?? e.host, e);
  // Findings that call for new pins, by the entry governing their endpoint.
  const changedBy = new Map<string, DriftFinding[]>();
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
      file = writeProposal(cfg.localDir, domain, now, p.json);
    } catch (e) {
      events.push(ev(f, 'pins-proposal-skipped', `cannot write the proposed pin set: ${(e as Error).message}`));
      continue;
    }
    // Two changes inside one overlap window: the older proposal's old keys retire with this one.
    const carried = earlier ? await retireKeysOf(earlier) : [];
    const retire = [...new Set([...p.retire, ...carried])];
    const curl = curlCommand(dp, file);
    for (const x of findings) {
      x.details.proposal = { file, curl, publish: dp.publish, service: dp.service, domain, pins: p.pins, backups: p.backups, positions: p.positions, keepBackupsUntil: p.keepBackupsUntil };
    }
    const recorded: RecordedProposal = { file, domain, pins: p.pins, backups: p.backups, positions: p.positions, keepBackupsUntil: p.keepBackupsUntil, keepBackupsUntilAt: p.keepBackupsUntilAt, retire };
    events.push({ ...ev(f, 'pins-proposed', `proposed pins for ${domain}: ${p.pins.join(', ')} (+ ${p.backups.length} backup(s): ${p.backups.join(', ')}) in ${file}`), details: recorded });
    proposals.push({ kind: 'new-pins', findingId: f.id, findingIds: findings.map((x) => x.id), endpoint: f.endpoint, domain, file, pins: p.pins, backups: p.backups, dropped: [], publish: null });
    json.set(file, p.json);
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
      ctx.log?.(`${domain}: retiring the old pins failed (next sweep retries): ${describeError(err)}`);
    }
  }
  // A finding updated without a new proposal keeps the one it has (reminders still name it).
  const before = new Map(open.map((f) => [f.id, f]));
  for (const u of plan.updated) {
    const was = before.get(u.finding.id)?.details;
    const now = u.finding.details;
    if (was?.kind === 'chain-drift' && was.proposal && now.kind === 'chain-drift' && now.proposal === undefined) now.proposal = was.proposal;
  }
  return { events, proposals, json };
}

export interface PublishContext {
  store: MonitorState;
  cfg: MonitorConfig;
  /** The findings of the cycle's plan, by id. */
  byId: Map<string, StoredFinding>;
  ev: (f: StoredFinding, type: string, summary: string) => EventWrite;
  now: () => Date;
  fetch?: FetchLike;
  log?: (line: string) => void;
}

/** After the commit: drop retirements another monitor decided first, then publish (when configured). */
export async function afterCommit(dp: DynamicPinningConfig, proposed: Proposed, superseded: Set<EventWrite>, ctx: PublishContext): Promise<void> {
  const { store, cfg, byId, ev } = ctx;
  // Another monitor on this state decided a retirement first: this one's file is not used.
  for (const e of superseded) {
    const file = (e.details as { file?: string } | undefined)?.file;
    const i = proposed.proposals.findIndex((p) => p.kind === 'retire-backups' && p.file === file);
    if (i < 0) continue;
    proposed.proposals.splice(i, 1);
    rmSync(file!, { force: true });
  }

  if (!dp.publish) return;
  const hosts = new Map(cfg.endpoints.map((e) => [e.id, e.host]));
  const allPublished = async (ids: string[]) => {
    for (const id of ids) if (!(await store.findingEvents(id)).some((e) => e.type.startsWith('pins-publish'))) return false;
    return true;
  };
  for (const pr of proposed.proposals) {
    const retire = pr.kind === 'retire-backups';
    const prefix = retire ? 'pins-retire-publish' : 'pins-publish';
    // The findings the attempt and its outcome are recorded on (every one the proposal answers).
    const findings = retire ? [] : (pr.findingIds ?? [pr.findingId]).map((id) => byId.get(id)).filter((x): x is StoredFinding => x !== undefined);
    const event = (type: string, summary: string, details: unknown): EventWrite[] =>
      findings.length > 0
        ? findings.map((f) => ({ ...ev(f, type, summary), at: ctx.now().toISOString(), details }))
        : [{ at: ctx.now().toISOString(), endpoint: pr.endpoint, host: hosts.get(pr.endpoint) ?? pr.endpoint, address: null, type, kind: 'chain-drift', severity: 'info', findingId: pr.findingId, summary, details }];
    // At most one attempt per finding, ever: the attempt is recorded before the request (a
    // new-pins proposal is posted unless every finding it answers was; a retire-backups one is
    // made once by construction).
    if (!retire && (await allPublished(pr.findingIds ?? [pr.findingId]))) continue;
    await store.addEvents(event(`${prefix}-attempt`, `publishing ${pr.file} to ${dp.service}/v1/bundles/pins`, { file: pr.file }));
    const outcome = await publishProposal(dp, proposed.json.get(pr.file)!, ctx.fetch);
    pr.publish = outcome;
    const what = retire ? `pins without the old key(s) ${pr.dropped.join(', ')}` : 'pins';
    const summary =
      outcome.result === 'published'
        ? `published ${what} ${retire ? 'as version' : 'version'} ${outcome.version ?? '?'} to ${dp.service} (${pr.file})${unexpectedRemovals(outcome.body, pr)}`
        : outcome.result === 'refused'
          ? `the service refused the ${what} (409, ${refusal(outcome.body)}): ${JSON.stringify(outcome.body)}`
          : `publishing the ${what} failed (${outcome.status ?? 'no response'}): ${outcome.error}`;
    ctx.log?.(`${pr.endpoint}: ${summary}`);
    await store.addEvents(event(`${prefix}-${outcome.result}`, summary, { file: pr.file, ...outcome }));
  }
}

/** The backups of an older proposal record that were keys of the finding's previous chain. */
function oldChainKeysIn(backups: string[], f: StoredFinding | null): string[] {
  const previous = f?.details.kind === 'chain-drift' ? f.details.previousChain : [];
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
