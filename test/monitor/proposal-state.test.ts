/**
 * The proposal state machine, pure: every legal transition, illegal ones refused with a typed
 * error, the history each change writes, and proposals recovered from the history events older
 * versions wrote.
 */
import { describe, expect, it } from 'vitest';
import { Proposal, ProposalEvent, ProposalTransitionError, historyOf, proposalFromRow, proposalArgs, transition } from '../../monitor/proposal-state.js';
import { proposalsFromEvents, NumberedEvent } from '../../monitor/proposal-migrate.js';

const base: Proposal = {
  id: 'p1', domain: 'api.test', state: 'proposed', version: 1, createdAt: 't0', updatedAt: 't0',
  subjects: [
    { findingId: 'f1', endpoint: 'api.test:443', host: 'api.test', address: '127.0.0.1', severity: 'warning' },
    { findingId: 'f2', endpoint: 'api.test:8443', host: 'api.test', address: '127.0.0.1', severity: 'warning' },
  ],
  file: '/s/proposals/api.test-1.json', json: '{}', pins: ['new'], backups: ['old', 'offline'], positions: ['leaf'],
  keepBackupsUntil: '2026-07-01', keepBackupsUntilAt: '2026-07-01T12:00:00.000Z', retire: ['old'], publishAttemptedAt: null, followUp: null, reason: null,
};
const ev = {
  attempt: { type: 'publish-attempt', note: 'publishing' },
  published: { type: 'published', note: 'published version 2' },
  refused: { type: 'refused', note: 'refused (409)' },
  failed: { type: 'publish-failed', note: 'failed' },
  retire: { type: 'retire', followUp: { file: '/s/proposals/api.test-2.json', json: '{}', pins: ['new'], backups: ['offline'], dropped: ['old'] }, note: 'overlap ended' },
  keep: { type: 'keep', reason: 'old key still served', note: 'kept' },
  supersede: { type: 'supersede', by: 'p2', note: 'superseded' },
} satisfies Record<string, ProposalEvent>;

/** Runs events in order from `base`, returning each state reached. */
function run(...events: ProposalEvent[]): string[] {
  let p = base;
  return events.map((e, i) => (p = transition(p, e, `t${i + 1}`)).state);
}

function refusal(p: Proposal, e: ProposalEvent): ProposalTransitionError {
  try {
    transition(p, e, 'tx');
  } catch (err) {
    if (err instanceof ProposalTransitionError) return err;
    throw err;
  }
  throw new Error(`${p.state} + ${e.type} was allowed`);
}

describe('proposal state machine', () => {
  it('moves proposed → published | refused → retiring → retired | kept, and bumps the version each time', () => {
    expect(run(ev.attempt, ev.published, ev.retire, ev.attempt, ev.published)).toEqual(['proposed', 'published', 'retiring', 'retiring', 'retired']);
    expect(run(ev.attempt, ev.refused, ev.keep)).toEqual(['proposed', 'refused', 'kept']);
    expect(run(ev.attempt, ev.failed, ev.retire, ev.attempt, ev.refused)).toEqual(['proposed', 'proposed', 'retiring', 'retiring', 'kept']);
    expect(run(ev.retire)).toEqual(['retiring']); // publish: false — never published, still retires
    expect(run(ev.attempt, ev.published, ev.supersede)).toEqual(['proposed', 'published', 'superseded']);
    const after = transition(transition(base, ev.attempt, 't1'), ev.published, 't2');
    expect(after).toMatchObject({ version: 3, updatedAt: 't2', publishAttemptedAt: 't1' });
    expect(base.state).toBe('proposed'); // pure: the input is not changed
  });

  it('refuses illegal transitions with a typed error naming the state and the event', () => {
    const published = transition(transition(base, ev.attempt, 't1'), ev.published, 't2');
    const retired = [ev.retire, ev.attempt, ev.published].reduce((p, e) => transition(p, e, 't'), published);
    const kept = transition(base, ev.keep, 't');
    const cases: [Proposal, ProposalEvent][] = [
      [base, ev.published], // no attempt outstanding
      [transition(base, ev.attempt, 't'), ev.attempt], // a second attempt
      [published, ev.attempt], // published is not published again
      [retired, ev.retire],
      [retired, ev.keep],
      [kept, ev.retire],
      [kept, ev.supersede],
      [transition(base, ev.supersede, 't'), ev.retire],
      [transition(base, ev.retire, 't'), ev.keep], // decided once
      [transition(base, ev.retire, 't'), ev.published], // follow-up not attempted
    ];
    for (const [p, e] of cases) {
      const err = refusal(p, e);
      expect(err.code).toBe('PROPOSAL_TRANSITION');
      expect(err.message).toContain(`"${e.type}" in state ${p.state}`);
      expect(err.hint).toMatch(/proposed → published/);
    }
  });

  it('writes history from each change, with the event types earlier versions wrote', () => {
    const attempt = transition(base, ev.attempt, 't1');
    expect(historyOf({ op: 'create', proposal: base, note: 'proposed pins' }).map((e) => [e.type, e.findingId, e.at])).toEqual([['pins-proposed', 'f1', 't0']]);
    expect(historyOf({ op: 'transition', before: base, after: attempt, event: ev.attempt, at: 't1' }).map((e) => [e.type, e.findingId])).toEqual([
      ['pins-publish-attempt', 'f1'],
      ['pins-publish-attempt', 'f2'],
    ]);
    const retiring = transition(base, ev.retire, 't2');
    const [retired] = historyOf({ op: 'transition', before: base, after: retiring, event: ev.retire, at: 't2' });
    expect(retired).toMatchObject({ type: 'pins-retire-proposed', address: null, severity: 'info', details: { domain: 'api.test', proposalId: 'p1', proposal: base.file } });
    const followUp = transition(retiring, ev.attempt, 't3');
    expect(historyOf({ op: 'transition', before: retiring, after: followUp, event: ev.attempt, at: 't3' }).map((e) => e.type)).toEqual(['pins-retire-publish-attempt']);
    expect(historyOf({ op: 'transition', before: base, after: transition(base, ev.keep, 't'), event: ev.keep, at: 't' })[0]).toMatchObject({ type: 'pins-retire-skipped', details: { reason: 'old key still served' } });
  });

  it('reads back from its row as written', () => {
    const p = transition(base, ev.retire, 't1');
    const [id, domain, state, version, created_at, updated_at, data] = proposalArgs(p);
    expect(proposalFromRow({ id, domain, state, version, created_at, updated_at, data })).toEqual(p);
  });
});

