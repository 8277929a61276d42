/**
 * The shipped operations files: examples/prometheus (promtool check rules, promtool test rules with
 * the hand-written series, and once more with series scraped from a real monitor after an
 * intermediate swap), examples/grafana/pinctl.json (every query parses as PromQL and names only
 * metrics the monitor exports), examples/systemd (systemd-analyze verify, where available).
 * promtool is installed by .ci/run; without it (or systemd-analyze) those checks skip and say so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { tempDir } from './helpers.js';
import { Rig, startRig, sweepWithIntermediateSwap } from './status-page-rig.js';

const ROOT = join(import.meta.dirname, '..', '..');
const RULES = join(ROOT, 'examples', 'prometheus', 'pinctl.rules.yml');
const RULE_TESTS = join(ROOT, 'examples', 'prometheus', 'pinctl.rules.test.yml');
const DASHBOARD = join(ROOT, 'examples', 'grafana', 'pinctl.json');
const UNITS = ['pinctl-monitor.service', 'pinctl-serve.service'].map((u) => join(ROOT, 'examples', 'systemd', u));

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const PROMTOOL = has('promtool');
const SYSTEMD_ANALYZE = has('systemd-analyze');
if (!PROMTOOL) console.warn('promtool checks skipped: promtool is missing (apt-get install prometheus; .ci/run does)');
if (!SYSTEMD_ANALYZE) console.warn('systemd unit checks skipped: systemd-analyze is missing');

function run(cmd: string, args: string[], cwd = ROOT) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, stderr: r.stderr };
}

/** Metric names a PromQL expression reads (the monitor's families: probe_* and pinctl_*). */
const metricNames = (expr: string) => [...new Set(expr.match(/\b(?:probe|pinctl)_[a-zA-Z0-9_:]*/g) ?? [])];

interface RuleFile {
  groups: {
    name: string;
    rules: { alert: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }[];
  }[];
}
const rules = () => (load(readFileSync(RULES, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules);
interface Dashboard {
  __inputs: { name: string; pluginId: string }[];
  panels: { id: number; type: string; title: string; gridPos: object; targets: { refId: string; expr: string }[] }[];
}
const dashboard = () => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

let rig: Rig;
let scraped: string;
beforeAll(async () => {
  rig = await startRig();
  await sweepWithIntermediateSwap(rig);
  scraped = await (await fetch(`${rig.base}/metrics`)).text();
}, 60_000);
afterAll(async () => rig?.close());

const exported = () => new Set([...scraped.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));

describe('examples/prometheus/pinctl.rules.yml', () => {
  it('covers expiry, pin mismatch, a stalled sweep, the served bundle and probe failures, over metrics the monitor exports', () => {
    const list = rules();
    expect(list.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'PinctlCertificateExpiringSoon',
        'PinctlPinMismatch',
        'PinctlSweepStalled',
        'PinctlBundleExpiringSoon',
        'PinctlProbeFailing',
      ]),
    );
    const names = exported();
    for (const r of list) {
      expect(metricNames(r.expr).length, r.alert).toBeGreaterThan(0);
      for (const m of metricNames(r.expr))
        expect(names.has(m), `${r.alert} reads ${m}, which /metrics does not export`).toBe(true);
      expect(r.labels?.severity, r.alert).toMatch(/^(info|warning|critical)$/);
    }
  });

  it.skipIf(!PROMTOOL)('passes promtool check rules and promtool test rules (hand-written series)', () => {
    const check = run('promtool', ['check', 'rules', RULES]);
    expect(check.status, check.out).toBe(0);
    expect(check.out).toContain(`SUCCESS: ${rules().length} rules found`);
    const test = run('promtool', ['test', 'rules', RULE_TESTS]);
    expect(test.status, test.out).toBe(0);
  });

  it.skipIf(!PROMTOOL)(
    'fires PinctlPinMismatch, and nothing about expiry or probes, on series scraped from a real monitor',
    () => {
      const dir = tempDir('pinctl-promtool-');
      copyFileSync(RULES, join(dir, 'pinctl.rules.yml'));
      // Every scraped sample, held for 10 minutes (time() in promtool tests starts at 1970: expiry
      // timestamps in 2036+ are far away, so only the real problem may fire).
      const series = scraped
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => {
          const i = l.lastIndexOf(' ');
          return { series: l.slice(0, i), values: `${l.slice(i + 1)}x10` };
        });
      const mismatch = rules().find((r) => r.alert === 'PinctlPinMismatch')!;
      const summary = mismatch
        .annotations!.summary!.replace('{{ $labels.target }}', rig.apiId)
        .replace('{{ $labels.ip }}', '127.0.0.1');
      const alert = (name: string, exp: unknown[]) => ({ eval_time: '5m', alertname: name, exp_alerts: exp });
      const test = {
        rule_files: ['pinctl.rules.yml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: series,
            alert_rule_test: [
              alert('PinctlPinMismatch', [
                {
                  exp_labels: { severity: 'critical', target: rig.apiId, ip: '127.0.0.1' },
                  exp_annotations: { summary, description: mismatch.annotations!.description },
                },
              ]),
              alert('PinctlProbeFailing', []),
              alert('PinctlCertificateExpiringSoon', []),
              alert('PinctlBundleUnreadable', []),
            ],
          },
        ],
      };
      writeFileSync(join(dir, 'scraped.test.yml'), JSON.stringify(test));
      const r = run('promtool', ['test', 'rules', 'scraped.test.yml'], dir);
      expect(r.status, r.out).toBe(0);
    },
  );
});

