/**
 * A dynamic-pinning proposal as an aggregate with an explicit state, stored in its own table
 * (`proposals`) by every MonitorState backend. Pure: `transition` is the only way a proposal
 * changes, it refuses what the machine does not allow with a typed error, and `historyOf` makes the
 * history events a change writes (the backend writes them in the same transaction, only when the
 * change applied).
 *
 *   proposed ──publish 200──▶ published
 *   proposed ──publish 409──▶ refused
 *   proposed | published | refused ──window ended, old keys dropped──▶ retiring
 *   proposed | published | refused ──window ended, old keys kept─────▶ kept
 *   proposed | published | refused ──a newer proposal, same domain───▶ superseded
 *   retiring ──follow-up published──▶ retired
 *   retiring ──follow-up refused (409)──▶ kept
 *
 * `retiring`: the follow-up pin set (the same entry without the old chain's keys) is written and
 * waits to be published (by the monitor with publish: true, else by hand). Publishing is attempted
 * at most once per proposal and once per follow-up: `publish-attempt` is itself a transition, so
 * two monitors cannot both post. Every transition bumps `version`; a backend applies one only while
 * the stored version is the one it was computed from (compare-and-set), so two monitors deciding
 * the same retirement record it once.
 */
import { InputError, PinctlError } from '../src/errors.js';
import type { Position } from './types.js';
import type { EventWrite } from './state.js';

export type ProposalState = 'proposed' | 'published' | 'refused' | 'retiring' | 'retired' | 'kept' | 'superseded';
export const PROPOSAL_STATES: readonly ProposalState[] = ['proposed', 'published', 'refused', 'retiring', 'retired', 'kept', 'superseded'];
/** States whose overlap window may still end in a retirement (the newest one per domain is pending). */
export const ACTIVE_STATES: readonly ProposalState[] = ['proposed', 'published', 'refused'];

/** A finding the proposal answers, as its history events name it. */
export interface ProposalSubject {
  findingId: string | null;
  endpoint: string;
  host: string;
  address: string | null;
  severity: string | null;
}

/** The follow-up made when the overlap window ended: the pin set without the old keys. */
export interface FollowUp {
  file: string;
  json: string | null;
  pins: string[];
  backups: string[];
  dropped: string[];
  publishAttemptedAt: string | null;
}

export interface Proposal {
  id: string;
  /** The pin-set entry (host name) the proposal replaces. */
  domain: string;
  state: ProposalState;
  /** Bumped by every transition (compare-and-set in the backends). */
  version: number;
  createdAt: string;
  updatedAt: string;
  subjects: ProposalSubject[];
  file: string;
  /** The pin set's bytes (what is POSTed); null in proposals migrated from history events. */
  json: string | null;
  pins: string[];
  backups: string[];
  positions: Position[];
  keepBackupsUntil: string;
  keepBackupsUntilAt: string | null;
  /** Keys of the old chains to drop after the window; null in old records (derived from the finding then). */
  retire: string[] | null;
  publishAttemptedAt: string | null;
  followUp: FollowUp | null;
  /** kept: why the old keys stay; superseded: the newer proposal's id. */
  reason: string | null;
}

/** What happens to a proposal. `note` is the history summary; `details` what the history event keeps. */
export type ProposalEvent =
  | { type: 'publish-attempt'; note: string; details?: unknown }
  | { type: 'published' | 'refused' | 'publish-failed'; note: string; details?: unknown }
  | { type: 'retire'; followUp: Omit<FollowUp, 'publishAttemptedAt'>; note: string; details?: Record<string, unknown> }
  | { type: 'keep'; reason: string; note: string; details?: unknown }
  | { type: 'supersede'; by: string; note: string };

/** A change for a backend to apply: a new proposal, or one transition computed from version `before.version`. */
export type ProposalChange =
  | { op: 'create'; proposal: Proposal; note: string }
  | { op: 'transition'; before: Proposal; after: Proposal; event: ProposalEvent; at: string };

