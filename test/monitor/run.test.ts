/**
 * `monitor run`: the scheduler, /metrics (checked against the exposition format and promtool's
 * lint rules, since promtool is not installed here), /healthz, webhooks from the long-running
 * monitor, and SIGHUP reload that keeps the running config when the new one is invalid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin, readPki } from '../helpers/fixtures.js';
import { startRunner } from '../../monitor/runner.js';
import { renderMetrics, escapeLabel } from '../../monitor/metrics.js';
import { runCommand } from '../../cli/commands/monitor.js';
import { CliIO } from '../../cli/io.js';
import { noNetworkResolver } from '../helpers/cli.js';
import { NOW, pkiFile, tempDir, webhookReceiver, WebhookReceiver, writeConfig } from './helpers.js';

let server: Running & { server: import('node:tls').Server };
let hook: WebhookReceiver;
beforeAll(async () => {
  server = await tlsServer('chain.pem', 'leaf.key');
  hook = await webhookReceiver();
});
afterAll(async () => {
  await server.close();
  await hook.close();
});

function config(dir: string, extraEndpoint = ''): string {
  return writeConfig(
    dir,
    `schedule: "0 0 1 1 *"
state: ./state
metrics: { listen: "127.0.0.1:0" }
alerts:
  webhook: { url: "${hook.url}" }
endpoints:
  - host: api.pinctl.test
    port: ${server.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('intermediate.pem')}", "${opensslPin('backup.key')}"]
${extraEndpoint}`,
  );
}

/**
 * The text exposition format (0.0.4) and promtool's `check metrics` lint rules: HELP and TYPE once
 * per family and before its samples, samples of a family together, valid names, label names and
 * escaped values, no duplicate series, parsable values, counters ending in _total and no other
 * type doing so, names in snake_case.
 */
