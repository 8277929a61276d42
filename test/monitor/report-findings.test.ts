/** Pin-failure reports to findings: the pure counting, severity and resolution (no files, no clock). */
import { describe, expect, it } from 'vitest';
import { ReportCounts, ReportLine, ReportsCheck, addReports, reportFindings, reportResolution } from '../../monitor/report-findings.js';
import { qualify } from '../../monitor/vantage.js';
import { reconcile } from '../../monitor/findings.js';
import type { Finding, StoredFinding } from '../../monitor/types.js';

const T0 = new Date('2026-06-01T12:00:00Z');
const min = (n: number) => new Date(T0.getTime() + n * 60_000);
const policy = { windowMs: 3_600_000, warning: 2, critical: 4 };

function line(domain: string | undefined, at: Date, extra: Record<string, unknown> = {}): ReportLine {
  return {
    receivedAt: at.toISOString(),
    remote: '127.0.0.1',
    report: { type: 'pin-mismatch', audience: 'com.example.app', time: at.toISOString(), ...(domain ? { domain, port: 443 } : {}), chainPins: ['LEAF=', 'CA='], expectedPins: ['P2=', 'P1='], bundle: { type: 'pins', version: 7, expiresAt: '2026-07-01T00:00:00Z' }, ...extra },
  };
}

/** A report finding's counts (its details, typed). */
const rc = (f: Finding) => f.details as ReportCounts;

const check = (reports: ReportLine[], error: ReportsCheck['error'] = null): ReportsCheck => ({ source: 'src1', label: '/srv/pinctl', policy, reports, error });

/** As reconcile would store them (the open findings of the next sweep). */
const stored = (found: Finding[], at: Date): StoredFinding[] =>
  found.map((f) => ({ ...f, id: f.key, openedAt: at.toISOString(), updatedAt: at.toISOString(), resolvedAt: null, resolution: null, lastAlertAt: null }));

describe('reportFindings', () => {
  it('one finding per domain with counts, apps, versions and the pins apps saw; severity by the count in the window', () => {
    const reports = [line('api.example.com', min(0)), line('API.example.com.', min(1), { audience: 'com.example.other', bundle: { version: 8 } }), line('api.example.com', min(2), { chainPins: ['EVIL=', 'CA='] }), line('cdn.example.com', min(2))];
    const found = reportFindings(check(reports), [], min(3));
    expect(found.map((f) => [f.key, f.kind, f.severity])).toEqual([
      ['pin-failure-reports|src1|api.example.com', 'pin-failure-reports', 'warning'],
      ['pin-failure-reports|src1|cdn.example.com', 'pin-failure-reports', 'info'],
    ]);
    const api = found[0]!;
    expect(api.host).toBe('api.example.com');
    expect(api.details).toMatchObject({
      total: 3,
      inWindow: 3,
      apps: { 'com.example.app': 2, 'com.example.other': 1 },
      versions: { '7': 2, '8': 1 },
      failedOn: { 'LEAF=,CA=': 2, 'EVIL=,CA=': 1 },
      expected: { 'P1=,P2=': 3 },
      types: { 'pin-mismatch': 3 },
      ports: [443],
    });
    expect(api.title).toMatch(/^api\.example\.com: 3 pin-failure report\(s\) from apps in the last 1h \(3 since 2026-06-01T12:00:00\.000Z\), 2 app\(s\)/);
  });

  it('counts each report once: a sweep with no new reports keeps the counts; new ones add to them and cross the critical threshold', () => {
    const first = reportFindings(check([line('api.example.com', min(0)), line('api.example.com', min(1))]), [], min(2));
    expect(first[0]!.details).toMatchObject({ total: 2, inWindow: 2 });
    const again = reportFindings(check([]), stored(first, min(2)), min(10));
    expect(again.map((f) => [f.severity, f.signature, rc(f).total, rc(f).inWindow])).toEqual([['warning', 'warning', 2, 2]]);
    const more = reportFindings(check([line('api.example.com', min(11)), line('api.example.com', min(12))]), stored(again, min(10)), min(13));
    expect(more.map((f) => [f.severity, rc(f).total, rc(f).inWindow])).toEqual([['critical', 4, 4]]);
  });

  it('reports older than the window count in the total but not in the window; none left in the window: no finding', () => {
    const first = reportFindings(check([line('api.example.com', min(0)), line('api.example.com', min(50))]), [], min(51));
    const later = reportFindings(check([]), stored(first, min(51)), min(61)); // the first report left the window
    expect(later.map((f) => [f.severity, rc(f).total, rc(f).inWindow])).toEqual([['info', 2, 1]]);
    expect(reportFindings(check([]), stored(later, min(61)), min(111))).toEqual([]);
  });

  it('a report without a domain (a stale bundle) is grouped under "(no domain)"; odd values do not grow the tallies without bound', () => {
    const odd = Array.from({ length: 30 }, (_, i) => line(undefined, min(0), { type: 'stale-bundle', audience: `app${i}`, chainPins: 'nope' }));
    const [f] = reportFindings(check(odd), [], min(1));
    expect(f!.host).toBe('(no domain)');
    expect(Object.keys(rc(f!).apps as object)).toHaveLength(21); // 20 apps and "(other)"
    expect((rc(f!).apps as Record<string, number>)['(other)']).toBe(10);
    expect(rc(f!).failedOn).toEqual({});
  });

  it('a report stamped in the future counts as now', () => {
    const c = addReports({ source: 's', domain: 'd', total: 0, inWindow: 0, windowMs: 60_000, firstAt: '', lastAt: '', buckets: [], types: {}, apps: {}, versions: {}, failedOn: {}, expected: {}, ports: [] }, [line('d', min(600))], min(0), 60_000);
    expect(c).toMatchObject({ total: 1, inWindow: 1, lastAt: min(0).toISOString() });
  });
});

