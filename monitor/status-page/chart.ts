/**
 * The expiry chart: every certificate the endpoints serve on one time axis (pinned keys stand
 * out), the pin-set expirations and the dynamic-pinning overlap windows marked, and today. A
 * server-rendered inline SVG: no script, no library, readable with JavaScript off.
 */
import { cn } from '../findings.js';
import type { StatusDocument } from './model.js';
import { escapeHtml as esc } from './escape.js';

const WIDTH = 1000;
const LABEL = 330;
const ROW = 20;
const TOP = 34;
const BOTTOM = 26;

interface Bar {
  label: string;
  position: string;
  spki: string;
  sha256: string;
  notBefore: number;
  notAfter: number;
  pinned: boolean;
  endpoints: string[];
}

function bars(doc: StatusDocument): Bar[] {
  const out = new Map<string, Bar>();
  for (const ep of doc.endpoints) {
    for (const c of ep.chain) {
      const b = out.get(c.sha256);
      if (b) {
        b.pinned ||= c.pinned;
        if (!b.endpoints.includes(ep.endpoint)) b.endpoints.push(ep.endpoint);
        continue;
      }
      out.set(c.sha256, {
        label: `${c.position} ${cn(c.subject)}`,
        position: c.position,
        spki: c.spkiSha256,
        sha256: c.sha256,
        notBefore: Date.parse(c.notBefore),
        notAfter: Date.parse(c.notAfter),
        pinned: c.pinned,
        endpoints: [ep.endpoint],
      });
    }
  }
  return [...out.values()].sort((a, b) => a.notAfter - b.notAfter);
}

export function expiryChart(doc: StatusDocument): string {
  const list = bars(doc);
  if (list.length === 0)
    return '<p class="empty">No certificate seen yet: the chart appears after the first sweep that reaches an endpoint.</p>';
  const now = Date.parse(doc.generatedAt);
  const marks = [
    ...doc.pinSetExpirations.map((p) => Date.parse(`${p.expiration}T00:00:00Z`)),
    ...doc.overlaps.flatMap((o) => [Date.parse(o.from), Date.parse(o.until)]),
  ];
  const t0 = Math.min(now, ...list.map((b) => b.notBefore), ...marks);
  const t1 = Math.max(now, ...list.map((b) => b.notAfter), ...marks);
  const height = TOP + list.length * ROW + BOTTOM;
  const x = (t: number) => LABEL + ((t - t0) / Math.max(1, t1 - t0)) * (WIDTH - LABEL - 10);
  const parts: string[] = [];
  parts.push(...yearTicks(t0, t1, x, height));
  for (const o of doc.overlaps) {
    const a = x(Date.parse(o.from));
    // At least 5 px: a 30-day window on a 25-year axis must still be seen.
    const w = Math.max(5, x(Date.parse(o.until)) - a);
    parts.push(
      `<g class="overlap" data-kind="overlap" data-domain="${esc(o.domain)}"` +
        ` data-from="${esc(o.from)}" data-until="${esc(o.until)}">` +
        `<rect x="${a.toFixed(1)}" y="${TOP - 4}" width="${w.toFixed(1)}" height="${list.length * ROW + 4}"/>` +
        `<text x="${(a + w + 3).toFixed(1)}" y="${TOP - 6}">overlap ${esc(o.domain)} until ${esc(o.until.slice(0, 10))}</text>` +
        `<title>overlap window for ${esc(o.domain)}: old keys kept as backups ` +
        `${esc(o.from.slice(0, 10))} → ${esc(o.until.slice(0, 10))}</title></g>`,
    );
  }
  list.forEach((b, i) => parts.push(bar(b, i, x, now)));
  for (const p of doc.pinSetExpirations) {
    const px = x(Date.parse(`${p.expiration}T00:00:00Z`)).toFixed(1);
    parts.push(
      `<g class="pinset" data-kind="pin-set-expiration" data-endpoint="${esc(p.endpoint)}"` +
        ` data-expiration="${esc(p.expiration)}">` +
        `<line x1="${px}" x2="${px}" y1="${TOP - 14}" y2="${height - BOTTOM}"/>` +
        `<text x="${px}" y="${TOP - 18}">pin set ${esc(p.expiration)}</text>` +
        `<title>pin-set expiration of ${esc(p.endpoint)} (${esc(p.source)}): apps stop enforcing these pins after it</title></g>`,
    );
  }
  const nx = x(now).toFixed(1);
  parts.push(
    `<g class="now" data-kind="now"><line x1="${nx}" x2="${nx}" y1="${TOP - 6}" y2="${height - BOTTOM}"/>` +
      `<text x="${nx}" y="${height - 4}">today</text></g>`,
  );
  const size = `viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}"`;
  return `<svg class="expiry-chart" role="img" aria-label="Expiry of every certificate served" ${size}>${parts.join('')}</svg>`;
}

function bar(b: Bar, i: number, x: (t: number) => number, now: number): string {
  const y = TOP + i * ROW;
  const a = x(b.notBefore);
  const w = Math.max(2, x(b.notAfter) - a);
  const days = Math.floor((b.notAfter - now) / 86_400_000);
  const cls = `cert ${b.position}${b.pinned ? ' pinned' : ''}${days < 0 ? ' expired' : days < 30 ? ' soon' : ''}`;
  // The label column holds ~46 characters (pinned ones are bold and carry a suffix).
  const room = b.pinned ? 32 : 46;
  const label = b.label.length > room ? `${b.label.slice(0, room - 1)}…` : b.label;
  return (
    `<g class="${cls}" data-kind="cert" data-position="${esc(b.position)}" data-spki="${esc(b.spki)}"` +
    ` data-not-after="${new Date(b.notAfter).toISOString()}" data-pinned="${b.pinned}">` +
    `<text class="label" x="4" y="${y + 14}">${esc(label)}${b.pinned ? ' · pinned' : ''}</text>` +
    `<rect x="${a.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" rx="3"/>` +
    `<title>${esc(b.label)} · key ${esc(b.spki)}${b.pinned ? ' (pinned)' : ''}` +
    ` · until ${new Date(b.notAfter).toISOString().slice(0, 10)} (${days} d) · ${esc(b.endpoints.join(', '))}</title></g>`
  );
}

function yearTicks(t0: number, t1: number, x: (t: number) => number, height: number): string[] {
  const first = new Date(t0).getUTCFullYear() + 1;
  const last = new Date(t1).getUTCFullYear();
  const step = Math.max(1, Math.ceil((last - first + 1) / 14));
  const out: string[] = [];
  for (let y = first; y <= last; y += step) {
    const px = x(Date.UTC(y, 0, 1)).toFixed(1);
    out.push(
      `<g class="tick"><line x1="${px}" x2="${px}" y1="${TOP - 6}" y2="${height - BOTTOM}"/><text x="${px}" y="${height - 14}">${y}</text></g>`,
    );
  }
  return out;
}
