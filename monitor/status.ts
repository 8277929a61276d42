/** Per-endpoint summary rows, shared by `monitor status`, the `--watch` table and log lines. */
import { EndpointConfig } from './config.js';
import { chainSig, matchPins } from './findings.js';
import { Observation, Severity, StoredFinding, maxSeverity } from './types.js';

export interface EndpointRow {
  endpoint: string;
  /** ok, or the worst open finding's severity; 'unknown' before the first sweep. */
  status: 'ok' | Severity | 'unknown';
  addresses: number;
  answering: number;
  /** null when no endpoint address has pins configured or no chain was seen. */
  pinMatch: boolean | null;
  /** Days until the earliest notAfter of any served chain. */
  daysToExpiry: number | null;
  distinctChains: number;
  lastSeen: string | null;
  lastChange: string | null;
  /** Titles of open findings, worst first. */
  problems: { severity: Severity; kind: string; title: string }[];
}

const RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

export function endpointRows(endpoints: EndpointConfig[], observations: Observation[], open: StoredFinding[], lastChanges: Map<string, string>, now: Date): EndpointRow[] {
  return endpoints.map((ep) => {
    const obs = observations.filter((o) => o.endpoint === ep.id);
    const answering = obs.filter((o) => o.chain.length > 0);
    const findings = open.filter((f) => f.endpoint === ep.id).sort((a, b) => RANK[a.severity] - RANK[b.severity]);
    const notAfters = answering.flatMap((o) => o.chain.map((c) => Date.parse(c.notAfter)));
    const significant = findings.filter((f) => f.severity !== 'info');
    return {
      endpoint: ep.id,
      status: obs.length === 0 ? 'unknown' : significant.length ? maxSeverity(significant.map((f) => f.severity)) : 'ok',
      addresses: obs.length,
      answering: answering.length,
      pinMatch: ep.pins && answering.length ? answering.every((o) => matchPins(ep.pins!, o.chain, now).pass) : null,
      daysToExpiry: notAfters.length ? Math.floor((Math.min(...notAfters) - now.getTime()) / 86_400_000) : null,
      distinctChains: new Set(answering.map((o) => chainSig(o.chain))).size,
      lastSeen: obs.length ? obs.map((o) => o.at).sort().at(-1)! : null,
      lastChange: lastChanges.get(ep.id) ?? null,
      problems: findings.map((f) => ({ severity: f.severity, kind: f.kind, title: f.title })),
    };
  });
}
