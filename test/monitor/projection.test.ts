/**
 * One projection for every rendering: the alert text, the webhook body and the --json finding are
 * made from the same view of a finding, so they say the same thing.
 */
import { describe, expect, it } from 'vitest';
import { renderAlert } from '../../monitor/alerts.js';
import { storedDetails } from '../../monitor/lifecycle.js';
import { findingJson, viewOf } from '../../monitor/projection.js';
import type { StoredFinding } from '../../monitor/types.js';

const cert = (pin: string, sha: string) => ({ position: 'leaf' as const, subject: 'O=x, CN=api.test', issuer: 'CN=ca', spkiSha256: pin, sha256: sha, notAfter: '2027-01-01T00:00:00.000Z' });
const drift: StoredFinding = {
  id: 'f1', key: 'chain-drift|api.test:443|a>b', kind: 'chain-drift', severity: 'warning', endpoint: 'api.test:443', host: 'api.test', port: 443,
  address: '127.0.0.1', title: 'api.test:443 127.0.0.1: leaf-key-changed', explanation: 'the chain changed', action: 'check the pins', signature: 'warning',
  details: {
    kind: 'chain-drift', addresses: ['127.0.0.1'], from: 'old', to: 'new', newKeys: ['P2'], previousChain: [cert('P1', 'old')], chain: [cert('P2', 'new')],
    changes: [{ change: 'leaf-key-changed', severity: 'warning', text: 'leaf key changed: P1 → P2', from: cert('P1', 'old'), to: cert('P2', 'new') }],
    proposal: { file: '/s/p.json', curl: 'curl …', publish: false, service: 'http://svc', domain: 'api.test', pins: ['P2'], backups: ['P1'], keepBackupsUntil: '2026-07-01' },
  },
  openedAt: '2026-06-01T00:00:00.000Z', updatedAt: '2026-06-01T00:00:00.000Z', resolvedAt: null, resolution: null, lastAlertAt: null,
  flapping: true, lastSeenToAt: '2026-06-01T00:00:00.000Z', lastSeenFromAt: '2026-06-01T00:00:00.000Z',
};

describe('finding projection', () => {
  it('the webhook finding and the --json finding carry the same view; the text says what changed and the proposal', () => {
    const v = viewOf(drift);
    const msg = renderAlert(drift, 'new', 'a1', new Date('2026-06-01T00:00:00.000Z'));
    const hook = (msg.webhook as { pinctl: { finding: Record<string, unknown> } }).pinctl.finding;
    const json = findingJson(v);
    for (const k of ['id', 'kind', 'severity', 'endpoint', 'title', 'explanation', 'action', 'openedAt', 'resolvedAt', 'resolution', 'details'] as const) expect(hook[k], k).toEqual(json[k]);
    expect(json.details).toEqual(storedDetails(drift));
    expect(json.details).not.toHaveProperty('kind');
    expect(json.details).toMatchObject({ flapping: true, from: 'old', to: 'new' });
    expect(hook.addresses).toEqual(['127.0.0.1']);
    for (const line of [...v.changed, ...v.proposal]) expect(msg.text).toContain(line);
    expect(v.changed).toContain('      old: "O=x, CN=api.test" pin P1');
    expect(v.proposal[1]).toBe('  publish it with: curl …');
    expect(msg.subject).toBe('[pinctl] WARNING chain-drift api.test:443 127.0.0.1: leaf-key-changed');
  });

  it('a served-bundle finding concerns a URL: its one address, or none, stands for the addresses', () => {
    const f: StoredFinding = {
      ...drift, kind: 'bundle-expiry', address: null, flapping: undefined, lastSeenToAt: undefined, lastSeenFromAt: undefined,
      details: { kind: 'bundle-expiry', url: 'https://pins.example', audience: 'app', version: 3, expiresAt: '2026-06-02T00:00:00.000Z', keysetVersion: 1, uncovered: [], daysLeft: 0 },
    };
    const v = viewOf(f);
    expect(v.addresses).toEqual([]);
    expect(v.changed).toEqual([]);
    expect(renderAlert(f, 'resolved', 'a2', new Date()).text).toContain('Address:   (all)');
  });
});
