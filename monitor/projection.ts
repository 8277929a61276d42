/**
 * One projection of a finding for every rendering at the edge: every alert channel's payload
 * (monitor/channels/view.ts builds the alert's view from it; each channel renders once, when the
 * alert is queued) and the `--json` documents of `monitor once|status` (cli/commands/monitor.ts).
 * Each rendering picks from the same `FindingView`, built once per finding by `viewOf`, so what an
 * alert says and what --json prints cannot drift apart.
 */
import { cn } from './findings.js';
import type { CertSummary, FindingEvidence, ProposalNote } from './evidence.js';
import { storedDetails } from './lifecycle.js';
import type { FindingKind, Severity, StoredFinding } from './types.js';

export interface FindingView {
  id: string;
  kind: FindingKind;
  severity: Severity;
  endpoint: string;
  host: string;
  port: number;
  address: string | null;
  /** The addresses concerned (the finding's one address when its evidence names none). */
  addresses: string[];
  title: string;
  explanation: string;
  action: string;
  openedAt: string;
  resolvedAt: string | null;
  resolution: string | null;
  /** The evidence as stored and printed (JSON, without `kind`; flapping drifts carry their tracking). */
  details: Record<string, unknown>;
  /** "What changed": old → new pins and subjects, wherever the evidence knows them. */
  changed: string[];
  /** The dynamic-pinning proposal the finding answers: the file and how to publish it. */
  proposal: string[];
}

export function viewOf(f: StoredFinding): FindingView {
  const e = f.details;
  // A served-bundle finding concerns a URL: its one address (none) stands for the addresses.
  const addresses = e.kind === 'bundle-unavailable' || e.kind === 'bundle-expiry' || e.kind === 'pin-failure-reports' ? (f.address ? [f.address] : []) : e.addresses;
  return {
    id: f.id,
    kind: f.kind,
    severity: f.severity,
    endpoint: f.endpoint,
    host: f.host,
    port: f.port,
    address: f.address,
    addresses: addresses.filter(Boolean),
    title: f.title,
    explanation: f.explanation,
    action: f.action,
    openedAt: f.openedAt,
    resolvedAt: f.resolvedAt,
    resolution: f.resolution,
    details: storedDetails(f),
    changed: changedLines(e),
    proposal: e.kind === 'chain-drift' && e.proposal ? proposalLines(e.proposal) : [],
  };
}

function chainLines(label: string, chain: CertSummary[] | null): string[] {
  if (!chain || chain.length === 0) return [];
  return [`  ${label}:`, ...chain.map((c) => `    ${c.position.padEnd(12)} "${cn(c.subject)}"  pin ${c.spkiSha256}${c.notAfter ? `  until ${c.notAfter.slice(0, 10)}` : ''}`)];
}

function changedLines(e: FindingEvidence): string[] {
  switch (e.kind) {
    case 'chain-drift': {
      const lines: string[] = [];
      for (const c of e.changes) {
        lines.push(`  - ${c.text}`);
        if (c.from || c.to) {
          lines.push(`      old: ${c.from ? `"${c.from.subject}" pin ${c.from.spkiSha256}` : '(none)'}`);
          lines.push(`      new: ${c.to ? `"${c.to.subject}" pin ${c.to.spkiSha256}` : '(none)'}`);
        }
      }
      return [...lines, ...chainLines('previous chain', e.previousChain), ...chainLines('new chain', e.chain)];
    }
    case 'pin-mismatch':
      return [
        ...chainLines('previous chain', e.previousChain),
        ...chainLines(e.previousChain ? 'new chain' : 'served chain', e.chain),
        `  pins the app ships (${e.pinsSource}): ${e.pins.join(', ')}`,
        ...e.reasons.map((r) => `  ${r}`),
      ];
    case 'chain-invalid':
      return chainLines('served chain', e.chain);
    case 'expiry':
      return chainLines('certificate', [e.certificate]);
    case 'address-disagreement':
      return e.groups.flatMap((g) => chainLines(`served by ${g.addresses.join(', ')}`, g.chain));
    case 'unreachable':
    case 'bundle-unavailable':
      return [`  ${e.message}`];
    case 'vantage-disagreement':
      return e.vantages.flatMap((v) => v.chains.flatMap((c, i) => chainLines(`${v.vantage} (${v.addresses.join(', ')})${v.chains.length > 1 ? ` #${i + 1}` : ''}`, c)));
    case 'pin-failure-reports':
      return [
        `  reports by type: ${Object.entries(e.types).map(([t, n]) => `${t} ×${n}`).join(', ') || '(none)'}`,
        ...Object.entries(e.failedOn).map(([pins, n]) => `  apps saw pins ${pins} (${n} report(s))`),
      ];
    case 'no-sct':
    case 'bundle-expiry':
      return [];
  }
}

function proposalLines(p: ProposalNote): string[] {
  return [
    `  new pin set${p.domain ? ` for ${p.domain}` : ''} written to ${p.file}: ${p.pins.join(', ')} plus ` +
      `${p.backups.length} backup pin(s) (shipped pins and the old chain's keys) kept until at least ${p.keepBackupsUntil}`,
    p.publish
      ? `  the monitor publishes it to ${p.service}/v1/bundles/pins?merge=1 (that entry replaced, other domains kept; ` +
        `the outcome is in the history); to publish by hand: ${p.curl}`
      : `  publish it with: ${p.curl}`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Renderings.

/** A finding in the `--json` documents of `monitor once` and `monitor status`. */
export function findingJson(v: FindingView) {
  const { id, kind, severity, endpoint, address, title, explanation, action, openedAt, resolvedAt, resolution, details } = v;
  return { id, kind, severity, endpoint, address, title, explanation, action, openedAt, resolvedAt, resolution, details };
}
