/**
 * The --watch ink view through ink's testing library: columns, width fitting with an ellipsis,
 * redraw on resize, relative times, the collapsed event log, keys (q, /, up/down, enter, esc),
 * and colour only when asked (NO_COLOR / TERM=dumb turn it off).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import React from 'react';
import { cleanup, render } from 'ink-testing-library';
import { MonitorWatch, WatchProps, WatchRow } from '../../cli/views/monitor-watch.js';
import { collapseLog, logText } from '../../cli/views/event-log.js';
import { fit } from '../../cli/views/watch-layout.js';

// Colour must be possible at all for "no colour" to mean something: chalk reads this at load.
vi.hoisted(() => {
  process.env.FORCE_COLOR = '1';
});

afterEach(() => cleanup());

const NOW = new Date('2026-06-01T00:00:00Z');
const ANSI = /\x1b\[[0-9;]*m/g;
const plain = (s: string | undefined) => (s ?? '').replace(ANSI, '');
const lines = (s: string | undefined) => plain(s).split('\n');
const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));
/** Retries `check` until it passes (ink handles keys and resizes asynchronously; the machine may be busy). */
async function until(check: () => void, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return check();
    } catch (e) {
      if (Date.now() > end) throw e;
      await tick(20);
    }
  }
}
const KEY = { up: '\u001B[A', down: '\u001B[B', enter: '\r', escape: '\u001B', backspace: '\u007F' };

const row = (over: Partial<WatchRow>): WatchRow => ({
  endpoint: 'api.pinctl.test:443',
  vantage: 'default',
  status: 'ok',
  addresses: 2,
  answering: 2,
  pinMatch: true,
  daysToExpiry: 120,
  distinctChains: 1,
  lastSeen: '2026-06-01T00:00:00.000Z',
  lastChange: '2026-05-30T00:00:00.000Z',
  problems: [],
  ...over,
});

const ROWS: WatchRow[] = [
  row({
    chain: [
      {
        position: 'leaf',
        subject: 'O=pinctl test, CN=api.pinctl.test',
        issuer: 'CN=i',
        notBefore: '2025-06-01T00:00:00.000Z',
        notAfter: '2026-09-29T00:00:00.000Z',
        daysToExpiry: 120,
        spkiSha256: 'LEAFKEY=',
        sha256: 'a',
        pinned: false,
        addresses: ['127.0.0.1'],
      },
      {
        position: 'intermediate',
        subject: 'O=pinctl test, CN=pinctl Test Intermediate CA',
        issuer: 'CN=r',
        notBefore: '2025-06-01T00:00:00.000Z',
        notAfter: '2040-12-31T23:59:59.000Z',
        daysToExpiry: 5327,
        spkiSha256: 'INTKEY=',
        sha256: 'b',
        pinned: true,
        addresses: ['127.0.0.1'],
      },
    ],
    pins: { source: 'app-pins.json', format: 'json', expiration: '2027-06-01', count: 2 },
    findings: [],
  }),
  row({
    endpoint: 'cdn.pinctl.test:443',
    status: 'critical',
    pinMatch: false,
    daysToExpiry: 5,
    lastChange: '2026-05-31T21:00:00.000Z',
    problems: [
      {
        severity: 'critical',
        kind: 'pin-mismatch',
        title: 'cdn.pinctl.test:443 127.0.0.1: no shipped pin matches the served chain',
      },
    ],
    findings: [
      {
        id: 'f1',
        vantage: 'default',
        kind: 'pin-mismatch',
        severity: 'critical',
        endpoint: 'cdn.pinctl.test:443',
        address: '127.0.0.1',
        title: 'cdn.pinctl.test:443 127.0.0.1: no shipped pin matches the served chain',
        openedAt: '2026-05-28T00:00:00.000Z',
        lastAlertAt: null,
      },
    ],
    chain: [],
  }),
];

function view(over: Partial<WatchProps> = {}) {
  const onQuit = vi.fn();
  const props: WatchProps = {
    title: 'pinctl monitor run · monitor.yaml',
    rows: ROWS,
    now: NOW,
    log: [],
    color: false,
    keys: true,
    onQuit,
    clock: () => NOW,
    ...over,
  };
  const app = render(<MonitorWatch {...props} />);
  return { app, onQuit, frame: () => app.lastFrame() };
}

