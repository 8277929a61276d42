/**
 * States written before proposals had their own table kept them as history events only
 * (`pins-proposed`, `pins-retire-*`, `pins-publish-*`). Pure: those events, oldest first, as the
 * proposals they describe, each with the state the events say it reached. The backends insert them
 * on open with ids derived from the event ids (`event-N`), so running it again adds nothing.
 */
import type { HistoryEvent } from './state.js';
import type { Proposal, ProposalState } from './proposal-state.js';
import type { Position } from './types.js';

export type NumberedEvent = HistoryEvent & { id: number };

/** The event types a migration reads. */
export const PROPOSAL_EVENT_TYPES = [
  'pins-proposed',
  'pins-retire-proposed',
  'pins-retire-skipped',
  'pins-publish-attempt',
  'pins-publish-published',
  'pins-publish-refused',
  'pins-publish-failed',
  'pins-retire-publish-attempt',
  'pins-retire-publish-published',
  'pins-retire-publish-refused',
  'pins-retire-publish-failed',
];

type D = Record<string, unknown>;
const det = (e: HistoryEvent): D => (e.details && typeof e.details === 'object' ? (e.details as D) : {});
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const domainOf = (e: HistoryEvent) => (typeof det(e).domain === 'string' ? (det(e).domain as string) : e.host);

export function proposalsFromEvents(events: NumberedEvent[]): Proposal[] {
  const proposed = events.filter((e) => e.type === 'pins-proposed');
  return proposed.map((e) => {
    const d = det(e);
    const domain = domainOf(e);
    const next = proposed.find((x) => x.id > e.id && domainOf(x) === domain);
    const p: Proposal = {
      id: `event-${e.id}`,
      domain,
      state: 'proposed',
      version: 1,
      createdAt: e.at,
      updatedAt: e.at,
      subjects: [{ findingId: e.findingId, endpoint: e.endpoint, host: e.host, address: e.address, severity: e.severity }],
      file: String(d.file ?? ''),
      json: null,
      pins: strs(d.pins),
      backups: strs(d.backups),
      positions: strs(d.positions) as Position[],
      keepBackupsUntil: String(d.keepBackupsUntil ?? ''),
      keepBackupsUntilAt: typeof d.keepBackupsUntilAt === 'string' ? d.keepBackupsUntilAt : null,
      retire: Array.isArray(d.retire) ? strs(d.retire) : null,
      publishAttemptedAt: null,
      followUp: null,
      reason: null,
    };
    const later = events.filter((x) => x.id > e.id);
    // New pins: publishing outcomes recorded for this file.
    const mine = (prefix: string, file: string) => later.filter((x) => x.type.startsWith(prefix) && det(x).file === file);
    for (const x of mine('pins-publish-', p.file)) apply(p, x.type.slice('pins-publish-'.length), x, false);
    // The overlap decision: linked by the proposal's event id, or (older records) the domain's next decision.
    const decision = later.find(
      (x) =>
        (x.type === 'pins-retire-proposed' || x.type === 'pins-retire-skipped') &&
        (det(x).proposalEventId === e.id || (det(x).proposalEventId === undefined && domainOf(x) === domain && (!next || x.id < next.id))),
    );
    if (decision?.type === 'pins-retire-skipped') return { ...p, state: 'kept', reason: String(det(decision).reason ?? '') };
    if (decision) {
      const f = det(decision);
      p.state = 'retiring';
      p.followUp = { file: String(f.file ?? ''), json: null, pins: strs(f.pins), backups: strs(f.backups), dropped: strs(f.dropped), publishAttemptedAt: null };
      for (const x of mine('pins-retire-publish-', p.followUp.file)) apply(p, x.type.slice('pins-retire-publish-'.length), x, true);
      return p;
    }
    if (next) return { ...p, state: 'superseded', reason: `event-${next.id}` };
    return p;
  });
}

function apply(p: Proposal, result: string, x: NumberedEvent, followUp: boolean): void {
  if (result === 'attempt') {
    if (followUp) p.followUp!.publishAttemptedAt = x.at;
    else p.publishAttemptedAt = x.at;
    if (x.findingId && !p.subjects.some((s) => s.findingId === x.findingId)) {
      p.subjects.push({ findingId: x.findingId, endpoint: x.endpoint, host: x.host, address: x.address, severity: x.severity });
    }
    return;
  }
  const to: Record<string, ProposalState> = followUp ? { published: 'retired', refused: 'kept' } : { published: 'published', refused: 'refused' };
  if (to[result]) p.state = to[result]!;
}
