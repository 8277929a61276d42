/**
 * The alert projection (AlertView) and the plain text every channel shares: built once per
 * (finding, alert type) when the alert is queued; each channel renders its payload from it.
 */
import { cn } from '../findings.js';
import type { AlertType, StoredFinding } from '../types.js';
import type { AlertView } from './types.js';

const TYPE_WORD: Record<AlertType, string> = {
  new: 'NEW',
  changed: 'CHANGED',
  reminder: 'REMINDER',
  resolved: 'RESOLVED',
};

interface ChainEntry {
  position: string;
  subject: string;
  spkiSha256: string;
  sha256?: string;
  notAfter?: string;
}

function chainLines(label: string, chain: unknown): string[] {
  if (!Array.isArray(chain) || chain.length === 0) return [];
  return [
    `  ${label}:`,
    ...(chain as ChainEntry[]).map(
      (c) =>
        `    ${c.position.padEnd(12)} "${cn(c.subject)}"  pin ${c.spkiSha256}${c.notAfter ? `  until ${c.notAfter.slice(0, 10)}` : ''}`,
    ),
  ];
}

/** The "what changed" block: old → new pins and subjects, wherever the finding knows them. */
function changedLines(f: StoredFinding): string[] {
  const d = f.details;
  const lines: string[] = [];
  if (Array.isArray(d.changes)) {
    for (const c of d.changes as { text: string; from?: ChainEntry | null; to?: ChainEntry | null }[]) {
      lines.push(`  - ${c.text}`);
      if (c.from || c.to) {
        lines.push(`      old: ${c.from ? `"${c.from.subject}" pin ${c.from.spkiSha256}` : '(none)'}`);
        lines.push(`      new: ${c.to ? `"${c.to.subject}" pin ${c.to.spkiSha256}` : '(none)'}`);
      }
    }
  }
  lines.push(...chainLines('previous chain', d.previousChain));
  lines.push(...chainLines(f.kind === 'chain-drift' || d.previousChain ? 'new chain' : 'served chain', d.chain));
  if (Array.isArray(d.pins))
    lines.push(`  pins the app ships (${String(d.pinsSource)}): ${(d.pins as string[]).join(', ')}`);
  if (Array.isArray(d.reasons)) lines.push(...(d.reasons as string[]).map((r) => `  ${r}`));
  if (d.certificate) lines.push(...chainLines('certificate', [d.certificate]));
  if (Array.isArray(d.groups)) {
    for (const g of d.groups as { addresses: string[]; chain: ChainEntry[] }[])
      lines.push(...chainLines(`served by ${g.addresses.join(', ')}`, g.chain));
  }
  if (typeof d.message === 'string') lines.push(`  ${d.message}`);
  return lines;
}

/** The dynamic-pinning proposal attached to a chain-drift finding by the cycle: the file and how to publish it. */
function proposalLines(f: StoredFinding): string[] {
  const p = f.details.proposal as
    | {
        file?: string;
        curl?: string;
        publish?: boolean;
        service?: string;
        domain?: string;
        keepBackupsUntil?: string;
        pins?: string[];
        backups?: string[];
      }
    | undefined;
  if (!p || typeof p.file !== 'string') return [];
  return [
    `  new pin set${p.domain ? ` for ${p.domain}` : ''} written to ${p.file}: ${(p.pins ?? []).join(', ')}` +
      ` plus ${(p.backups ?? []).length} backup pin(s) (shipped pins and the old chain's keys)` +
      ` kept until at least ${p.keepBackupsUntil ?? '?'}`,
    p.publish
      ? `  the monitor publishes it to ${p.service}/v1/bundles/pins?merge=1 (that entry replaced, other domains kept;` +
        ` the outcome is in the history); to publish by hand: ${p.curl}`
      : `  publish it with: ${p.curl}`,
  ];
}

/** The projection every channel renders from. */
export function alertView(f: StoredFinding, type: AlertType, now: Date): AlertView {
  const addresses = ((f.details.addresses as string[] | undefined) ?? (f.address ? [f.address] : [])).filter(Boolean);
  const sev = type === 'resolved' ? 'RESOLVED' : f.severity.toUpperCase();
  const subject =
    `[pinctl] ${type === 'resolved' ? '' : `${sev} `}${type === 'new' ? '' : `${TYPE_WORD[type]}: `}${f.kind} ${f.title}`
      .replace(/\s+/g, ' ')
      .slice(0, 200);
  return {
    type,
    at: now.toISOString(),
    finding: f,
    addresses,
    subject,
    changed: changedLines(f),
    proposal: proposalLines(f),
  };
}

/** The plain-text message (the email body; other channels' fallback). */
export function alertText(v: AlertView, alertId: string): string {
  const { finding: f, type } = v;
  return [
    type === 'resolved' ? `Resolved: ${f.title}` : f.title,
    '',
    `Endpoint:  ${f.endpoint}`,
    `Address:   ${v.addresses.join(', ') || '(all)'}`,
    `Problem:   ${f.kind}, severity ${f.severity}, open since ${f.openedAt}`,
    ...(type === 'resolved' ? [`Resolved:  ${f.resolvedAt ?? v.at}: ${f.resolution ?? 'cleared'}`] : []),
    ...(type === 'reminder' ? [`Reminder:  still open at ${v.at}`] : []),
    '',
    'What it means',
    `  ${f.explanation}`,
    ...(v.changed.length ? ['', 'What changed', ...v.changed] : []),
    ...(type === 'resolved' ? [] : ['', 'What to do', `  ${f.action}`]),
    ...(type === 'resolved' || v.proposal.length === 0 ? [] : ['', 'Proposed pins (dynamicPinning)', ...v.proposal]),
    '',
    `-- pinctl monitor · finding ${f.id} · alert ${alertId}`,
  ].join('\n');
}

/** The test-alert text every channel sends. */
export const testText = (file: string, at: string, channel: string) =>
  `This is a test message from pinctl monitor (${file}), sent at ${at} through the ${channel} channel.\n` +
  'Nothing is wrong: real alerts look like this one and say what to do.';