/** ink-testing-library's terminal is 100 columns; a resize is a new width and the 'resize' event. */
function resize(app: ReturnType<typeof render>, columns: number) {
  Object.defineProperty(app.stdout, 'columns', { value: columns, configurable: true });
  app.stdout.emit('resize');
}

describe('monitor --watch view', () => {
  it('shows every endpoint with status, pins, days to expiry, relative times and the worst problem', () => {
    const { frame } = view();
    const out = lines(frame());
    expect(out[0]).toBe('pinctl monitor run · monitor.yaml · updated now');
    expect(out[1]).toMatch(/^ {2}ENDPOINT\s+STATUS\s+UP\s+PINS\s+EXPIRY\s+CHANGED\s+PROBLEM \/ LAST CHANGE$/);
    expect(out[2]).toMatch(/^› api\.pinctl\.test:443\s+ok\s+2\/2\s+match\s+120 d\s+2 d ago\s+changed 2 d ago$/);
    // The problem column takes what is left of 100 columns: the title is cut with an ellipsis.
    expect(out[3]).toMatch(
      /^ {2}cdn\.pinctl\.test:443\s+critical\s+2\/2\s+FAIL\s+5 d\s+3 h ago\s+127\.0\.0\.1: no shipped pin matches th…$/,
    );
    expect(out[4]).toBe('q quit · / filter · ↑↓ select · enter details');
  });

  it('fits the width: long cells end in an ellipsis, no line is wider than the terminal', () => {
    const long = row({
      endpoint: `very-long-service-name-${'x'.repeat(60)}.pinctl.test:8443`,
      status: 'warning',
      problems: [
        { severity: 'warning', kind: 'chain-drift', title: `an intermediate changed ${'and more '.repeat(20)}` },
      ],
    });
    const { frame } = view({
      rows: [long, ...ROWS],
      log: [{ at: NOW, text: `error: ${'a very long log line '.repeat(10)}` }],
    });
    const out = lines(frame());
    for (const l of out) expect([...l].length, l).toBeLessThanOrEqual(99);
    expect(out[2]).toMatch(
      /^› very-long-service-name-x+…\s+warning\s+2\/2\s+match\s+120 d\s+2 d ago\s+an intermediate ch…$/,
    );
    expect(out.at(-1)).toMatch(/^00:00:00 error: a very long log line .*…$/);
  });

  it('redraws for the new width on resize: narrower columns, CHANGED dropped, still within the width', async () => {
    const { app, frame } = view();
    expect(lines(frame())[1]).toContain('CHANGED');
    const before = app.frames.length;
    resize(app, 50);
    await until(() => expect(lines(frame())[2]).toMatch(/^› api\.pinctl\.t…/));
    const narrow = lines(frame());
    // No frame drawn since the resize is wider than the terminal (ink's own immediate redraw of the
    // old rows is cut at the new width, never wrapped); the view's own redraw leaves a spare column.
    expect(app.frames.length).toBeGreaterThan(before);
    // (An empty write is ink clearing the old frame when the terminal got narrower.)
    for (const f of app.frames.slice(before).filter((x) => x !== '')) {
      expect(lines(f)).toHaveLength(narrow.length);
      for (const l of lines(f)) expect([...l].length, l).toBeLessThanOrEqual(50);
    }
    for (const l of narrow) expect([...l].length, l).toBeLessThanOrEqual(49);
    expect(narrow[1]).toMatch(/^ {2}ENDPOINT\s+STATUS\s+PINS\s+EXPIRY\s+PROBLEM \/…$/);
    expect(narrow[3]).toMatch(/^ {2}cdn\.pinctl\.t…\s+critical\s+FAIL\s+5 d\s+127\.0\.0\.1…$/);
    resize(app, 120);
    await until(() => expect(lines(frame())[1]).toContain('CHANGED'));
  });

  it('keys: ↓ selects, enter shows chain, pins and findings, esc closes, / filters, q quits', async () => {
    const { app, frame, onQuit } = view();
    resize(app, 140);
    await until(() => expect(lines(frame())[0]).toBeTruthy());
    app.stdin.write(KEY.enter);
    await until(() => expect(plain(frame())).toContain('findings: none open'));
    let out = plain(frame());
    expect(out).toContain('pins: 2 from app-pins.json (json), pin set expires 2027-06-01; a pin matches');
    expect(out).toMatch(
      / {2}intermediate pinctl Test Intermediate CA · until 2040-12-31 \(in 14 y\) · INTKEY= · pinned/,
    );
    expect(out).toMatch(/ {2}leaf {9}api\.pinctl\.test · until 2026-09-29 \(in 120 d\) · LEAFKEY=/);
    app.stdin.write(KEY.down);
    await until(() => expect(plain(frame())).toContain('findings (1):'));
    out = plain(frame());
    expect(out).toMatch(/› cdn\.pinctl\.test:443/);
    expect(out).toContain(
      'critical pin-mismatch: cdn.pinctl.test:443 127.0.0.1: no shipped pin matches the served chain (opened 4 d ago)',
    );
    app.stdin.write(KEY.escape);
    await until(() => expect(plain(frame())).not.toContain('findings (1):'));

    app.stdin.write('/');
    await until(() => expect(plain(frame())).toContain('type to filter'));
    for (const ch of 'apx') app.stdin.write(ch);
    await until(() => expect(plain(frame())).toContain('no endpoint matches "apx"'));
    app.stdin.write(KEY.backspace);
    await until(() => expect(plain(frame())).toContain('/ap▏'));
    app.stdin.write(KEY.enter);
    await until(() => expect(plain(frame())).toContain('filter "ap": 1/2'));
    out = plain(frame());
    expect(out).toMatch(/› api\.pinctl\.test:443/);
    expect(out).not.toContain('cdn.pinctl.test');
    // Keys that arrive as one chunk (fast typing, a paste): the line break in it is enter.
    app.stdin.write('/');
    await until(() => expect(plain(frame())).toContain('type to filter'));
    app.stdin.write(KEY.backspace);
    app.stdin.write(KEY.backspace);
    app.stdin.write('cdn\r');
    await until(() => expect(plain(frame())).toContain('filter "cdn": 1/2'));
    expect(plain(frame())).toMatch(/› cdn\.pinctl\.test:443/);
    // q while typing a filter is a letter; q in the table quits.
    expect(onQuit).not.toHaveBeenCalled();
    app.stdin.write('q');
    await until(() => expect(onQuit).toHaveBeenCalledTimes(1));
  });

  it('collapses sweeps that changed nothing into one line of the event log', () => {
    const sweep = (n: number, changes: string) => ({
      at: new Date(NOW.getTime() + n * 60_000),
      text: `sweep s${n}: 2 endpoint(s), 2 address(es), 0 failed, 12 ms; ${changes}, 1 open; alerts 0 sent, 0 failed`,
    });
    const log = [
      sweep(0, '1 new, 0 changed, 0 resolved'),
      { at: NOW, text: '  new critical pin-mismatch: cdn' },
      sweep(1, '0 new, 0 changed, 0 resolved'),
      sweep(2, '0 new, 0 changed, 0 resolved'),
      sweep(3, '0 new, 0 changed, 0 resolved'),
      sweep(4, '0 new, 0 changed, 1 resolved'),
    ];
    const collapsed = collapseLog(log).map(logText);
    expect(collapsed).toHaveLength(4);
    expect(collapsed[2]).toMatch(/^3 sweeps, no change \(1 open\); last: sweep s3:/);
    const out = lines(view({ log }).frame());
    expect(out.filter((l) => l.includes('sweeps, no change'))).toEqual([
      expect.stringMatching(/^00:03:00 3 sweeps, no change \(1 open\); last: sweep s3/),
    ]);
    expect(out.some((l) => /^00:04:00 sweep s4: .*1 resolved/.test(l))).toBe(true);
  });

  it('colour only when asked: none at all with color off (NO_COLOR, TERM=dumb)', () => {
    const colored = view({ color: true }).frame() ?? '';
    expect(colored).toMatch(/\x1b\[31m/); // critical and FAIL in red
    cleanup();
    const off = view({ color: false }).frame() ?? '';
    expect(off).not.toMatch(/\x1b\[/);
    expect(plain(colored)).toContain('critical');
  });

  it('fit() truncates by characters, not bytes', () => {
    expect(fit('héllo wörld', 6)).toBe('héllo…');
    expect(fit('ok', 4, true)).toBe('ok  ');
  });
});
