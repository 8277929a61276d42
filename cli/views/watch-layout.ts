/**
 * The --watch table's text, pure: columns sized to the terminal's width (the endpoint and problem
 * columns give way first, every cell truncated with an ellipsis), relative times, and the
 * endpoint's details. The ink component (monitor-watch.tsx) only arranges and colours these.
 */
import { EndpointRow, rowLabel } from '../../monitor/status.js';
import type { EndpointStatus } from '../../monitor/status-page/model.js';
import { relativeTime } from '../../monitor/status-page/relative-time.js';
import { cn } from '../../monitor/findings.js';

/** A table row; the details (chain, pins, findings) are there when the state store was read. */
export type WatchRow = EndpointRow & Partial<Pick<EndpointStatus, 'chain' | 'pins' | 'findings' | 'vantages'>>;

/** Truncates to `width` display cells with an ellipsis; pads to `width` when `pad`. */
export function fit(text: string, width: number, pad = false): string {
  if (width <= 0) return '';
  const chars = [...text];
  if (chars.length > width) return `${chars.slice(0, width - 1).join('')}…`;
  return pad ? text + ' '.repeat(width - chars.length) : text;
}

export interface Column {
  key: 'endpoint' | 'status' | 'up' | 'pins' | 'expiry' | 'changed' | 'problem';
  title: string;
  width: number;
}

const FIXED: Column[] = [
  { key: 'status', title: 'STATUS', width: 9 },
  { key: 'up', title: 'UP', width: 6 },
  { key: 'pins', title: 'PINS', width: 6 },
  { key: 'expiry', title: 'EXPIRY', width: 8 },
  { key: 'changed', title: 'CHANGED', width: 11 },
];

/**
 * Columns for a terminal `width` wide (2 cells go to the selection marker). Narrow terminals lose
 * CHANGED, then UP, before the endpoint column goes under 12 cells; PROBLEM takes what is left.
 */
export function columns(width: number, rows: WatchRow[]): Column[] {
  const avail = Math.max(20, width - 2);
  const longest = Math.max(8, ...rows.map((r) => rowLabel(r).length));
  let fixed = FIXED;
  for (const drop of ['changed', 'up', 'expiry']) {
    if (avail - fixed.reduce((n, c) => n + c.width, 0) >= 12 + 10) break;
    fixed = fixed.filter((c) => c.key !== drop);
  }
  const rest = avail - fixed.reduce((n, c) => n + c.width, 0);
  // The endpoint gets its length, up to 40% of the width and leaving PROBLEM 10 cells, at least 12.
  const endpoint = Math.max(Math.min(12, rest), Math.min(longest + 1, Math.floor(avail * 0.4), rest - 10));
  const problem = rest - endpoint;
  return [
    { key: 'endpoint', title: 'ENDPOINT', width: endpoint },
    ...fixed,
    ...(problem >= 8 ? [{ key: 'problem' as const, title: 'PROBLEM / LAST CHANGE', width: problem }] : []),
  ];
}

/** The worst non-info problem, without the endpoint id its title starts with. */
export function problemText(r: WatchRow): string | null {
  const p = r.problems.find((x) => x.severity !== 'info');
  if (!p) return null;
  return p.title.replace(new RegExp(`^${r.endpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:?\\s*`), '');
}

export function cellText(r: WatchRow, key: Column['key'], now: Date): string {
  switch (key) {
    case 'endpoint':
      return rowLabel(r);
    case 'status':
      return r.status;
    case 'up':
      return `${r.answering}/${r.addresses}`;
    case 'pins':
      return r.pinMatch === null ? '–' : r.pinMatch ? 'match' : 'FAIL';
    case 'expiry':
      return r.daysToExpiry === null ? '–' : `${r.daysToExpiry} d`;
    case 'changed':
      return relativeTime(r.lastChange, now);
    case 'problem':
      return problemText(r) ?? (r.lastChange ? `changed ${relativeTime(r.lastChange, now)}` : '');
  }
}

/** The details of one endpoint (enter): pins, chain with expiry, open findings; lines to fit. */
export function detailLines(r: WatchRow, now: Date): string[] {
  const seen = `last seen ${relativeTime(r.lastSeen, now)}`;
  const lines = [`${rowLabel(r)} · ${r.status} · ${r.answering}/${r.addresses} addresses answering · ${seen}`];
  const verdict = r.pinMatch === false ? 'NO PIN MATCHES' : r.pinMatch ? 'a pin matches' : 'not checked';
  if (r.pins) {
    const from = r.pins.format === 'inline' ? 'inline' : `from ${r.pins.source} (${r.pins.format})`;
    const expires = r.pins.expiration ? `, pin set expires ${r.pins.expiration}` : '';
    lines.push(`pins: ${r.pins.count} ${from}${expires}; ${verdict}`);
  } else lines.push(`pins: ${r.pinMatch === null ? 'none configured' : verdict}`);
  if (r.chain === undefined) lines.push('chain: not read yet');
  else if (r.chain.length === 0) lines.push('chain: none (no address answered)');
  for (const c of r.chain ?? []) {
    const until = `until ${c.notAfter.slice(0, 10)} (${relativeTime(c.notAfter, now)})`;
    lines.push(
      `  ${c.position.padEnd(12)} ${cn(c.subject)} · ${until} · ${c.spkiSha256}${c.pinned ? ' · pinned' : ''}`,
    );
  }
  const findings =
    r.findings ??
    r.problems.map((p) => ({ severity: p.severity, kind: p.kind, title: p.title, openedAt: null as string | null }));
  lines.push(findings.length ? `findings (${findings.length}):` : 'findings: none open');
  for (const f of findings.slice(0, 5)) {
    const opened = f.openedAt ? ` (opened ${relativeTime(f.openedAt, now)})` : '';
    lines.push(`  ${f.severity} ${f.kind}: ${f.title}${opened}`);
  }
  return lines;
}
