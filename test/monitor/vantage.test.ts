/**
 * Vantages, pure: the name's one parser, findings named after a named vantage, and the
 * vantage-disagreement diff with its resolution (real fixture chains; pins cross-checked with openssl).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../monitor/config.js';
import { reconcile } from '../../monitor/findings.js';
import { EndpointConfig } from '../../monitor/config.js';
import { certRecord } from '../../monitor/sweep.js';
import { CertRecord, Finding, Observation } from '../../monitor/types.js';
import { DEFAULT_VANTAGE, parseVantageName, qualify } from '../../monitor/vantage.js';
import { vantageDisagreement, vantageResolution } from '../../monitor/vantage-findings.js';
import { buildChain } from '../../src/core/chain.js';
import { parseInput } from '../../src/core/input.js';
import { makeTrustStore } from '../../src/core/trust-store.js';
import { NOW, opensslPin, readPki } from '../helpers/fixtures.js';
import { tempDir } from './helpers.js';

const roots = makeTrustStore(parseInput(readPki('root.pem'), 'root.pem').map((i) => i.cert!), 'root.pem');
function records(file: string): CertRecord[] {
  const certs = parseInput(readPki(file), file).flatMap((i) => (i.cert ? [i.cert] : []));
  return buildChain(certs, roots, { now: NOW, hostname: 'api.pinctl.test' }).entries.map((e) => certRecord(e.cert, e.position, e.source));
}
const A = records('chain.pem');
const NEWKEY = records('chain-new-key.pem');
const INT2 = records('chain-intermediate2.pem');

const ep: EndpointConfig = {
  id: 'api.pinctl.test:443', host: 'api.pinctl.test', port: 443, sni: 'api.pinctl.test', addresses: null,
  caFile: null, caFileAsWritten: null, pins: null, expiryWarningDays: [30, 14, 7],
};
const MIN = 60_000;
const seen = (vantage: string, chain: CertRecord[], address: string, agoMs = 0): Observation => ({
  endpoint: ep.id, host: ep.host, port: 443, sni: ep.sni, address, at: new Date(NOW.getTime() - agoMs).toISOString(), durationMs: 1,
  attempts: 1, protocol: chain.length ? 'TLSv1.3' : null, chain, trusted: chain.length > 0, anchor: 'system', problems: [],
  error: chain.length ? null : { reason: 'refused', code: 'REFUSED', message: 'refused' }, vantage,
});
const diff = (observations: Observation[]) => vantageDisagreement({ endpoints: [ep], observations, now: NOW, windowMs: 10 * MIN });

describe('vantage name', () => {
  it('one parser: short, a-z 0-9 and "-"; the config defaults to the default vantage and names a bad one', () => {
    for (const ok of ['eu', 'us-east-1', 'a', '0', 'x'.repeat(32)]) expect(parseVantageName(ok)).toBe(ok);
    for (const bad of ['EU', 'eu_west', '-eu', 'eu-', '', 'x'.repeat(33), 'eu west', 3, null]) expect(parseVantageName(bad)).toBeNull();
    const yaml = (extra: string) => `schedule: "* * * * *"\n${extra}endpoints:\n  - host: api.pinctl.test\n`;
    const opts = { cwd: tempDir(), env: {}, now: NOW };
    expect(parseConfig(yaml(''), 'm.yaml', opts).vantage).toBe(DEFAULT_VANTAGE);
    expect(parseConfig(yaml('vantage: eu-west\nvantageWindow: 10m\n'), 'm.yaml', opts)).toMatchObject({ vantage: 'eu-west', vantageWindowMs: 600_000 });
    expect(() => parseConfig(yaml('vantage: "EU West"\n'), 'm.yaml', opts)).toThrow(/vantage: expected a vantage name: 1 to 32 characters a-z, 0-9 and "-".*found "EU West"/);
    expect(() => parseConfig(yaml('vantage: eu\nvantageWindow: soon\n'), 'm.yaml', opts)).toThrow(/vantageWindow: expected a duration/);
  });

  it('a named vantage carries its name in the key and title of its findings; the default vantage changes nothing', () => {
    const f = { key: 'pin-mismatch|api.pinctl.test:443', title: 'api.pinctl.test:443 127.0.0.1: no shipped pin matches' } as Finding;
    expect(qualify(f, DEFAULT_VANTAGE)).toBe(f);
    expect(qualify(f, 'eu')).toMatchObject({ key: 'pin-mismatch|api.pinctl.test:443|vantage=eu', title: '[eu] api.pinctl.test:443 127.0.0.1: no shipped pin matches', vantage: 'eu' });
  });
});

describe('vantage-disagreement', () => {
  it('two vantages served different leaf keys for one name: one warning listing each vantage with its keys and addresses', () => {
    const found = diff([seen('eu', A, '10.0.0.1'), seen('us', NEWKEY, '10.0.1.1', 3 * MIN), seen('us', NEWKEY, '10.0.1.2', 3 * MIN)]);
    expect(found).toHaveLength(1);
    const f = found[0]!;
    const [oldLeaf, newLeaf] = [opensslPin('leaf.pem'), opensslPin('leaf-new-key.key')];
    expect(f).toMatchObject({ key: `vantage-disagreement|${ep.id}`, kind: 'vantage-disagreement', severity: 'warning', address: null, endpoint: ep.id });
    expect(f.vantage).toBeUndefined(); // state-wide: no vantage owns it
    expect(f.details).toMatchObject({
      vantages: [
        { vantage: 'eu', addresses: ['10.0.0.1'], leafKeys: [oldLeaf] },
        { vantage: 'us', addresses: ['10.0.1.1', '10.0.1.2'], leafKeys: [newLeaf] },
      ],
    });
    expect(f.title).toContain('2 vantages see different leaf keys');
    expect(f.explanation).toContain(`eu (10.0.0.1) sees leaf "api.pinctl.test" pin ${oldLeaf}`);
    expect(f.explanation).toContain(`us (10.0.1.1, 10.0.1.2) sees leaf "api.pinctl.test" pin ${newLeaf}`);
    expect(f.explanation).toMatch(/fail for users in that region only/);
    expect(f.action).toContain('pinctl check <your pins file> --resolve api.pinctl.test:443:10.0.1.1,10.0.1.2');
  });

  it('the same leaf key under another intermediate is a disagreement of chains; agreeing vantages, one vantage, or a stale one are none', () => {
    expect(INT2[0]!.spkiSha256).toBe(A[0]!.spkiSha256);
    const chains = diff([seen('eu', A, '10.0.0.1'), seen('us', INT2, '10.0.1.1')]);
    expect(chains.map((f) => f.title)).toEqual([expect.stringContaining('see different chains (CA keys)')]);
    expect(diff([seen('eu', A, '10.0.0.1'), seen('us', A, '10.0.1.1'), seen('ap', A, '10.0.2.1')])).toEqual([]);
    expect(diff([seen('eu', A, '10.0.0.1'), seen('eu', NEWKEY, '10.0.0.2')])).toEqual([]); // one vantage: address-disagreement's business
    expect(diff([seen('eu', A, '10.0.0.1'), seen('us', NEWKEY, '10.0.1.1', 11 * MIN)])).toEqual([]);
    expect(diff([seen('eu', A, '10.0.0.1'), seen('us', [], '10.0.1.1')])).toEqual([]); // no chain: nothing to compare
  });

  it('a change in what the vantages see re-alerts; the finding resolves when they agree again, and stays open while unknown', () => {
    const first = diff([seen('eu', A, '10.0.0.1'), seen('us', NEWKEY, '10.0.1.1')])[0]!;
    expect(diff([seen('eu', A, '10.0.0.2'), seen('us', NEWKEY, '10.0.1.1')])[0]!.signature).toBe(first.signature);
    expect(diff([seen('eu', A, '10.0.0.1'), seen('us', INT2, '10.0.1.1')])[0]!.signature).not.toBe(first.signature);

    const opened = reconcile({ open: [], found: [first], current: [], endpoints: [ep], now: NOW, driftWindowMs: 86_400_000, reminderMs: 86_400_000, minSeverity: 'warning' });
    expect(opened.alerts).toEqual([{ findingId: opened.opened[0]!.id, type: 'new' }]);
    const open = opened.opened;
    const later = (current: Observation[]) =>
      reconcile({ open, found: diff(current), current, endpoints: [ep], now: NOW, driftWindowMs: 86_400_000, reminderMs: 86_400_000, minSeverity: 'warning', vantageWindowMs: 10 * MIN });
    expect(later([seen('eu', A, '10.0.0.1'), seen('us', NEWKEY, '10.0.1.1')]).resolved).toEqual([]);
    const agree = later([seen('eu', A, '10.0.0.1'), seen('us', A, '10.0.1.1')]);
    expect(agree.resolved.map((r) => r.resolution)).toEqual(['every vantage (eu, us) sees the same keys again']);
    expect(agree.alerts).toEqual([{ findingId: open[0]!.id, type: 'resolved' }]);
    expect(later([seen('eu', [], '10.0.0.1')]).resolved).toEqual([]); // nobody answered: unknown, stays open
    expect(vantageResolution(open[0]!, [seen('eu', A, '10.0.0.1'), seen('us', NEWKEY, '10.0.1.1', 20 * MIN)], NOW, 10 * MIN)).toBe(
      `only eu has seen ${ep.id} answer within the last 10 min: nothing left to compare`,
    );
  });
});
