/**
 * `pinsFrom: { bundle: URL, publicKey, audience }`: the pins apps pull at run time, checked where
 * they come from. Each sweep pulls the bundle the signing service serves with the SDK itself
 * (PinClient: the same verification, keyset rotation, size cap and timeout as in apps), and
 *  - the endpoints that name it are compared with the pins in force in it (the last good bundle,
 *    also when the newest one failed: that is what apps still enforce);
 *  - a served bundle that fails verification, cannot be fetched, or is near its expiry becomes a
 *    finding (monitor/served-bundle-findings.ts), before apps fall back to their stale policy.
 */
import { join } from 'node:path';
import { PinClient } from '../src/sdk/index.js';
import { PinctlError, describeError } from '../src/errors.js';
import type { PinRole } from '../src/core/model.js';
import type { EndpointConfig, ExpectedPins, MonitorConfig } from './config.js';

export interface ServedBundleSource {
  /** Stable id of (url, audience, keys): names the SDK storage directory. */
  id: string;
  /** Service base URL (`/v1/bundles/pins` is appended by the SDK). */
  url: string;
  audience: string;
  /** PEM or base64 Ed25519 public keys, as the app embeds them. */
  keys: string[];
  /** Days before expiresAt at which a finding opens, descending. */
  expiryWarningDays: number[];
}

export interface ServedDomain {
  domain: string;
  includeSubdomains: boolean;
  pins: string[];
}

/** What one sweep learnt of one served bundle. */
export interface ServedBundleCheck {
  source: ServedBundleSource;
  at: string;
  /** The refresh's failure (null: the newest bundle verified, or was unchanged). */
  error: { code: string; message: string } | null;
  /** The bundle in force after the refresh (the last good one when the refresh failed); null: none ever verified. */
  version: number | null;
  expiresAt: string | null;
  keysetVersion: number;
  domains: ServedDomain[] | null;
}

export interface ServedBundleDeps {
  /** The monitor's state directory: each source keeps its last good bundle under `served-bundles/ID`. */
  stateDir: string;
  now: () => Date;
  timeoutMs: number;
}

/** The distinct served bundles the endpoints name. */
export function servedSources(endpoints: EndpointConfig[]): ServedBundleSource[] {
  const out = new Map<string, ServedBundleSource>();
  for (const e of endpoints) if (e.servedBundle) out.set(e.servedBundle.id, e.servedBundle);
  return [...out.values()];
}

/** One PinClient per source, kept across the sweeps of `monitor run` (ETags and rotations carry over). */
export class ServedBundles {
  private readonly clients = new Map<string, PinClient>();

  constructor(private readonly deps: ServedBundleDeps) {}

  async checkAll(sources: ServedBundleSource[]): Promise<ServedBundleCheck[]> {
    return Promise.all(sources.map((s) => this.check(s)));
  }

  async check(source: ServedBundleSource): Promise<ServedBundleCheck> {
    const at = this.deps.now().toISOString();
    let client: PinClient;
    try {
      client = this.client(source);
    } catch (e) {
      return { source, at, error: errorOf(e), version: null, expiresAt: null, keysetVersion: 0, domains: null };
    }
    let error: ServedBundleCheck['error'] = null;
    try {
      await client.refresh();
    } catch (e) {
      error = errorOf(e);
    }
    const status = client.status();
    const config = client.reactNativeConfig();
    const domains = status.pins
      ? Object.entries(config).map(([domain, d]) => ({ domain, includeSubdomains: d.includeSubdomains, pins: d.publicKeyHashes }))
      : null;
    return { source, at, error, version: status.pins?.version ?? null, expiresAt: status.pins?.expiresAt ?? null, keysetVersion: status.keysetVersion, domains };
  }

  private client(source: ServedBundleSource): PinClient {
    let c = this.clients.get(source.id);
    if (!c) {
      c = new PinClient({
        url: source.url,
        publicKeys: source.keys,
        audience: source.audience,
        storageDir: join(this.deps.stateDir, 'served-bundles', source.id),
        timeoutMs: this.deps.timeoutMs,
        now: this.deps.now,
        // The monitor checks the pins devices still hold: an expired bundle stays in force for it
        // (apps' own grace is theirs); its expiry is a finding instead.
        stalePolicy: 'enforce-last-good',
        graceMs: Number.POSITIVE_INFINITY,
      });
      this.clients.set(source.id, c);
    }
    return c;
  }
}

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof PinctlError) return { code: e.code, message: e.message };
  return { code: 'UNEXPECTED', message: describeError(e) };
}

/**
 * The config with each served-bundle endpoint's pins taken from its bundle: the exact entry for
 * the name it connects to, else the nearest parent that includes subdomains. No bundle, or no
 * entry for the name: null (the endpoint's pins are not checked; the check says why).
 */
export function withServedPins(cfg: MonitorConfig, checks: ServedBundleCheck[]): MonitorConfig {
  if (checks.length === 0) return cfg;
  const byId = new Map(checks.map((c) => [c.source.id, c]));
  const endpoints = cfg.endpoints.map((e) => {
    const check = e.servedBundle ? byId.get(e.servedBundle.id) : undefined;
    if (!check) return e;
    return { ...e, pins: expectedFrom(check, e.sni) };
  });
  return { ...cfg, endpoints };
}

export function expectedFrom(check: ServedBundleCheck, host: string): ExpectedPins | null {
  const d = check.domains ? ruleFor(check.domains, host) : undefined;
  if (!d) return null;
  return {
    source: check.source.url,
    format: 'bundle',
    semantics: 'any',
    expiration: null,
    pins: d.pins.map((spkiSha256) => ({ spkiSha256, role: 'backup' as PinRole })),
    ...(d.domain === host ? { includeSubdomains: d.includeSubdomains } : {}),
  };
}

/** SPEC §3.1: the exact domain, else the longest parent whose entry includes subdomains. */
export function ruleFor(domains: ServedDomain[], host: string): ServedDomain | undefined {
  const name = host.toLowerCase();
  const exact = domains.find((d) => d.domain === name);
  if (exact) return exact;
  return domains
    .filter((d) => d.includeSubdomains && name.endsWith(`.${d.domain}`))
    .sort((a, b) => b.domain.length - a.domain.length)[0];
}

/** The endpoints a check's bundle does not pin (shown in reports: their pins are not checked). */
export function uncovered(cfg: MonitorConfig, check: ServedBundleCheck): string[] {
  return cfg.endpoints.filter((e) => e.servedBundle?.id === check.source.id && (!check.domains || !ruleFor(check.domains, e.sni))).map((e) => e.id);
}
