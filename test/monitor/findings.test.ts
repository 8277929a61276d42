/** The pure rules: drift classification, expiry levels, pin matching (cross-checked with verdict.ts) and the finding lifecycle. */
import { describe, expect, it } from 'vitest';
import { classifyDrift, diffObservations, expiryLevel, matchPins, reconcile, findingId } from '../../monitor/findings.js';
import { EndpointConfig, ExpectedPins } from '../../monitor/config.js';
import { certRecord } from '../../monitor/sweep.js';
import { CertRecord, Observation, StoredFinding } from '../../monitor/types.js';
import { buildChain } from '../../src/core/chain.js';
import { parseInput } from '../../src/core/input.js';
import { makeTrustStore } from '../../src/core/trust-store.js';
import { evaluate } from '../../src/core/verdict.js';
import { PinRole } from '../../src/core/model.js';
import { NOW, readPki } from '../helpers/fixtures.js';

const store = makeTrustStore(parseInput(readPki('root.pem'), 'root.pem').map((i) => i.cert!), 'root.pem');
function chainOf(file: string, now = NOW) {
  const certs = parseInput(readPki(file), file).flatMap((i) => (i.cert ? [i.cert] : []));
  return buildChain(certs, store, { now, hostname: 'api.pinctl.test' });
}
function records(file: string): CertRecord[] {
  return chainOf(file).entries.map((e) => certRecord(e.cert, e.position, e.source));
}
const pinsOf = (values: [string, PinRole][], semantics: 'any' | 'ios' = 'any', expiration: string | null = null): ExpectedPins => ({
  source: 'inline',
  format: 'inline',
  semantics,
  expiration,
  pins: values.map(([spkiSha256, role]) => ({ spkiSha256, role })),
});

const A = records('chain.pem');
const RENEWED = records('chain-renewed.pem');
const NEWKEY = records('chain-new-key.pem');
const INT2 = records('chain-intermediate2.pem');
const LEAFONLY: CertRecord[] = [A[0]!, A[2]!].map((c, i) => ({ ...c, position: i === 0 ? 'leaf' : 'root' }));

const endpoint = (pins: ExpectedPins | null, thresholds = [30, 14, 7]): EndpointConfig => ({
  id: 'api.pinctl.test:443',
  host: 'api.pinctl.test',
  port: 443,
  sni: 'api.pinctl.test',
  addresses: ['127.0.0.1'],
  caFile: '/x/root.pem',
  caFileAsWritten: './root.pem',
  pins,
  expiryWarningDays: thresholds,
});
const obs = (chain: CertRecord[], address = '127.0.0.1', at = NOW): Observation => ({
  endpoint: 'api.pinctl.test:443',
  host: 'api.pinctl.test',
  port: 443,
  sni: 'api.pinctl.test',
  address,
  at: at.toISOString(),
  durationMs: 1,
  attempts: 1,
  protocol: 'TLSv1.3',
  chain,
  trusted: true,
  anchor: 'ca-file',
  problems: [],
  error: null,
});
const commands = { certPath: (sha: string) => `/state/certs/${sha}.pem` };

describe('classifyDrift', () => {
  it('same-key renewal is info; a new leaf key is a warning when the leaf is pinned (or pins are unknown)', () => {
    expect(classifyDrift(A, RENEWED, null).map((c) => [c.change, c.severity])).toEqual([['leaf-renewed', 'info']]);
    expect(classifyDrift(A, NEWKEY, null).map((c) => [c.change, c.severity])).toEqual([['leaf-key-changed', 'warning']]);
    expect(classifyDrift(A, NEWKEY, pinsOf([[A[0]!.spkiSha256, 'leaf']])).map((c) => c.severity)).toEqual(['warning']);
    // Only CA pins shipped: a new leaf key does not concern the apps.
    expect(classifyDrift(A, NEWKEY, pinsOf([[A[1]!.spkiSha256, 'intermediate']])).map((c) => c.severity)).toEqual(['info']);
  });
  it('a new intermediate is at least a warning even while the leaf pin matches', () => {
    const leafPinned = pinsOf([[A[0]!.spkiSha256, 'leaf']]);
    expect(classifyDrift(A, INT2, leafPinned).map((c) => [c.change, c.severity])).toEqual([
      ['leaf-renewed', 'info'],
      ['intermediate-changed', 'warning'],
    ]);
  });
  it('chain length and root changes', () => {
    const changes = classifyDrift(A, LEAFONLY, null).map((c) => c.change);
    expect(changes).toContain('chain-length-changed');
    const otherRoot = A.map((c) => (c.position === 'root' ? { ...c, sha256: 'f'.repeat(64), spkiSha256: 'X'.repeat(43) + '=' } : c));
    expect(classifyDrift(A, otherRoot, null).map((c) => [c.change, c.severity])).toEqual([['root-changed', 'warning']]);
    const reissuedRoot = A.map((c) => (c.position === 'root' ? { ...c, sha256: 'e'.repeat(64) } : c));
    expect(classifyDrift(A, reissuedRoot, null).map((c) => [c.change, c.severity])).toEqual([['root-renewed', 'info']]);
    expect(classifyDrift(A, A, null)).toEqual([]);
  });
});

