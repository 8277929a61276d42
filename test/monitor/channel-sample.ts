/** A finding written out by hand (not computed by the code under test), for the channel tests. */
import { alertView } from '../../monitor/channels/view.js';
import type { AlertType, StoredFinding } from '../../monitor/types.js';
import { NOW } from './helpers.js';

export const FINDING: StoredFinding = {
  id: 'f-3b1f9c0a2d4e5f60',
  key: 'pin-mismatch|api.pinctl.test:443',
  kind: 'pin-mismatch',
  severity: 'critical',
  endpoint: 'api.pinctl.test:443',
  host: 'api.pinctl.test',
  port: 443,
  address: '127.0.0.1',
  title: 'api.pinctl.test:443 serves no key the app pins',
  explanation:
    'Apps that pin these keys refuse every connection to api.pinctl.test: <all> requests fail & users see errors.',
  action: 'pinctl generate --from https://api.pinctl.test --backup backup.key > pins.json',
  signature: 'sig-1',
  details: {
    kind: 'pin-mismatch',
    addresses: ['127.0.0.1'],
    pins: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', 'CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC='],
    pinsSource: 'inline',
    reasons: ['leaf key changed: no pinned key in the served chain'],
    chain: [
      {
        position: 'leaf',
        subject: 'CN=api.pinctl.test',
        issuer: 'CN=pinctl test intermediate',
        spkiSha256: 'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=',
        sha256: '00'.repeat(32),
        notAfter: '2027-06-01T00:00:00.000Z',
      },
    ],
    previousChain: null,
  },
  openedAt: '2026-05-31T23:00:00.000Z',
  updatedAt: '2026-05-31T23:00:00.000Z',
  resolvedAt: null,
  resolution: null,
  lastAlertAt: null,
};

export const RESOLVED: StoredFinding = {
  ...FINDING,
  resolvedAt: '2026-06-01T00:00:00.000Z',
  resolution: 'the pinned key is served again',
};

export const TYPES: AlertType[] = ['new', 'changed', 'reminder', 'resolved'];

export const viewOf = (type: AlertType, f: StoredFinding = type === 'resolved' ? RESOLVED : FINDING) =>
  alertView(f, type, NOW);