describe('report findings through reconcile', () => {
  const base = { current: [], endpoints: [], driftWindowMs: 86_400_000, reminderMs: 86_400_000, minSeverity: 'warning' as const };

  it('opens and alerts once, stays quiet while counts hold, re-alerts on a severity change, resolves after a quiet window', () => {
    const c1 = check([line('api.example.com', min(0)), line('api.example.com', min(1))]);
    const p1 = reconcile({ ...base, open: [], found: reportFindings(c1, [], min(2)), now: min(2), reports: [c1] });
    expect(p1.opened).toHaveLength(1);
    expect(p1.alerts.map((a) => a.type)).toEqual(['new']);
    const c2 = check([]);
    const p2 = reconcile({ ...base, open: p1.opened, found: reportFindings(c2, p1.opened, min(5)), now: min(5), reports: [c2] });
    expect(p2.alerts).toEqual([]);
    expect(p2.updated.map((u) => u.changed)).toEqual([false]);
    const open2 = p2.updated.map((u) => u.finding);
    const c3 = check([line('api.example.com', min(6)), line('api.example.com', min(6))]);
    const p3 = reconcile({ ...base, open: open2, found: reportFindings(c3, open2, min(7)), now: min(7), reports: [c3] });
    expect(p3.alerts.map((a) => a.type)).toEqual(['changed']);
    const open3 = p3.updated.map((u) => u.finding);
    // The source cannot be read: unknown, the finding stays open even after its window.
    const broken = check([], { code: 'EACCES', message: 'permission denied' });
    const p4 = reconcile({ ...base, open: open3, found: reportFindings(broken, open3, min(120)), now: min(120), reports: [broken] });
    expect(p4.resolved).toEqual([]);
    const c5 = check([]);
    const p5 = reconcile({ ...base, open: open3, found: reportFindings(c5, open3, min(120)), now: min(120), reports: [c5] });
    expect(p5.resolved.map((r) => r.resolution)).toEqual(['no pin-failure reports for api.example.com in the last 1h']);
    expect(p5.alerts.map((a) => a.type)).toEqual(['resolved']);
  });

  it("per-vantage findings of one domain (before reports were state-wide) continue as one: counts added, each resolved", () => {
    const opened = (reports: ReportLine[], at: Date, vantage: string) =>
      stored(reportFindings(check(reports), [], at), at).map((f) => ({ ...f, ...qualify(f, vantage) }));
    const eu = opened([line('api.example.com', min(0)), line('api.example.com', min(1))], min(1), 'eu');
    const us = opened([line('api.example.com', min(1), { audience: 'com.example.other' })], min(2), 'us');
    const open = [...eu, ...us];
    const c = check([line('api.example.com', min(3))]);
    const found = reportFindings(c, open, min(4));
    expect(found.map((f) => [f.key, rc(f).total, rc(f).inWindow, rc(f).apps, rc(f).firstAt])).toEqual([
      ['pin-failure-reports|src1|api.example.com', 4, 4, { 'com.example.app': 3, 'com.example.other': 1 }, min(0).toISOString()],
    ]);
    const plan = reconcile({ ...base, open, found, now: min(4), reports: [c] });
    expect(plan.opened.map((f) => [f.key, f.vantage ?? null])).toEqual([['pin-failure-reports|src1|api.example.com', null]]);
    expect(plan.resolved.map((r) => [r.finding.vantage, r.resolution])).toEqual([
      ['eu', 'reports are counted once for the whole state now: api.example.com continues in one finding'],
      ['us', 'reports are counted once for the whole state now: api.example.com continues in one finding'],
    ]);
  });

  it('a finding whose source left the config is resolved', () => {
    const [f] = stored(reportFindings(check([line('a.example', min(0))]), [], min(0)), min(0));
    expect(reportResolution(f!, undefined)).toBe('its reports source is no longer in the config');
    expect(reportResolution(f!, [{ ...check([]), source: 'other' }])).toBe('its reports source is no longer in the config');
  });
});