describe('matchPins agrees with src/core/verdict.ts evaluate', () => {
  const cases: [string, ExpectedPins][] = [
    ['chain.pem', pinsOf([[A[1]!.spkiSha256, 'intermediate']])],
    ['chain-intermediate2.pem', pinsOf([[A[1]!.spkiSha256, 'intermediate']])],
    ['chain-new-key.pem', pinsOf([[A[0]!.spkiSha256, 'leaf'], [A[1]!.spkiSha256, 'intermediate']], 'ios')],
    ['chain.pem', pinsOf([[A[0]!.spkiSha256, 'leaf'], [A[1]!.spkiSha256, 'intermediate']], 'ios')],
    ['chain-new-key.pem', pinsOf([[A[0]!.spkiSha256, 'leaf']], 'any', '2026-01-01')],
  ];
  for (const [file, pins] of cases) {
    it(`${file} ${pins.semantics} ${pins.expiration ?? ''}`, () => {
      const chain = chainOf(file);
      const v = evaluate({ domain: 'api.pinctl.test', includeSubdomains: false, endpoints: [], pins: pins.pins.map((p) => ({ ...p, subject: null, notAfter: null, source: 'x' })) }, chain, {
        semantics: pins.semantics,
        expiration: pins.expiration,
        now: NOW,
      });
      const m = matchPins(pins, records(file), NOW);
      expect(m.pass).toBe(v.pass);
      expect(m.matched).toEqual(v.matched);
      expect(m.enforced).toBe(!v.pinsExpired);
    });
  }
});

describe('expiryLevel', () => {
  const t = [30, 14, 7];
  it('picks the smallest threshold crossed, or expired', () => {
    expect(expiryLevel('2026-08-01T00:00:00Z', NOW, t)).toBeNull();
    expect(expiryLevel('2026-07-01T00:00:00Z', NOW, t)).toEqual({ days: 30, level: 30 });
    expect(expiryLevel('2026-06-15T00:00:00Z', NOW, t)).toEqual({ days: 14, level: 14 });
    expect(expiryLevel('2026-06-03T00:00:00Z', NOW, t)).toEqual({ days: 2, level: 7 });
    expect(expiryLevel('2026-05-31T00:00:00Z', NOW, t)).toEqual({ days: -1, level: 'expired' });
  });
});

