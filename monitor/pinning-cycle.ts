/**
 * Dynamic pinning inside a monitoring cycle (monitor/cycle.ts): before the sweep's transaction,
 * proposals for the domain groups whose findings call for new pins and retirements of proposals
 * whose overlap window ended (files + proposal changes the commit applies); after the commit, at
 * most one publish of each. The decisions are the pure functions of monitor/proposals.ts, the
 * proposal's states and transitions those of monitor/proposal-state.ts.
 */
import { rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { describeError } from '../src/errors.js';
import { DynamicPinningConfig, MonitorConfig } from './config.js';
import { ReconcilePlan, byEndpoint } from './findings.js';
import { DomainGroup, FetchLike, PublishOutcome, callsForPins, curlCommand, domainGroups, groupOf, proposePins, publishProposal, retireBackups, writeProposal } from './proposals.js';
import { Proposal, ProposalChange, ProposalEvent, change } from './proposal-state.js';
import type { EventWrite, MonitorState } from './state.js';
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
  /** The proposal (its row in the state's proposals table). */
  proposalId: string;
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
  /** History events to write in the sweep's transaction (proposals skipped). */
  events: EventWrite[];
  /** Proposals created or moved, applied in the sweep's transaction (each writes its history). */
  changes: ProposalChange[];
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

/** Before the sweep's transaction: proposals and retirements (files written, changes returned). */
export async function proposeForCycle(dp: DynamicPinningConfig, ctx: ProposeContext, plan: ReconcilePlan, open: StoredFinding[]): Promise<Proposed> {
  const { store, cfg, ev } = ctx;
  const out: Proposed = { events: [], changes: [], proposals: [], json: new Map() };
  /** A proposal's keys to retire; records from before `retire` existed: from the finding. */
  const retireKeysOf = async (p: Proposal): Promise<string[]> => {
    const findingId = p.subjects[0]?.findingId;
    return p.retire ?? oldChainKeysIn(p.backups, findingId ? await store.finding(findingId) : null);
  };
  // One proposal per pin-set entry (domain), whatever number of its endpoints changed: the
  // entry applies to every port and address of the name, so all of them must pass it.
  const groups = domainGroups(cfg.endpoints, byEndpoint(ctx.observations));
  const governing = groupOf(groups);
  const pending = new Map<string, Proposal>();
  for (const p of await store.proposals({ active: true })) pending.set(p.domain, p); // oldest first: the newest wins
  // Findings that call for new pins, by the entry governing their endpoint.
  const changedBy = new Map<string, DriftFinding[]>();
  for (const f of [...plan.opened, ...plan.updated.filter((u) => u.changed).map((u) => u.finding)]) {
    if (!callsForPins(f)) continue;
    const g = governing.get(f.endpoint);
    if (!g) {
      out.events.push(ev(f, 'pins-proposal-skipped', `no pin set proposed: ${f.endpoint} is reached by IP address, and pinctl.pins.v1 pins host names`));
      continue;
    }
    changedBy.set(g.domain, [...(changedBy.get(g.domain) ?? []), f]);
  }
  for (const [domain, findings] of changedBy) {
    const earlier = pending.get(domain);
    await proposeOne(dp, ctx, out, groups.get(domain)!, findings, earlier, earlier ? await retireKeysOf(earlier) : []);
  }
  // Overlap windows that have ended: the same entry without the old chains' keys. A domain with
  // findings calling for new pins in this cycle (proposed or not) waits: its state is changing.
  // One domain's bad record never stops the sweep.
  for (const [domain, p] of pending) {
    const g = groups.get(domain);
    if (!g || changedBy.has(domain)) continue;
    try {
      await retireOne(dp, ctx, out, p, g, await retireKeysOf(p));
    } catch (err) {
      ctx.log?.(`${domain}: retiring the old pins failed (next sweep retries): ${describeError(err)}`);
    }
  }
  // A finding updated without a new proposal keeps the one it has (reminders still name it).
  const before = new Map(open.map((f) => [f.id, f]));
  for (const u of plan.updated) {
    const was = before.get(u.finding.id)?.details;
    const cur = u.finding.details;
    if (was?.kind === 'chain-drift' && was.proposal && cur.kind === 'chain-drift' && cur.proposal === undefined) cur.proposal = was.proposal;
  }
  return out;
}

/** A new proposal for one domain's findings (file + 'create', superseding the earlier one), or why none. */
async function proposeOne(dp: DynamicPinningConfig, ctx: ProposeContext, out: Proposed, g: DomainGroup, findings: DriftFinding[], earlier: Proposal | undefined, carried: string[]): Promise<void> {
  const { domain } = g;
  const { now, nowIso, ev } = ctx;
  const d = proposePins(findings, g, now, dp.overlapMs, earlier);
  if (d.kind === 'none') return;
  const f = findings[0]!;
  if (d.kind === 'skipped') {
    out.events.push(ev(f, 'pins-proposal-skipped', `no pin set proposed for ${domain}: ${d.reason}`));
    return;
  }
  const p = d.proposal;
  let file: string;
  try {
    file = writeProposal(ctx.cfg.localDir, domain, now, p.json);
  } catch (e) {
    out.events.push(ev(f, 'pins-proposal-skipped', `cannot write the proposed pin set: ${(e as Error).message}`));
    return;
  }
  // Two changes inside one overlap window: the older proposal's old keys retire with this one.
  const retire = [...new Set([...p.retire, ...carried])];
  const proposal: Proposal = {
    id: randomUUID(), domain, state: 'proposed', version: 1, createdAt: nowIso, updatedAt: nowIso,
    subjects: findings.map((x) => ({ findingId: x.id, endpoint: x.endpoint, host: x.host, address: x.address, severity: x.severity })),
    file, json: p.json, pins: p.pins, backups: p.backups, positions: p.positions, keepBackupsUntil: p.keepBackupsUntil,
    keepBackupsUntilAt: p.keepBackupsUntilAt, retire, publishAttemptedAt: null, followUp: null, reason: null,
  };
  if (earlier) out.changes.push(change(earlier, { type: 'supersede', by: proposal.id, note: `superseded by the newer proposal for ${domain} in ${file}` }, nowIso));
  const summary = `proposed pins for ${domain}: ${p.pins.join(', ')} (+ ${p.backups.length} backup(s): ${p.backups.join(', ')}) in ${file}`;
  out.changes.push({ op: 'create', proposal, note: summary });
  const curl = curlCommand(dp, file);
  for (const x of findings) {
    x.details.proposal = { id: proposal.id, file, curl, publish: dp.publish, service: dp.service, domain, pins: p.pins, backups: p.backups, positions: p.positions, keepBackupsUntil: p.keepBackupsUntil };
  }
  out.proposals.push({ kind: 'new-pins', proposalId: proposal.id, findingId: f.id, findingIds: findings.map((x) => x.id), endpoint: f.endpoint, domain, file, pins: p.pins, backups: p.backups, dropped: [], publish: null });
  out.json.set(file, p.json);
}

/** After a proposal's overlap window: the follow-up without the old keys (file + 'retire'), or 'keep', or nothing yet. */
async function retireOne(dp: DynamicPinningConfig, ctx: ProposeContext, out: Proposed, p: Proposal, g: DomainGroup, retireKeys: string[]): Promise<void> {
  const d = retireBackups(p, retireKeys, g, ctx.now);
  if (d.kind === 'wait') return;
  if (d.kind === 'skipped') {
    out.changes.push(change(p, { type: 'keep', reason: d.reason, note: `old keys kept after the overlap window: ${d.reason}` }, ctx.nowIso));
    return;
  }
  const r = d.proposal;
  const file = writeProposal(ctx.cfg.localDir, g.domain, ctx.now, r.json);
  const event: ProposalEvent = {
    type: 'retire',
    followUp: { file, json: r.json, pins: r.pins, backups: r.backups, dropped: r.dropped },
    note: `overlap window ended ${r.keepBackupsUntilAt}: proposed pins for ${g.domain} without the old chain's key(s) ${r.dropped.join(', ')} in ${file}`,
    details: { curl: curlCommand(dp, file) },
  };
  out.changes.push(change(p, event, ctx.nowIso));
  out.json.set(file, r.json);
  const first = p.subjects[0];
  out.proposals.push({ kind: 'retire-backups', proposalId: p.id, findingId: first?.findingId ?? '', endpoint: first?.endpoint ?? g.domain, domain: g.domain, file, pins: r.pins, backups: r.backups, dropped: r.dropped, publish: null });
}

export interface PublishContext {
  store: MonitorState;
  now: () => Date;
  fetch?: FetchLike;
  log?: (line: string) => void;
}

/**
 * After the commit: drop the follow-ups of retirements another monitor decided first (their change
 * was lost), then publish each proposal once (when configured): the attempt is a transition
 * committed before the request, so a second monitor (or a restart) never posts it again.
 */
export async function afterCommit(dp: DynamicPinningConfig, proposed: Proposed, lost: ProposalChange[], ctx: PublishContext): Promise<void> {
  const { store } = ctx;
  // Each proposal as the commit left it (a lost change left it as another monitor wrote it).
  const applied = new Map<string, Proposal>();
  for (const c of proposed.changes) {
    if (lost.includes(c)) continue;
    const p = c.op === 'create' ? c.proposal : c.after;
    applied.set(p.id, p);
  }
  for (const pr of [...proposed.proposals]) {
    if (pr.kind !== 'retire-backups' || applied.has(pr.proposalId)) continue;
    // Another monitor on this state decided this retirement first: this one's file is not used.
    proposed.proposals.splice(proposed.proposals.indexOf(pr), 1);
    rmSync(pr.file, { force: true });
  }
  if (!dp.publish) return;
  // At most one attempt per finding, ever: a new proposal for findings that all had one is not posted.
  const attempted = new Set((await store.proposals()).filter((p) => p.publishAttemptedAt).flatMap((p) => p.subjects.map((x) => x.findingId)));
  for (const pr of proposed.proposals) {
    const p = applied.get(pr.proposalId);
    if (!p) continue;
    const retire = pr.kind === 'retire-backups';
    if (!retire && (pr.findingIds ?? [pr.findingId]).every((id) => attempted.has(id))) continue;
    const at = () => ctx.now().toISOString();
    const attempt = change(p, { type: 'publish-attempt', note: `publishing ${pr.file} to ${dp.service}/v1/bundles/pins`, details: { file: pr.file } }, at());
    if ((await store.applyProposalChanges([attempt])).lost.length > 0) continue; // another monitor posts it
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
    const type = outcome.result === 'failed' ? 'publish-failed' : outcome.result;
    await store.applyProposalChanges([change(attempt.after, { type, note: summary, details: { file: pr.file, ...outcome } }, at())]);
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