export class ProposalTransitionError extends PinctlError {
  constructor(
    readonly from: ProposalState,
    readonly event: ProposalEvent['type'],
    why: string,
  ) {
    super('PROPOSAL_TRANSITION', `proposal cannot go through "${event}" in state ${from}: ${why}`, {
      hint: 'a proposal moves proposed → published | refused → retiring → retired | kept; this change was computed from an older state',
    });
  }
}

const active = (s: ProposalState) => ACTIVE_STATES.includes(s);

/** Pure: the proposal after `e` at `at`, or a ProposalTransitionError when the machine does not allow it. */
export function transition(p: Proposal, e: ProposalEvent, at: string): Proposal {
  const refuse = (why: string): never => {
    throw new ProposalTransitionError(p.state, e.type, why);
  };
  const next = (patch: Partial<Proposal>): Proposal => ({ ...p, ...patch, version: p.version + 1, updatedAt: at });
  const followUp = p.followUp;
  switch (e.type) {
    case 'publish-attempt':
      if (p.state === 'proposed') return p.publishAttemptedAt ? refuse('publishing was attempted already') : next({ publishAttemptedAt: at });
      if (p.state === 'retiring' && followUp) {
        if (followUp.publishAttemptedAt) return refuse('publishing the follow-up was attempted already');
        return next({ followUp: { ...followUp, publishAttemptedAt: at } });
      }
      return refuse('only a proposed pin set or a retiring follow-up is published');
    case 'published':
    case 'refused':
    case 'publish-failed': {
      if (p.state === 'proposed' && p.publishAttemptedAt) {
        return next({ state: e.type === 'published' ? 'published' : e.type === 'refused' ? 'refused' : 'proposed' });
      }
      if (p.state === 'retiring' && followUp?.publishAttemptedAt) {
        return next({ state: e.type === 'published' ? 'retired' : e.type === 'refused' ? 'kept' : 'retiring', reason: e.type === 'refused' ? e.note : p.reason });
      }
      return refuse('no publish attempt is outstanding');
    }
    case 'retire':
      return active(p.state) ? next({ state: 'retiring', followUp: { ...e.followUp, publishAttemptedAt: null } }) : refuse('its overlap window was decided already');
    case 'keep':
      return active(p.state) ? next({ state: 'kept', reason: e.reason }) : refuse('its overlap window was decided already');
    case 'supersede':
      return active(p.state) ? next({ state: 'superseded', reason: e.by }) : refuse('it no longer waits for its overlap window');
  }
}

/** A transition as a change for the backend (throws on an illegal one, before anything is written). */
export function change(p: Proposal, e: ProposalEvent, at: string): ProposalChange & { op: 'transition' } {
  return { op: 'transition', before: p, after: transition(p, e, at), event: e, at };
}

/** What the `pins-proposed` event records (the layout of earlier versions, plus the proposal's id). */
export function recordOf(p: Proposal): Record<string, unknown> {
  const { id, file, domain, pins, backups, positions, keepBackupsUntil } = p;
  const r: Record<string, unknown> = { id, file, domain, pins, backups, positions, keepBackupsUntil };
  if (p.keepBackupsUntilAt) r.keepBackupsUntilAt = p.keepBackupsUntilAt;
  if (p.retire) r.retire = p.retire;
  return r;
}