export function checkExposition(text: string): string[] {
  const problems: string[] = [];
  if (!text.endsWith('\n')) problems.push('does not end with a newline');
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const families = new Map<string, { type?: string; help?: string; samples: number; closed: boolean }>();
  const series = new Set<string>();
  let current: string | null = null;
  const lines = text.split('\n').slice(0, -1);
  for (const [i, line] of lines.entries()) {
    const at = `line ${i + 1}`;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name!)) problems.push(`${at}: bad metric name ${name}`);
      const f = families.get(name!) ?? { samples: 0, closed: false };
      if (f.closed || f.samples > 0) problems.push(`${at}: ${kind} for ${name} after its samples or a second time`);
      if (kind === 'HELP') {
        if (f.help !== undefined) problems.push(`${at}: second HELP for ${name}`);
        f.help = rest ?? '';
      } else {
        if (f.type !== undefined) problems.push(`${at}: second TYPE for ${name}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest ?? '')) problems.push(`${at}: bad type ${rest}`);
        f.type = rest;
      }
      if (current && current !== name) families.get(current)!.closed = true;
      current = name!;
      families.set(name!, f);
      continue;
    }
    if (line.startsWith('#') || line === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) {
      problems.push(`${at}: not a sample: ${line}`);
      continue;
    }
    const [, name, labelText, value] = m;
    const f = families.get(name!);
    if (!f) problems.push(`${at}: sample of ${name} without HELP/TYPE`);
    else if (f.closed) problems.push(`${at}: samples of ${name} are not together`);
    else f.samples++;
    if (current !== name) {
      if (current) families.get(current)!.closed = true;
      current = name!;
    }
    const labels: string[] = [];
    if (labelText) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
      let pos = 0;
      while (pos < labelText.length) {
        re.lastIndex = pos;
        const l = re.exec(labelText);
        if (!l) {
          problems.push(`${at}: bad label syntax at "${labelText.slice(pos)}"`);
          break;
        }
        if (l[1]!.startsWith('__')) problems.push(`${at}: reserved label name ${l[1]}`);
        if (labels.some((x) => x.startsWith(`${l[1]}=`))) problems.push(`${at}: duplicate label ${l[1]}`);
        labels.push(`${l[1]}=${l[2]}`);
        pos = re.lastIndex;
      }
    }
    if (!/^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)|NaN|[+-]Inf)$/.test(value!)) problems.push(`${at}: bad value ${value}`);
    const key = `${name}{${labels.sort().join(',')}}`;
    if (series.has(key)) problems.push(`${at}: duplicate series ${key}`);
    series.add(key);
  }
  for (const [name, f] of families) {
    if (!f.help) problems.push(`${name}: no help text`);
    if (!f.type) problems.push(`${name}: no TYPE`);
    if (f.type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: counter metrics should have "_total" suffix`);
    if (f.type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: non-counter metrics should not have "_total" suffix`);
    if (name !== name.toLowerCase()) problems.push(`${name}: metric names should be written in 'snake_case' not 'camelCase'`);
    if (/_(ms|milliseconds|minutes|hours|days)$/.test(name)) problems.push(`${name}: use base unit "seconds"`);
  }
  return problems;
}

/** promtool itself when it is installed (Debian: apt-get install prometheus); the checker above otherwise. */
function promtool(text: string): { status: number | null; output: string } | null {
  const which = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  if (which.status !== 0) return null;
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const sample = (text: string, name: string, labels: Record<string, string>) => {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${escapeLabel(v)}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
};

describe('metrics exposition', () => {
  it('the checker catches what promtool would', () => {
    expect(checkExposition('# HELP a_total x\n# TYPE a_total counter\na_total 1\n')).toEqual([]);
    expect(checkExposition('# TYPE a counter\na 1\n')).toEqual(expect.arrayContaining(['a: no help text', 'a: counter metrics should have "_total" suffix']));
    expect(checkExposition('# HELP a x\n# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n')).toEqual(['line 4: duplicate series a{x=1}']);
    expect(checkExposition('# HELP a x\n# TYPE a gauge\na{x="\\q"} 1\n')).toHaveLength(1);
    expect(checkExposition('# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\na 2\n')).toEqual(expect.arrayContaining(['line 7: samples of a are not together']));
  });

  it('escapes label values that hold quotes, backslashes and newlines', () => {
    const text = renderMetrics({
      now: NOW,
      endpoints: [{ id: 'a"b\\c\nd:443', host: 'x', port: 443, sni: 'x', addresses: null, caFile: null, caFileAsWritten: null, pins: null, expiryWarningDays: [7] }],
      observations: [],
      open: [],
      counters: [],
      pending: new Map(),
      chainChanges: new Map(),
      lastSweep: null,
    });
    expect(checkExposition(text)).toEqual([]);
    expect(text).toContain('pinctl_chain_changes_total{target="a\\"b\\\\c\\nd:443"} 0');
  });
});

describe('monitor run', () => {
  it('serves /metrics and /healthz, follows a rotation, alerts by webhook, reloads on demand', async () => {
    server.server.setSecureContext({ cert: readPki('chain.pem'), key: readPki('leaf.key') });
    const dir = tempDir();
    const path = config(dir);
    const logs: string[] = [];
    const runner = await startRunner({ configPath: path, env: {}, cwd: dir, now: () => NOW, resolve: noNetworkResolver, log: (l) => logs.push(l), sweepAtStart: false });
    try {
      const addr = runner.metricsAddress()!;
      const base = `http://127.0.0.1:${addr.port}`;
      await runner.sweepNow();
      let text = await (await fetch(`${base}/metrics`)).text();
      expect(checkExposition(text)).toEqual([]);
      const target = `api.pinctl.test:${server.port}`;
      expect(sample(text, 'probe_success', { target, ip: '127.0.0.1' })).toBe(1);
      expect(sample(text, 'probe_ssl_earliest_cert_expiry', { target, ip: '127.0.0.1' })).toBe(Date.parse('2036-01-01T00:00:00Z') / 1000);
      expect(sample(text, 'probe_tls_version_info', { target, version: 'TLSv1.3' })).toBe(1);
      expect(sample(text, 'pinctl_cert_not_after_timestamp_seconds', { target, position: 'intermediate', spki_sha256: opensslPin('intermediate.pem') })).toBe(Date.parse('2040-12-31T23:59:59Z') / 1000);
      expect(sample(text, 'pinctl_cert_not_after_timestamp_seconds', { position: 'root', spki_sha256: opensslPin('root.pem') })).toBe(Date.parse('2050-12-31T23:59:59Z') / 1000);
      expect(sample(text, 'pinctl_pin_match', { target, ip: '127.0.0.1' })).toBe(1);
      expect(sample(text, 'pinctl_chain_consistent', { target })).toBe(1);
      expect(sample(text, 'pinctl_sweeps_total', {})).toBe(1);
      expect(text).toContain('probe_duration_seconds{target=');
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', lastSweep: NOW.toISOString() });
      expect((await fetch(`${base}/nope`)).status).toBe(404);

      // An intermediate swap: blackbox_exporter's metrics would not move; these do.
      server.server.setSecureContext({ cert: readPki('chain-intermediate2.pem'), key: readPki('leaf.key') });
      const r = await runner.sweepNow();
      expect(r!.opened.map((f) => f.kind).sort()).toEqual(['chain-drift', 'pin-mismatch']);
      text = await (await fetch(`${base}/metrics`)).text();
      expect(checkExposition(text)).toEqual([]);
      const pt = promtool(text);
      if (pt) expect(pt.status, pt.output).toBe(0);
      expect(sample(text, 'pinctl_pin_match', { target, ip: '127.0.0.1' })).toBe(0);
      expect(sample(text, 'pinctl_cert_not_after_timestamp_seconds', { position: 'intermediate', spki_sha256: opensslPin('intermediate2.pem') })).toBeGreaterThan(0);
      expect(sample(text, 'pinctl_chain_changes_total', { target })).toBe(1);
      expect(sample(text, 'pinctl_findings_open', { kind: 'pin-mismatch', severity: 'critical' })).toBe(1);
      expect(sample(text, 'pinctl_alerts_sent_total', { channel: 'webhook' })).toBe(2);
      expect(hook.requests).toHaveLength(2);
      expect(logs.some((l) => /^ {2}new critical pin-mismatch/.test(l))).toBe(true);

      // An invalid config is refused and the running one kept.
      const good = readFileSync(path, 'utf8');
      writeFileSync(path, `${good}    colour: blue\n`);
      expect(await runner.reload()).toBe(false);
      expect(logs.at(-1)).toMatch(/^error: reload of .* failed, keeping the running config: .*endpoints\[0\]\.colour: unknown key/);
      expect(runner.config().endpoints).toHaveLength(1);
      text = await (await fetch(`${base}/metrics`)).text();
      expect(sample(text, 'pinctl_config_reloads_total', { result: 'failure' })).toBe(1);
      // A valid one is taken.
      writeFileSync(path, `${good}  - host: localhost\n    port: ${server.port}\n    caFile: ${pkiFile('root.pem')}\n`);
      expect(await runner.reload()).toBe(true);
      expect(runner.config().endpoints.map((e) => e.host)).toEqual(['api.pinctl.test', 'localhost']);
      await runner.sweepNow();
      text = await (await fetch(`${base}/metrics`)).text();
      expect(sample(text, 'probe_success', { target: `localhost:${server.port}`, ip: '127.0.0.1' })).toBe(1);
    } finally {
      await runner.stop();
    }
  });

  it('runs on its cron schedule (seconds field)', async () => {
    server.server.setSecureContext({ cert: readPki('chain.pem'), key: readPki('leaf.key') });
    const dir = tempDir();
    const path = writeConfig(dir, readFileSync(config(dir), 'utf8').replace('"0 0 1 1 *"', '"* * * * * *"').replace('metrics: { listen: "127.0.0.1:0" }\n', ''));
    const logs: string[] = [];
    const runner = await startRunner({ configPath: path, env: {}, cwd: dir, now: () => new Date(), resolve: noNetworkResolver, log: (l) => logs.push(l), sweepAtStart: false });
    try {
      await new Promise((r) => setTimeout(r, 3300));
    } finally {
      await runner.stop();
    }
    expect(logs.filter((l) => l.startsWith('sweep ')).length).toBeGreaterThanOrEqual(2);
  });

  it('the CLI: plain log lines off a terminal, SIGHUP reloads (keeping the old config when invalid), SIGTERM stops with exit 0', async () => {
    server.server.setSecureContext({ cert: readPki('chain.pem'), key: readPki('leaf.key') });
    const dir = tempDir();
    const path = config(dir);
    let stdout = '';
    let stderr = '';
    const io: CliIO = {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      readStdin: async () => new Uint8Array(),
      env: { NO_COLOR: '1' },
      cwd: dir,
      now: () => NOW,
      resolve: noNetworkResolver,
    };
    const signals = new EventEmitter();
    const done = runCommand({ config: path, watch: true }, io, signals as never);
    await until(() => /sweep \S+: 1 endpoint/.test(stdout));
    writeFileSync(path, 'schedule: "every day"\nendpoints: []\n');
    signals.emit('SIGHUP');
    await until(() => stderr.includes('keeping the running config'));
    expect(stderr).toMatch(/^2026-06-01T00:00:00\.000Z error: reload of .* failed, keeping the running config: .*schedule: expected a valid cron expression/m);
    signals.emit('SIGTERM');
    expect(await done).toBe(0);
    expect(stdout).toMatch(/^2026-06-01T00:00:00\.000Z monitoring 1 endpoint\(s\) on schedule "0 0 1 1 \*"/m);
    expect(stdout).toContain('SIGTERM: stopping');
  });
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
