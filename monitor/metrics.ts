/**
 * Prometheus text exposition (format 0.0.4) of the monitor's latest state, and the HTTP server for
 * `GET /metrics` and `GET /healthz`. Names follow blackbox_exporter where the meaning is the same
 * (probe_success, probe_duration_seconds, probe_ssl_earliest_cert_expiry, probe_tls_version_info),
 * so existing dashboards and alert rules keep working; what blackbox cannot see (every position of
 * the chain, pin matching, chain consistency across addresses) is `pinctl_*`.
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { EndpointConfig } from './config.js';
import { byEndpoint as observationsByEndpoint, chainSig, matchPins } from './findings.js';
import { Observation, StoredFinding, Severity } from './types.js';
import type { PageAuth } from './config.js';
import type { BundleInfo } from './status-page/model.js';
import { authorized, challenge } from './status-page/auth.js';
import { CHANNEL_NAMES } from './channels/index.js';

export interface MetricsSnapshot {
  now: Date;
  endpoints: EndpointConfig[];
  observations: Observation[];
  open: StoredFinding[];
  /** counters table: sweeps, alerts_sent{channel}, alerts_failed{channel}. */
  counters: { name: string; label: string; value: number }[];
  pending: Map<string, number>;
  chainChanges: Map<string, number>;
  lastSweep: { finishedAt: string; durationMs: number } | null;
  configReloads?: { ok: number; failed: number };
  /** The signing service's current pins bundle (dynamicPinning.service); absent without one. */
  bundle?: BundleInfo | null;
}

/** Escapes a label value: backslash, double quote and line feed (exposition format spec). */
export const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

class Family {
  readonly samples: string[] = [];
  constructor(
    readonly name: string,
    readonly type: 'gauge' | 'counter',
    readonly help: string,
  ) {}
  add(labels: Record<string, string>, value: number): void {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',');
    this.samples.push(`${this.name}${l ? `{${l}}` : ''} ${formatValue(value)}`);
  }
  render(): string {
    return `# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${this.name} ${this.type}\n${this.samples.map((s) => `${s}\n`).join('')}`;
  }
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(12)));
}

const SEVERITIES: Severity[] = ['info', 'warning', 'critical'];