/** The history events a change writes (same types and layout as before proposals had a table). */
export function historyOf(c: ProposalChange): EventWrite[] {
  const p = c.op === 'create' ? c.proposal : c.after;
  const at = c.op === 'create' ? p.createdAt : c.at;
  const first = p.subjects[0] ?? { findingId: null, endpoint: p.domain, host: p.domain, address: null, severity: null };
  const on = (s: ProposalSubject, type: string, summary: string, details: unknown, quiet = false): EventWrite => ({
    at, endpoint: s.endpoint, host: s.host, address: quiet ? null : s.address, type, kind: 'chain-drift',
    severity: quiet ? 'info' : s.severity, findingId: s.findingId, summary, details,
  });
  if (c.op === 'create') return [on(first, 'pins-proposed', c.note, recordOf(p))];
  const e = c.event;
  const link = { domain: p.domain, proposal: p.file, proposalId: p.id };
  const followUp = c.before.state === 'retiring';
  switch (e.type) {
    case 'publish-attempt':
    case 'published':
    case 'refused':
    case 'publish-failed': {
      const result = e.type === 'publish-attempt' ? 'attempt' : e.type === 'publish-failed' ? 'failed' : e.type;
      if (followUp) return [on(first, `pins-retire-publish-${result}`, e.note, e.details, true)];
      return p.subjects.map((s) => on(s, `pins-publish-${result}`, e.note, e.details));
    }
    case 'retire': {
      const { file, pins, backups, dropped } = e.followUp;
      return [on(first, 'pins-retire-proposed', e.note, { file, pins, backups, dropped, ...e.details, ...link }, true)];
    }
    case 'keep':
      return [on(first, 'pins-retire-skipped', e.note, { reason: e.reason, ...link }, true)];
    case 'supersede':
      return [on(first, 'pins-proposal-superseded', e.note, { by: e.by, ...link }, true)];
  }
}

/** When the overlap window of a proposal ends. */
export function windowEnd(p: Pick<Proposal, 'keepBackupsUntil' | 'keepBackupsUntilAt'>): number {
  return p.keepBackupsUntilAt ? Date.parse(p.keepBackupsUntilAt) : Date.parse(`${p.keepBackupsUntil}T00:00:00Z`) + 86_400_000;
}

// ---------------------------------------------------------------------------------------------
// Stored form: id, domain, state, version, created_at, updated_at columns; the rest as JSON in `data`.

type Row = Record<string, unknown>;
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function proposalData(p: Proposal): string {
  const { id: _i, domain: _d, state: _s, version: _v, createdAt: _c, updatedAt: _u, ...rest } = p;
  return JSON.stringify(rest);
}

export function proposalFromRow(r: Row): Proposal {
  const d = JSON.parse(String(r.data)) as Row;
  const state = String(r.state) as ProposalState;
  if (!PROPOSAL_STATES.includes(state)) {
    throw new InputError('CONFIG_UNSUPPORTED', `a stored proposal is in the state "${state}", which this pinctl does not know (expected one of ${PROPOSAL_STATES.join(', ')})`, {
      hint: 'a newer pinctl wrote this state: upgrade pinctl on this machine',
    });
  }
  const f = d.followUp && typeof d.followUp === 'object' ? (d.followUp as Row) : null;
  return {
    id: String(r.id),
    domain: String(r.domain),
    state,
    version: Number(r.version),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    subjects: Array.isArray(d.subjects) ? (d.subjects as ProposalSubject[]) : [],
    file: String(d.file ?? ''),
    json: strOrNull(d.json),
    pins: strs(d.pins),
    backups: strs(d.backups),
    positions: strs(d.positions) as Position[],
    keepBackupsUntil: String(d.keepBackupsUntil ?? ''),
    keepBackupsUntilAt: strOrNull(d.keepBackupsUntilAt),
    retire: Array.isArray(d.retire) ? strs(d.retire) : null,
    publishAttemptedAt: strOrNull(d.publishAttemptedAt),
    followUp: f
      ? {
          file: String(f.file ?? ''),
          json: strOrNull(f.json),
          pins: strs(f.pins),
          backups: strs(f.backups),
          dropped: strs(f.dropped),
          publishAttemptedAt: strOrNull(f.publishAttemptedAt),
        }
      : null,
    reason: strOrNull(d.reason),
  };
}

/** Column values of a proposal row: id, domain, state, version, created_at, updated_at, data. */
export const proposalArgs = (p: Proposal) => [p.id, p.domain, p.state, p.version, p.createdAt, p.updatedAt, proposalData(p)];
