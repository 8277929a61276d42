/**
 * `vantage-disagreement`, pure: from the recent observations of one state's vantages (each
 * monitor's latest view, monitor/vantage.ts) to the endpoints whose name leads to different keys
 * depending on where it is reached from — geo-DNS, a CDN or regional load balancers serving
 * another certificate in one region. Apps in that region fail on pins a test from elsewhere passes.
 */
import { createHash } from 'node:crypto';
import type { EndpointConfig } from './config.js';
import { chainSummary, checkCommand, cn } from './findings.js';
import type { CertRecord, Finding, Observation, StoredFinding } from './types.js';
import { vantageOf } from './vantage.js';

export interface VantageInput {
  endpoints: EndpointConfig[];
  /** Every vantage's observations (this sweep's, other monitors' latest); those older than `windowMs` are ignored. */
  observations: Observation[];
  now: Date;
  windowMs: number;
}

/** What one vantage sees of one endpoint. */
export interface VantageView {
  vantage: string;
  /** The newest observation time of this view. */
  at: string;
  addresses: string[];
  /** Distinct leaf SPKI pins, sorted. */
  leafKeys: string[];
  /** Distinct chains by their keys (leaf → root SPKI pins joined by ","), sorted. */
  chainKeys: string[];
  chains: CertRecord[][];
}

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);
const keySig = (chain: CertRecord[]) => chain.map((c) => c.spkiSha256).join(',');
const sorted = (list: string[]) => [...new Set(list)].sort();

/** Observations with a chain, not older than the window: by endpoint, then by vantage. */
export function recentViews(observations: Observation[], now: Date, windowMs: number): Map<string, VantageView[]> {
  const since = now.getTime() - windowMs;
  const byEndpoint = new Map<string, Map<string, Observation[]>>();
  for (const o of observations) {
    if (o.chain.length === 0 || Date.parse(o.at) < since) continue;
    const views = byEndpoint.get(o.endpoint) ?? new Map<string, Observation[]>();
    byEndpoint.set(o.endpoint, views);
    const list = views.get(vantageOf(o)) ?? [];
    views.set(vantageOf(o), list);
    list.push(o);
  }
  const out = new Map<string, VantageView[]>();
  for (const [endpoint, views] of byEndpoint) {
    const list = [...views].map(([vantage, obs]) => {
      const chains = new Map(obs.map((o) => [keySig(o.chain), o.chain]));
      return {
        vantage,
        at: obs.map((o) => o.at).sort().at(-1)!,
        addresses: obs.map((o) => o.address),
        leafKeys: sorted(obs.map((o) => o.chain[0]!.spkiSha256)),
        chainKeys: [...chains.keys()].sort(),
        chains: [...chains.values()],
      };
    });
    out.set(endpoint, list.sort((a, b) => (a.vantage < b.vantage ? -1 : 1)));
  }
  return out;
}

export function vantageDisagreement(input: VantageInput): Finding[] {
  const views = recentViews(input.observations, input.now, input.windowMs);
  const out: Finding[] = [];
  for (const ep of input.endpoints) {
    const list = views.get(ep.id) ?? [];
    if (list.length < 2) continue;
    const leafDiffer = new Set(list.map((v) => v.leafKeys.join(' '))).size > 1;
    if (!leafDiffer && new Set(list.map((v) => v.chainKeys.join(' '))).size === 1) continue;
    out.push(finding(ep, list, leafDiffer, input.windowMs));
  }
  return out;
}

function finding(ep: EndpointConfig, list: VantageView[], leafDiffer: boolean, windowMs: number): Finding {
  const what = leafDiffer ? 'leaf keys' : 'chains (CA keys)';
  const line = (c: CertRecord[]) => c.map((x) => `${x.position} "${cn(x.subject)}" pin ${x.spkiSha256}`).join(' → ');
  const seen = (v: VantageView) => `${v.vantage} (${v.addresses.join(', ')}) sees ${v.chains.map(line).join(' | ')}`;
  const leafs = (v: VantageView) => `${v.vantage}: leaf pin ${v.leafKeys.map((k) => `${k.slice(0, 8)}…`).join(', ')}`;
  const check = (v: VantageView) => `${v.vantage}: ${checkCommand({ ...ep, addresses: v.addresses })}`;
  return {
    key: `vantage-disagreement|${ep.id}`,
    kind: 'vantage-disagreement',
    severity: 'warning',
    endpoint: ep.id,
    host: ep.host,
    port: ep.port,
    address: null,
    title: `${ep.id}: ${list.length} vantages see different ${what} (${list.map(leafs).join('; ')})`,
    explanation:
      `Monitors in different places reach ${ep.sni} and are served different ${what}: ${list.map(seen).join('; ')}. ` +
      'Routing by region (geo-DNS, a CDN, regional load balancers) sends each user to one of these servers: ' +
      'a shipped pin set that lacks a key of any of these chains makes the app fail for users in that region only, ' +
      'while every test from elsewhere passes.',
    action:
      "make sure every shipped pin set holds a key of each region's chain, checking from each place " +
      `(${list.map(check).join('; ')}), ` +
      'or finish the rollout so that every region serves the same key',
    signature: `warning:${short(sorted(list.map((v) => v.chainKeys.join(' '))).join('|'))}`,
    details: {
      kind: 'vantage-disagreement',
      addresses: sorted(list.flatMap((v) => v.addresses)),
      windowMs,
      vantages: list.map((v) => ({
        vantage: v.vantage,
        at: v.at,
        addresses: v.addresses,
        leafKeys: v.leafKeys,
        chains: v.chains.map(chainSummary),
      })),
    },
  };
}

/**
 * Why an open vantage-disagreement that this decision did not produce is over, or null to keep it
 * open: with `observations` (every vantage's recent ones of the endpoint) nothing to compare yet.
 */
export function vantageResolution(f: StoredFinding, observations: Observation[], now: Date, windowMs: number): string | null {
  const views = recentViews(observations, now, windowMs).get(f.endpoint) ?? [];
  if (views.length === 0) return null; // no vantage answered with a chain: unknown
  const minutes = Math.round(windowMs / 60_000);
  const only = views[0]!.vantage;
  if (views.length === 1) return `only ${only} has seen ${f.endpoint} answer within the last ${minutes} min: nothing left to compare`;
  return `every vantage (${views.map((v) => v.vantage).join(', ')}) sees the same keys again`;
}
