/**
 * `/`: the status page, server-rendered HTML with no script at all (it works with JavaScript off
 * and loads nothing from the network). It refreshes itself every minute with a meta refresh.
 */
import { cn } from '../findings.js';
import type { ChainPosition, EndpointStatus, StatusDocument, TimelineEntry } from './model.js';
import { expiryChart } from './chart.js';
import { escapeHtml as esc } from './escape.js';
import { relativeTime } from './relative-time.js';
import { STYLE } from './style.js';
import { DEFAULT_VANTAGE } from '../vantage.js';

export function renderStatusPage(doc: StatusDocument, title = 'pinctl monitor'): string {
  const now = new Date(doc.generatedAt);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60"><title>${esc(title)}</title><style>${STYLE}</style></head>
<body>
<header><h1>${esc(title)}</h1>${summaryLine(doc, now)}${bundleLine(doc, now)}</header>
<main>
<section id="endpoints"><h2>Endpoints</h2>${endpointsTable(doc, now)}</section>
<section id="expiry"><h2>Certificate expiry</h2>
<p class="legend"><span class="key pinned"></span> key pinned by the app <span class="key"></span> other certificate
<span class="key pinset"></span> pin-set expiration <span class="key overlap"></span> dynamic-pinning overlap window <span class="key now"></span> today</p>
${expiryChart(doc)}</section>
<section id="findings"><h2>Open findings (${doc.findings.length})</h2>${findingsList(doc, now)}</section>
${groupByEndpoint(doc.endpoints).map((rows) => endpointSection(rows, now)).join('\n')}
</main>
<footer>Read-only · <a href="api/status">api/status</a> (JSON) · <a href="metrics">metrics</a> · generated ${esc(doc.generatedAt)}</footer>
</body></html>
`;
}

function summaryLine(doc: StatusDocument, now: Date): string {
  const health = doc.healthy
    ? '<span class="status ok">healthy</span>'
    : '<span class="status critical">problems open</span>';
  const sweep = doc.lastSweep
    ? `last sweep ${timeTag(doc.lastSweep.finishedAt, now)} (${doc.lastSweep.durationMs} ms)`
    : 'no sweep recorded yet';
  // endpoints[] has a row per (endpoint, vantage): count each endpoint once, and the places.
  const count = new Set(doc.endpoints.map((e) => e.endpoint)).size;
  const places = new Set(doc.endpoints.map((e) => e.vantage)).size;
  const vantages = places > 1 ? ` seen from ${places} vantages` : '';
  return `<p class="summary" id="summary">${health} · ${count} endpoint(s)${vantages} · ${sweep}</p>`;
}

function bundleLine(doc: StatusDocument, now: Date): string {
  const b = doc.bundle;
  if (!b) return '';
  if (b.error) return `<p class="bundle" id="bundle">Served pins bundle (${esc(b.url)}): unknown, ${esc(b.error)}</p>`;
  const days = b.expiresAt ? Math.floor((Date.parse(b.expiresAt) - now.getTime()) / 86_400_000) : null;
  const cls = days === null ? '' : days < 0 ? 'critical' : days < 3 ? 'warning' : 'ok';
  const expires = `<time class="${cls}" data-field="expiresAt" datetime="${esc(b.expiresAt)}">${esc(b.expiresAt)}`;
  return (
    `<p class="bundle" id="bundle">Served pins bundle: version <b data-field="version">${esc(b.version)}</b>` +
    ` for ${esc(b.audience)}, expires ${expires} (${esc(relativeTime(b.expiresAt, now))})</time> · ${esc(b.url)}</p>`
  );
}

const POSITIONS = ['leaf', 'intermediate', 'root'] as const;

function endpointsTable(doc: StatusDocument, now: Date): string {
  if (doc.endpoints.length === 0) return '<p class="empty">No endpoint configured.</p>';
  const titles = [
    'Endpoint',
    'Status',
    'Pins',
    ...POSITIONS.map((p) => `${p} expiry`),
    'Addresses (vantages)',
    'Last change',
  ];
  const head = `<tr>${[...titles, 'Worst problem'].map((t) => `<th>${t}</th>`).join('')}</tr>`;
  const rows = doc.endpoints.map((ep) => {
    const pins =
      ep.pinMatch === null
        ? '<td class="muted">–</td>'
        : ep.pinMatch
          ? '<td class="ok">match</td>'
          : '<td class="critical">FAIL</td>';
    const expiry = POSITIONS.map((p) => expiryCell(ep.chain.filter((c) => c.position === p))).join('');
    const vantages = ep.vantages
      .map((v) => {
        const title = esc(v.error ?? v.protocol ?? '');
        return `<span class="${v.ok ? 'ok' : 'critical'}" title="${title}">${esc(v.address || '(dns)')}</span>`;
      })
      .join(' ');
    const problem = ep.problems.find((p) => p.severity !== 'info');
    return (
      `<tr data-endpoint="${esc(ep.endpoint)}"${vantageAttr(ep)}>` +
      `<td><a href="#${anchor(ep.endpoint)}">${esc(ep.endpoint)}</a>${vantageLabel(ep)}</td>` +
      `<td class="status ${esc(ep.status)}" data-field="status">${esc(ep.status)}</td>${pins}${expiry}` +
      `<td>${ep.answering}/${ep.addresses} up ${vantages}</td>` +
      `<td>${ep.lastChange ? timeTag(ep.lastChange, now) : '–'}</td>` +
      `<td class="${problem ? esc(problem.severity) : 'muted'}">${problem ? esc(problem.title) : '–'}</td></tr>`
    );
  });
  return `<table class="endpoints"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

function expiryCell(certs: ChainPosition[]): string {
  if (certs.length === 0) return '<td class="muted">–</td>';
  const days = Math.min(...certs.map((c) => c.daysToExpiry));
  const cls = days < 7 ? 'critical' : days < 30 ? 'warning' : '';
  const title = certs.map((c) => `${cn(c.subject)} until ${c.notAfter}`).join('; ');
  return `<td class="num ${cls}" data-days="${days}" title="${esc(title)}">${days} d</td>`;
}

function findingsList(doc: StatusDocument, now: Date): string {
  if (doc.findings.length === 0) return '<p class="empty">None.</p>';
  const items = doc.findings.map((f) => {
    const alerted = f.lastAlertAt ? `, alerted ${esc(relativeTime(f.lastAlertAt, now))}` : ', not alerted';
    const when = `<span class="muted">opened ${esc(relativeTime(f.openedAt, now))}${alerted}</span>`;
    return `<li class="${esc(f.severity)}"><b>${esc(f.severity)}</b> ${esc(f.kind)}: ${esc(f.title)} ${when}</li>`;
  });
  return `<ul class="findings">${items.join('')}</ul>`;
}

/** The rows of one endpoint together (one per vantage), in the document's order. */
function groupByEndpoint(rows: EndpointStatus[]): EndpointStatus[][] {
  const groups = new Map<string, EndpointStatus[]>();
  for (const r of rows) groups.set(r.endpoint, [...(groups.get(r.endpoint) ?? []), r]);
  return [...groups.values()];
}

/** A named vantage's row is labelled; the default vantage's looks as it always did. */
const named = (ep: EndpointStatus) => ep.vantage !== DEFAULT_VANTAGE;
const vantageAttr = (ep: EndpointStatus) => (named(ep) ? ` data-vantage="${esc(ep.vantage)}"` : '');
const vantageLabel = (ep: EndpointStatus) =>
  named(ep) ? ` <span class="vantage" title="seen from vantage ${esc(ep.vantage)}">${esc(ep.vantage)}</span>` : '';

/** One section per endpoint: its pins, each vantage's chain (labelled when named), one timeline. */
function endpointSection(rows: EndpointStatus[], now: Date): string {
  const ep = rows[0]!;
  const pins = ep.pins
    ? `${ep.pins.count} pin(s) ${ep.pins.format === 'inline' ? 'inline in the config' : `from ${esc(ep.pins.source)} (${esc(ep.pins.format)})`}` +
      (ep.pins.expiration ? `, pin set expires ${esc(ep.pins.expiration)}` : '')
    : 'no pins configured';
  const statuses = rows.map((r) => `<span class="status ${esc(r.status)}">${esc(r.status)}</span>${vantageLabel(r)}`);
  const chains = rows.map((r) => {
    const title = named(r) ? `<h3 class="vantage-chain"${vantageAttr(r)}>Seen from ${esc(r.vantage)}</h3>` : '';
    return `${title}${chainTable(r, now)}`;
  });
  return `<section class="endpoint" id="${anchor(ep.endpoint)}"><h2>${esc(ep.endpoint)} ${statuses.join(' ')}</h2>
<p>${pins}</p>
${chains.join('\n')}
<h3>Timeline</h3>${timelineList(ep.timeline, now)}</section>`;
}

function chainTable(ep: EndpointStatus, now: Date): string {
  const chain = ep.chain.map((c) => {
    const cells = [
      esc(c.position),
      esc(c.subject),
      `<code>${esc(c.spkiSha256)}</code>${c.pinned ? ' <b>pinned</b>' : ''}`,
      `${esc(c.notAfter.slice(0, 10))} (${esc(relativeTime(c.notAfter, now))})`,
      esc(c.addresses.join(', ')),
    ];
    return `<tr class="${c.pinned ? 'pinned' : ''}">${cells.map((x) => `<td>${x}</td>`).join('')}</tr>`;
  });
  const head = ['Position', 'Subject', 'Key (SPKI SHA-256)', 'Not after', 'Served by']
    .map((t) => `<th>${t}</th>`)
    .join('');
  const rows = `<tbody>${chain.join('')}</tbody>`;
  return `<table class="chain"${vantageAttr(ep)}><thead><tr>${head}</tr></thead>${rows}</table>`;
}

function timelineList(entries: TimelineEntry[], now: Date): string {
  if (entries.length === 0) return '<p class="empty">Nothing recorded yet.</p>';
  // Newest first: what changed last is what people come for.
  const items = [...entries].reverse().map((e) => {
    const sev = e.type === 'resolved' ? 'ok' : (e.severity ?? '');
    const what = `<b>${esc(e.type)}</b>${e.kind ? ` ${esc(e.kind)}` : ''}: ${esc(e.summary)}`;
    return `<li class="event ${esc(sev)}" data-type="${esc(e.type)}" data-kind="${esc(e.kind ?? '')}">${timeTag(e.at, now)} ${what}</li>`;
  });
  return `<ol class="timeline">${items.join('')}</ol>`;
}

const anchor = (id: string) => `ep-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;

/** A time as "3 d ago", the exact time in its title (hover) and datetime. */
const timeTag = (iso: string, now: Date) =>
  `<time datetime="${esc(iso)}" title="${esc(iso)}">${esc(relativeTime(iso, now))}</time>`;