describe('reconcile: one alert per new problem, reminders, changes, recovery', () => {
  const ep = endpoint(pinsOf([[A[1]!.spkiSha256, 'intermediate']]));
  const base = { endpoints: [ep], driftWindowMs: 86_400_000, reminderMs: 3_600_000, minSeverity: 'warning' as const };
  const mismatch = () => diffObservations({ previous: new Map([['api.pinctl.test:443|127.0.0.1', obs(A)]]), current: [obs(INT2)], endpoints: [ep], now: NOW, commands });

  it('opens and alerts new problems; info findings are recorded but not alerted', () => {
    const found = mismatch();
    expect(found.map((f) => `${f.kind}:${f.severity}`).sort()).toEqual(['chain-drift:warning', 'pin-mismatch:critical']);
    const plan = reconcile({ ...base, open: [], found, current: [obs(INT2)], now: NOW });
    expect(plan.opened).toHaveLength(2);
    expect(plan.alerts.map((a) => a.type)).toEqual(['new', 'new']);
    const renewed = diffObservations({ previous: new Map([['api.pinctl.test:443|127.0.0.1', obs(A)]]), current: [obs(RENEWED)], endpoints: [ep], now: NOW, commands });
    const p2 = reconcile({ ...base, open: [], found: renewed, current: [obs(RENEWED)], now: NOW });
    expect(p2.opened.map((f) => f.severity)).toEqual(['info']);
    expect(p2.alerts).toEqual([]);
  });

  it('keeps an open problem without re-alerting, reminds after the interval, resolves with a message', () => {
    const found = mismatch();
    const first = reconcile({ ...base, open: [], found, current: [obs(INT2)], now: NOW });
    const open: StoredFinding[] = first.opened;
    const again = diffObservations({ previous: new Map([['api.pinctl.test:443|127.0.0.1', obs(INT2)]]), current: [obs(INT2)], endpoints: [ep], now: new Date(NOW.getTime() + 60_000), commands });
    const p2 = reconcile({ ...base, open, found: again, current: [obs(INT2)], now: new Date(NOW.getTime() + 60_000) });
    expect(p2.opened).toEqual([]);
    expect(p2.alerts).toEqual([]);
    expect(p2.resolved).toEqual([]); // the drift stays open: the new chain is still served
    const p3 = reconcile({ ...base, open, found: again, current: [obs(INT2)], now: new Date(NOW.getTime() + 3_600_000) });
    expect(p3.alerts.map((a) => a.type).sort()).toEqual(['reminder', 'reminder']);
    const p4 = reconcile({ ...base, open, found: [], current: [obs(A)], now: new Date(NOW.getTime() + 120_000) });
    expect(p4.resolved.map((r) => [r.finding.kind, r.resolution]).sort()).toEqual([
      ['chain-drift', 'the previous chain is served again'],
      ['pin-mismatch', 'a shipped pin matches the served chain again'],
    ]);
    expect(p4.alerts.map((a) => a.type)).toEqual(['resolved', 'resolved']);
  });

  it('an unreachable address keeps chain findings open (unknown), and the drift window closes a drift', () => {
    const open = reconcile({ ...base, open: [], found: mismatch(), current: [obs(INT2)], now: NOW }).opened;
    const down: Observation = { ...obs([]), error: { reason: 'timeout', code: 'TIMEOUT', message: 'x' } };
    const p = reconcile({ ...base, open, found: [], current: [down], now: new Date(NOW.getTime() + 60_000) });
    expect(p.resolved).toEqual([]);
    const late = new Date(NOW.getTime() + 86_400_000);
    const p2 = reconcile({ ...base, open: open.filter((f) => f.kind === 'chain-drift'), found: [], current: [obs(INT2)], now: late });
    expect(p2.resolved.map((r) => r.resolution)).toEqual(['the new chain has been served for 24h without further change: it is the new normal']);
    // Pins updated to include the new key resolve it at once.
    const ep2 = endpoint(pinsOf([[INT2[1]!.spkiSha256, 'intermediate']]));
    const p3 = reconcile({ ...base, endpoints: [ep2], open: open.filter((f) => f.kind === 'chain-drift'), found: [], current: [obs(INT2)], now: NOW });
    expect(p3.resolved.map((r) => r.resolution)).toEqual(['the expected pins now include the new keys']);
  });

  it('a finding whose severity or signature changes is re-alerted as changed; removed endpoints resolve', () => {
    const f = { ...mismatch().find((x) => x.kind === 'pin-mismatch')! };
    const stored: StoredFinding = { ...f, id: findingId(f.key, NOW.toISOString()), openedAt: NOW.toISOString(), updatedAt: NOW.toISOString(), resolvedAt: null, resolution: null, lastAlertAt: NOW.toISOString() };
    const p = reconcile({ ...base, open: [{ ...stored, signature: 'old' }], found: [f], current: [obs(INT2)], now: NOW });
    expect(p.alerts).toEqual([{ findingId: stored.id, type: 'changed' }]);
    const gone = reconcile({ ...base, endpoints: [], open: [stored], found: [], current: [], now: NOW });
    expect(gone.resolved.map((r) => r.resolution)).toEqual(['api.pinctl.test:443 is no longer in the config']);
  });

  it('the generate command keeps old pinned keys as backups and never lists a key still in service', () => {
    const drift = mismatch().find((x) => x.kind === 'chain-drift')!;
    expect(drift.action).toContain(`pinctl generate api.pinctl.test --resolve api.pinctl.test:443:127.0.0.1 --ca-file /x/root.pem --pin intermediate --backup-key /state/certs/${A[1]!.sha256}.pem --format json`);
    expect(drift.action).not.toContain(A[0]!.sha256);
  });
});

