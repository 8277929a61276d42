/**
 * Findings about the bundles the signing service serves (pure: checks in, findings out).
 *  - bundle-unavailable: the newest bundle could not be fetched (warning: apps keep their last
 *    good one) or fails verification (critical: every app refuses it and cannot update);
 *  - bundle-expiry: the bundle in force expires within expiryWarningDays (critical at the last
 *    threshold and once expired: apps then fall back to their stale policy, which may unpin).
 */
import type { Finding, Severity } from './types.js';
import type { BundleExpiryEvidence, BundleUnavailableEvidence, ServedBundleFacts } from './evidence.js';
import type { ServedBundleCheck } from './served-bundles.js';

const DAY = 86_400_000;

export function servedBundleFindings(checks: ServedBundleCheck[], now: Date, uncoveredOf: (c: ServedBundleCheck) => string[]): Finding[] {
  const out: Finding[] = [];
  for (const c of checks) {
    const details: ServedBundleFacts = {
      url: c.source.url,
      audience: c.source.audience,
      version: c.version,
      expiresAt: c.expiresAt,
      keysetVersion: c.keysetVersion,
      uncovered: uncoveredOf(c),
    };
    // An expired bundle is the expiry finding's (one problem, one alert).
    if (c.error && c.error.code !== 'BUNDLE_EXPIRED') out.push(unavailable(c, details));
    const expiry = c.expiresAt ? expiring(c, now, details) : null;
    if (expiry) out.push(expiry);
  }
  return out;
}

function base(c: ServedBundleCheck): Pick<Finding, 'endpoint' | 'host' | 'port' | 'address'> {
  const u = new URL(c.source.url);
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return { endpoint: c.source.url, host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port, address: null };
}

function unavailable(c: ServedBundleCheck, details: ServedBundleFacts): Finding {
  const fetch = c.error!.code === 'BUNDLE_FETCH';
  const severity: Severity = fetch ? 'warning' : 'critical';
  const held = c.version !== null ? `version ${c.version} (the last good one) stays in force` : 'no bundle verified yet: apps keep their baseline pins';
  return {
    ...base(c),
    key: `bundle-unavailable|${c.source.url}|${c.source.audience}`,
    kind: 'bundle-unavailable',
    severity,
    title: fetch
      ? `the pins bundle at ${c.source.url} cannot be fetched`
      : `the pins bundle served at ${c.source.url} fails verification (${c.error!.code})`,
    explanation: fetch
      ? `Apps cannot update their pins from this service; ${held}.`
      : `Apps refuse this bundle exactly as the monitor did and keep what they had; ${held}. A bundle that fails ` +
        'verification was altered, signed by a key apps do not trust, or made for another audience.',
    action: fetch
      ? `Check the service answers: curl -sS ${c.source.url}/v1/bundles/pins | head -c 300`
      : `Inspect what is served: curl -sS ${c.source.url}/v1/bundles/pins > served.json && pinctl bundle verify served.json ` +
        `--audience ${c.source.audience} --key KEY.pub.pem; re-publish a bundle signed by the app's keys.`,
    signature: c.error!.code,
    details: { kind: 'bundle-unavailable', ...details, error: c.error!, message: c.error!.message },
  };
}

function expiring(c: ServedBundleCheck, now: Date, details: ServedBundleFacts): Finding | null {
  const left = Date.parse(c.expiresAt!) - now.getTime();
  const warn = c.source.expiryWarningDays;
  const crossed = warn.filter((d) => left <= d * DAY);
  if (left > 0 && crossed.length === 0) return null;
  const threshold = left <= 0 ? 0 : Math.min(...crossed);
  const severity: Severity = left <= 0 || threshold === Math.min(...warn) ? 'critical' : 'warning';
  const when = left <= 0 ? `expired at ${c.expiresAt}` : `expires in ${formatLeft(left)} (${c.expiresAt})`;
  return {
    ...base(c),
    key: `bundle-expiry|${c.source.url}|${c.source.audience}`,
    kind: 'bundle-expiry',
    severity,
    title: `the pins bundle served at ${c.source.url} (version ${c.version}) ${when}`,
    explanation:
      'Apps refuse an expired bundle and fall back to their stale policy: enforce-last-good keeps the old pins for a grace ' +
      'period, fail-open stops pinning. A service that re-signs on a timer never lets this happen; a static copy must be ' +
      're-published by hand.',
    action: `Publish a fresh bundle (pinctl serve re-signs on its own while it runs), or re-run pinctl publish --out for a static copy.`,
    signature: `${threshold}`,
    details: { kind: 'bundle-expiry', ...details, daysLeft: Math.floor(left / DAY) },
  };
}

function formatLeft(ms: number): string {
  if (ms >= DAY) return `${Math.floor(ms / DAY)} day(s)`;
  return `${Math.max(1, Math.round(ms / 3_600_000))} hour(s)`;
}

/**
 * Why an open served-bundle finding that this sweep did not produce again is resolved; null while
 * it cannot be told (no check of its source this sweep, or nothing ever verified).
 */
export function servedBundleResolution(
  endpoint: string,
  d: BundleUnavailableEvidence | BundleExpiryEvidence,
  checks: ServedBundleCheck[] | undefined,
): string | null {
  const check = (checks ?? []).find((c) => c.source.url === endpoint && c.source.audience === d.audience);
  if (!check) return checks ? `${endpoint} is no longer a pinsFrom bundle in the config` : null;
  if (d.kind === 'bundle-unavailable') return check.error ? null : `version ${check.version} is served and verifies`;
  return check.expiresAt ? `version ${check.version} is served, valid until ${check.expiresAt}` : null;
}