describe('proposals recovered from history events (states written before the proposals table)', () => {
  const e = (id: number, type: string, details: Record<string, unknown>, host = 'api.test'): NumberedEvent => ({
    id, at: `2026-06-0${Math.min(id, 9)}T00:00:00.000Z`, endpoint: `${host}:443`, host, address: '127.0.0.1', type, kind: 'chain-drift', severity: 'warning', findingId: `f${id}`, summary: type, details,
  });

  it('gives each pins-proposed event the state its later events say, keyed by domain (older records: their host)', () => {
    const events = [
      e(1, 'pins-proposed', { file: 'a1.json', pins: ['k1'], backups: ['o'], keepBackupsUntil: '2026-07-01' }, 'a.test'), // no domain: its host
      e(2, 'pins-publish-attempt', { file: 'a1.json' }, 'a.test'),
      e(3, 'pins-publish-published', { file: 'a1.json', version: 2 }, 'a.test'),
      e(4, 'pins-proposed', { file: 'b1.json', domain: 'b.test', pins: ['k'], backups: ['o'], keepBackupsUntil: '2026-07-01' }, 'b.test'),
      e(5, 'pins-proposed', { file: 'b2.json', domain: 'b.test', pins: ['k2'], backups: ['o'], keepBackupsUntil: '2026-07-02', retire: ['o'] }, 'b.test'),
      e(6, 'pins-retire-proposed', { file: 'b3.json', domain: 'b.test', pins: ['k2'], backups: [], dropped: ['o'], proposalEventId: 5 }, 'b.test'),
      e(7, 'pins-retire-publish-attempt', { file: 'b3.json' }, 'b.test'),
      e(8, 'pins-retire-publish-published', { file: 'b3.json' }, 'b.test'),
      e(9, 'pins-proposed', { file: 'c1.json', domain: 'c.test', pins: ['k'], backups: ['o'], keepBackupsUntil: '2026-07-01' }, 'c.test'),
      e(10, 'pins-retire-skipped', { domain: 'c.test', reason: 'still served', proposalEventId: 9 }, 'c.test'),
    ];
    const got = proposalsFromEvents(events).map((p) => [p.id, p.domain, p.state, p.file, p.followUp?.file ?? null, p.reason]);
    expect(got).toEqual([
      ['event-1', 'a.test', 'published', 'a1.json', null, null],
      ['event-4', 'b.test', 'superseded', 'b1.json', null, 'event-5'],
      ['event-5', 'b.test', 'retired', 'b2.json', 'b3.json', null],
      ['event-9', 'c.test', 'kept', 'c1.json', null, 'still served'],
    ]);
    expect(proposalsFromEvents(events)[2]!.retire).toEqual(['o']);
    expect(proposalsFromEvents(events)[0]!.retire).toBeNull(); // derived from the finding at retire time
  });
});