export function renderMetrics(s: MetricsSnapshot): string {
  const f = {
    success: new Family('probe_success', 'gauge', 'Whether the TLS probe of this address succeeded and its chain validated (1) or not (0).'),
    duration: new Family('probe_duration_seconds', 'gauge', 'How long the last probe of this address took, in seconds.'),
    earliest: new Family('probe_ssl_earliest_cert_expiry', 'gauge', 'Earliest notAfter of the certificates in the served chain, as a Unix timestamp.'),
    tls: new Family('probe_tls_version_info', 'gauge', 'The TLS version negotiated with this address.'),
    notAfter: new Family('pinctl_cert_not_after_timestamp_seconds', 'gauge', 'notAfter of each certificate of the chain (leaf, intermediate, root) as a Unix timestamp.'),
    pinMatch: new Family('pinctl_pin_match', 'gauge', 'Whether a pin the app ships matches the chain this address serves (1) or not (0).'),
    pinsEnforced: new Family('pinctl_pins_enforced', 'gauge', 'Whether the expected pin set is still enforced by apps (0 once its expiration date has passed).'),
    chainLen: new Family('pinctl_chain_length', 'gauge', 'Number of certificates in the validated path, leaf to root.'),
    consistent: new Family('pinctl_chain_consistent', 'gauge', 'Whether every answering address of the endpoint serves the same chain (1) or not (0).'),
    distinct: new Family('pinctl_chain_distinct_chains', 'gauge', 'Number of distinct chains served by the addresses of the endpoint.'),
    changes: new Family('pinctl_chain_changes_total', 'counter', 'Chain changes (drift) detected for the endpoint since the state was created.'),
    open: new Family('pinctl_findings_open', 'gauge', 'Open findings by kind and severity.'),
    sent: new Family('pinctl_alerts_sent_total', 'counter', 'Alerts delivered, by channel.'),
    failed: new Family(
      'pinctl_alerts_failed_total',
      'counter',
      'Failed alert delivery attempts, by channel: retried with backoff, or dead when the receiver refused the message itself.',
    ),
    queued: new Family('pinctl_alerts_queued', 'gauge', 'Alerts waiting for delivery or retry, by channel.'),
    sweeps: new Family('pinctl_sweeps_total', 'counter', 'Sweeps completed since the state was created.'),
    lastSweep: new Family('pinctl_last_sweep_timestamp_seconds', 'gauge', 'When the last sweep finished, as a Unix timestamp.'),
    sweepDuration: new Family('pinctl_sweep_duration_seconds', 'gauge', 'How long the last sweep took, in seconds.'),
    reloads: new Family('pinctl_config_reloads_total', 'counter', 'Configuration reloads (SIGHUP), by result.'),
    bundleUp: new Family('pinctl_bundle_fetch_success', 'gauge', "Whether the signing service's current bundle could be read (1) or not (0)."),
    bundleExpiry: new Family('pinctl_bundle_expiry_timestamp_seconds', 'gauge', "expiresAt of the signing service's current bundle, as a Unix timestamp."),
    bundleVersion: new Family('pinctl_bundle_version', 'gauge', "Version of the signing service's current bundle."),
  };
  const byEndpoint = new Map(s.endpoints.map((e) => [e.id, e]));
  for (const ep of s.endpoints) {
    const obs = observationsByEndpoint(s.observations).get(ep.id) ?? [];
    for (const o of obs) {
      const base = { target: o.endpoint, ip: o.address };
      f.success.add(base, o.error ? 0 : 1);
      f.duration.add(base, o.durationMs / 1000);
      if (o.chain.length === 0) continue;
      f.earliest.add(base, Math.min(...o.chain.map((c) => Date.parse(c.notAfter))) / 1000);
      if (o.protocol) f.tls.add({ ...base, version: o.protocol }, 1);
      f.chainLen.add(base, o.chain.length);
      const seen = new Set<string>();
      for (const c of o.chain) {
        const k = `${c.position}|${c.spkiSha256}`;
        if (seen.has(k)) continue;
        seen.add(k);
        f.notAfter.add({ ...base, position: c.position, spki_sha256: c.spkiSha256 }, Date.parse(c.notAfter) / 1000);
      }
      const e = byEndpoint.get(o.endpoint);
      if (e?.pins) {
        const m = matchPins(e.pins, o.chain, s.now);
        f.pinMatch.add(base, m.pass ? 1 : 0);
        f.pinsEnforced.add(base, m.enforced ? 1 : 0);
      }
    }
    const answering = obs.filter((o) => o.chain.length > 0);
    if (answering.length > 0) {
      const n = new Set(answering.map((o) => chainSig(o.chain))).size;
      f.consistent.add({ target: ep.id }, n === 1 ? 1 : 0);
      f.distinct.add({ target: ep.id }, n);
    }
    f.changes.add({ target: ep.id }, s.chainChanges.get(ep.id) ?? 0);
  }
  const kinds = new Set(s.open.map((x) => x.kind));
  for (const kind of [...kinds].sort()) {
    for (const severity of SEVERITIES) {
      const n = s.open.filter((x) => x.kind === kind && x.severity === severity).length;
      if (n > 0) f.open.add({ kind, severity }, n);
    }
  }
  for (const channel of CHANNEL_NAMES) {
    f.sent.add({ channel }, s.counters.find((c) => c.name === 'alerts_sent' && c.label === channel)?.value ?? 0);
    f.failed.add({ channel }, s.counters.find((c) => c.name === 'alerts_failed' && c.label === channel)?.value ?? 0);
    f.queued.add({ channel }, s.pending.get(channel) ?? 0);
  }
  f.sweeps.add({}, s.counters.find((c) => c.name === 'sweeps')?.value ?? 0);
  if (s.lastSweep) {
    f.lastSweep.add({}, Date.parse(s.lastSweep.finishedAt) / 1000);
    f.sweepDuration.add({}, s.lastSweep.durationMs / 1000);
  }
  if (s.configReloads) {
    f.reloads.add({ result: 'success' }, s.configReloads.ok);
    f.reloads.add({ result: 'failure' }, s.configReloads.failed);
  }
  if (s.bundle) {
    const b = { type: 'pins', service: s.bundle.url };
    f.bundleUp.add(b, s.bundle.error ? 0 : 1);
    if (s.bundle.expiresAt) f.bundleExpiry.add(b, Date.parse(s.bundle.expiresAt) / 1000);
    if (s.bundle.version !== null) f.bundleVersion.add(b, s.bundle.version);
  }
  return Object.values(f)
    .filter((x) => x.samples.length > 0)
    .map((x) => x.render())
    .join('');
}

export interface MetricsServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

export interface MetricsHandlers {
  metrics: () => Promise<string>;
  health: () => Promise<{ ok: boolean; body: Record<string, unknown> }>;
  /** The status page: `/` (HTML) and `/api/status` (JSON), behind `auth` when configured. */
  status?: { json: () => Promise<unknown>; html: () => Promise<string>; auth?: PageAuth };
}

/** The page holds no script and loads nothing: a CSP that says so, and no framing. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

/** `/` and `/api/status`; false when the path is neither. */
function statusRoute(path: string, req: http.IncomingMessage, res: http.ServerResponse, status: MetricsHandlers['status'], fail: (e: unknown) => void): boolean {
  if (!status || (path !== '/' && path !== '/api/status')) return false;
  if (!authorized(status.auth, req.headers)) {
    res.writeHead(401, { 'www-authenticate': challenge(status.auth!), 'content-type': 'text/plain' }).end('unauthorized: the status page needs the credentials of metrics.auth\n');
    return true;
  }
  const head = req.method === 'HEAD';
  if (path === '/api/status') {
    status
      .json()
      .then((doc) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(head ? undefined : `${JSON.stringify(doc)}\n`))
      .catch(fail);
  } else {
    status
      .html()
      .then((page) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...PAGE_HEADERS }).end(head ? undefined : page))
      .catch(fail);
  }
  return true;
}

export function startMetricsServer(listen: { host: string; port: number }, h: MetricsHandlers): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const fail = (e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${String(e)}\n`);
    };
    if (path === '/metrics') {
      h.metrics()
        .then((text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : text))
        .catch(fail);
    } else if (path === '/healthz') {
      h.health()
        .then(({ ok, body }) => res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(req.method === 'HEAD' ? undefined : `${JSON.stringify(body)}\n`))
        .catch(fail);
    } else if (!statusRoute(path, req, res, h.status, fail)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: try ${h.status ? '/, /api/status, ' : ''}/metrics or /healthz\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve({
        host: a.address,
        port: a.port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
