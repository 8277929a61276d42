/**
 * Typed evidence: what the diff builds survives the stored form (details JSON without `kind`) and
 * reads back as the same union member; rows older versions wrote still read; a kind from a newer
 * pinctl is refused with a hint.
 */
import { describe, expect, it } from 'vitest';
import { diffObservations } from '../../monitor/findings.js';
import { EndpointConfig } from '../../monitor/config.js';
import { FINDING_KINDS, evidenceJson, parseEvidence } from '../../monitor/evidence.js';
import { parseDetails, storedDetails } from '../../monitor/lifecycle.js';
import { servedBundleFindings } from '../../monitor/served-bundle-findings.js';
import { certRecord } from '../../monitor/sweep.js';
import { CertRecord, Finding, Observation } from '../../monitor/types.js';
import { buildChain } from '../../src/core/chain.js';
import { parseInput } from '../../src/core/input.js';
import { makeTrustStore } from '../../src/core/trust-store.js';
import { InputError } from '../../src/errors.js';
import { NOW, readPki } from '../helpers/fixtures.js';

const store = makeTrustStore(parseInput(readPki('root.pem'), 'root.pem').map((i) => i.cert!), 'root.pem');
function records(file: string): CertRecord[] {
  const certs = parseInput(readPki(file), file).flatMap((i) => (i.cert ? [i.cert] : []));
  return buildChain(certs, store, { now: NOW, hostname: 'api.pinctl.test' }).entries.map((e) => certRecord(e.cert, e.position, e.source));
}
const A = records('chain.pem');
const NEWKEY = records('chain-new-key.pem');

const endpoint: EndpointConfig = {
  id: 'api.pinctl.test:443', host: 'api.pinctl.test', port: 443, sni: 'api.pinctl.test', addresses: ['127.0.0.1', '127.0.0.2', '127.0.0.3'],
  caFile: '/x/root.pem', caFileAsWritten: './root.pem', expiryWarningDays: [3650],
  pins: { source: 'inline', format: 'inline', semantics: 'any', expiration: null, pins: [{ spkiSha256: 'not-served', role: 'leaf' }] },
};
const obs = (chain: CertRecord[], address: string, extra: Partial<Observation> = {}): Observation => ({
  endpoint: endpoint.id, host: endpoint.host, port: 443, sni: endpoint.sni, address, at: NOW.toISOString(), durationMs: 1, attempts: 1,
  protocol: chain.length ? 'TLSv1.3' : null, chain, trusted: chain.length > 0, anchor: 'system', problems: [], error: null, ...extra,
});

/** One finding of nearly every kind, made by the real diff (and the served-bundle rules). */
function everyKind(): Finding[] {
  const current = [
    obs(NEWKEY, '127.0.0.1'),
    obs(A, '127.0.0.2', { problems: [{ code: 'hostname', message: 'name mismatch' }] }),
    obs([], '127.0.0.3', { error: { reason: 'refused', code: 'REFUSED', message: 'connection refused' }, trusted: false }),
  ];
  const previous = new Map([[`${endpoint.id}|127.0.0.1`, obs(A, '127.0.0.1')]]);
  const found = diffObservations({ previous, current, endpoints: [endpoint], now: NOW, commands: { certPath: (s) => `/certs/${s}.pem` } });
  const source = { id: 's', url: 'https://pins.example', audience: 'app', keys: [], expiryWarningDays: [30, 7] };
  const checks = [
    { source, at: NOW.toISOString(), error: { code: 'BUNDLE_SIGNATURE', message: 'bad signature' }, version: 3, expiresAt: new Date(NOW.getTime() + 86_400_000).toISOString(), keysetVersion: 1, domains: [] },
  ];
  return [...found, ...servedBundleFindings(checks, NOW, () => ['x.test:443'])];
}

describe('finding evidence', () => {
  it('each kind is built with its own evidence, and reads back from its stored form unchanged', () => {
    const found = everyKind();
    const kinds = new Set(found.map((f) => f.kind));
    for (const k of ['pin-mismatch', 'chain-drift', 'chain-invalid', 'address-disagreement', 'expiry', 'no-sct', 'unreachable', 'bundle-unavailable', 'bundle-expiry']) {
      expect(kinds, k).toContain(k);
    }
    for (const f of found) {
      expect(f.details.kind).toBe(f.kind);
      const stored = JSON.parse(JSON.stringify(evidenceJson(f.details)));
      expect(stored).not.toHaveProperty('kind'); // the column says it; the bytes stay what older versions wrote
      expect(parseEvidence(f.kind, stored)).toEqual(f.details);
    }
  });

  it('reads rows older versions wrote: missing fields get defaults, flapping fields go to the lifecycle', () => {
    const old = { addresses: ['127.0.0.1'], changes: [{ change: 'leaf-key-changed', severity: 'warning', text: 't', from: null, to: null }], from: 'a', to: 'b', flapping: true, lastSeenToAt: 't2' };
    const { evidence, tracking } = parseDetails('chain-drift', old);
    expect(evidence).toEqual({ kind: 'chain-drift', addresses: ['127.0.0.1'], changes: old.changes, from: 'a', to: 'b', newKeys: [], previousChain: [], chain: [] });
    expect(tracking).toEqual({ flapping: true, lastSeenToAt: 't2' });
    expect(storedDetails({ details: evidence, ...tracking })).toMatchObject({ from: 'a', flapping: true, lastSeenToAt: 't2' });
    const proposal = { file: 'p.json', curl: 'curl', publish: false, service: 'http://s', domain: 'd', pins: ['k'], backups: [], keepBackupsUntil: '2026-07-01' };
    expect(parseEvidence('chain-drift', { ...old, proposal })).toMatchObject({ proposal });
    expect(parseEvidence('expiry', { addresses: [], level: 'expired' })).toMatchObject({ level: 'expired', pinned: false, daysLeft: 0 });
  });

  it('refuses a kind this version does not know (a newer pinctl wrote it) with a hint', () => {
    expect(FINDING_KINDS).toHaveLength(11); // monitor/types.ts FindingKind: nine sweep and bundle kinds, pin-failure-reports, vantage-disagreement
    let err: unknown;
    try {
      parseEvidence('from-the-future', {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe('CONFIG_UNSUPPORTED');
    expect((err as InputError).hint).toMatch(/upgrade pinctl/);
  });
});