describe('examples/grafana/pinctl.json', () => {
  it('is an importable dashboard (Prometheus data source input, unique panel ids) over metrics the monitor exports', () => {
    const d = dashboard();
    expect(d.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' })]);
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    const names = exported();
    const used = new Set<string>();
    for (const p of d.panels) {
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets)
        for (const m of metricNames(t.expr)) {
          used.add(m);
          expect(names.has(m), `panel "${p.title}" reads ${m}, which /metrics does not export`).toBe(true);
        }
    }
    for (const m of [
      'pinctl_cert_not_after_timestamp_seconds',
      'pinctl_pin_match',
      'probe_success',
      'pinctl_bundle_expiry_timestamp_seconds',
      'pinctl_last_sweep_timestamp_seconds',
    ])
      expect(used.has(m), m).toBe(true);
  });

  it.skipIf(!PROMTOOL)('every query is valid PromQL (promtool parses each as a recording rule)', () => {
    const dir = tempDir('pinctl-grafana-');
    const exprs = dashboard().panels.flatMap((p) =>
      p.targets.map((t, i) => ({ record: `grafana:panel_${p.id}_${i}`, expr: t.expr })),
    );
    writeFileSync(join(dir, 'queries.yml'), JSON.stringify({ groups: [{ name: 'grafana', rules: exprs }] }));
    const r = run('promtool', ['check', 'rules', join(dir, 'queries.yml')]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain(`SUCCESS: ${exprs.length} rules found`);
  });
});

describe.skipIf(!SYSTEMD_ANALYZE)('examples/systemd', () => {
  it('both units are hardened and pass systemd-analyze verify without a warning', () => {
    const dir = tempDir('pinctl-units-');
    const main = join(ROOT, 'dist', 'cli', 'main.js');
    for (const unit of UNITS) {
      const text = readFileSync(unit, 'utf8');
      for (const d of [
        'DynamicUser=yes',
        'ProtectSystem=strict',
        'ProtectHome=yes',
        'NoNewPrivileges=yes',
        'PrivateTmp=yes',
        'CapabilityBoundingSet=',
      ])
        expect(text, `${unit}: ${d}`).toContain(`\n${d}\n`);
      expect(text).toMatch(/\nExecStart=\/usr\/local\/bin\/pinctl (monitor run|serve) /);
      // verify checks that ExecStart's program exists: point it at this checkout's build.
      const local = join(dir, unit.split('/').pop()!);
      writeFileSync(local, text.replace('/usr/local/bin/pinctl', `${process.execPath} ${main}`));
      const r = run('systemd-analyze', ['verify', local]);
      expect(r.status, r.out).toBe(0);
      // It exits 0 on an unknown key or a bad value ("…, ignoring"): any output is a problem.
      expect(r.stderr.trim(), r.out).toBe('');
    }
  });
});