describe('flapping (review finding 3)', () => {
  it('a chain alternating between two chains every sweep alerts a bounded number of times, not once per sweep', () => {
    const ep = endpoint(pinsOf([[A[1]!.spkiSha256, 'intermediate'], [INT2[1]!.spkiSha256, 'intermediate']]));
    const base = { endpoints: [ep], driftWindowMs: 86_400_000, reminderMs: 86_400_000, minSeverity: 'warning' as const };
    const all = new Map<string, StoredFinding>();
    const alerts: string[] = [];
    let previous = obs(A);
    for (let i = 1; i <= 20; i++) {
      const now = new Date(NOW.getTime() + i * 300_000);
      const current = obs(i % 2 === 1 ? INT2 : A, '127.0.0.1', now);
      const found = diffObservations({ previous: new Map([['api.pinctl.test:443|127.0.0.1', previous]]), current: [current], endpoints: [ep], now, commands });
      const open = [...all.values()].filter((f) => f.resolvedAt === null);
      const recentlyResolved = [...all.values()].filter((f) => f.resolvedAt !== null && now.getTime() - Date.parse(f.resolvedAt) < base.driftWindowMs);
      const plan = reconcile({ ...base, open, recentlyResolved, found, current: [current], now });
      for (const f of plan.opened) all.set(f.id, f);
      for (const u of plan.updated) all.set(u.finding.id, u.finding);
      for (const r of plan.resolved) all.set(r.finding.id, r.finding);
      alerts.push(...plan.alerts.map((a) => a.type));
      previous = current;
    }
    // new drift, resolved by the first revert, then one 'changed' alert when it is seen flapping.
    expect(alerts).toEqual(['new', 'resolved', 'changed']);
    const open = [...all.values()].filter((f) => f.resolvedAt === null);
    expect(open).toHaveLength(1);
    expect(open[0]!.title).toMatch(/flapping between chains/);
    // Once it stops (the old chain only, beyond the window) it resolves, with one alert.
    const late = new Date(NOW.getTime() + 21 * 300_000 + 86_400_000);
    const plan = reconcile({ ...base, open, recentlyResolved: [], found: [], current: [obs(A, '127.0.0.1', late)], now: late });
    expect(plan.resolved.map((r) => r.resolution)).toEqual(['the previous chain is served again; it stopped flapping']);
    expect(plan.alerts.map((a) => a.type)).toEqual(['resolved']);
  });
});

describe('the suggested generate command (review finding 4)', () => {
  it('keeps every shipped pin not in the new chain (files where known, values listed otherwise) and uses an absolute --ca-file', () => {
    const offline = 'OFFLINEBACKUPKEYPINxxxxxxxxxxxxxxxxxxxxxxxx=';
    const ep = endpoint(pinsOf([[A[1]!.spkiSha256, 'intermediate'], [offline, 'backup'], [INT2[0]!.spkiSha256, 'leaf']]));
    const found = diffObservations({ previous: new Map([['api.pinctl.test:443|127.0.0.1', obs(A)]]), current: [obs(INT2)], endpoints: [ep], now: NOW, commands });
    const drift = found.find((x) => x.kind === 'chain-drift')!;
    expect(drift.action).toContain('--ca-file /x/root.pem');
    expect(drift.action).not.toContain('./root.pem');
    expect(drift.action).toContain(`--backup-key /state/certs/${A[1]!.sha256}.pem`);
    // The offline backup pin has no file: named as a value to keep, not dropped.
    expect(drift.action).toMatch(/--backup-key cannot take them: keep these pin values in the new pin set by hand.*OFFLINEBACKUPKEYPIN/);
    // A pin the new chain still serves is not a backup.
    expect(drift.action).not.toContain(`${INT2[0]!.spkiSha256})`);
  });
});

describe('drift compares served certificates (review finding 7)', () => {
  it('a validated path that changed only through the trust store is not a chain drift', () => {
    const ep = endpoint(null);
    const prev = A.map((c) => ({ ...c, source: c.position === 'root' ? ('trust-store' as const) : ('served' as const) }));
    const cur = prev.filter((c) => c.source === 'served');
    expect(cur.length).toBeLessThan(prev.length);
    const found = diffObservations({ previous: new Map([['api.pinctl.test:443|127.0.0.1', obs(prev)]]), current: [obs(cur)], endpoints: [ep], now: NOW, commands });
    expect(found.filter((f) => f.kind === 'chain-drift')).toEqual([]);
    // A change of what is served still is one.
    const moved = diffObservations({ previous: new Map([['api.pinctl.test:443|127.0.0.1', obs(prev)]]), current: [obs(INT2)], endpoints: [ep], now: NOW, commands });
    expect(moved.some((f) => f.kind === 'chain-drift')).toBe(true);
  });
});
