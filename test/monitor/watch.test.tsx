/** The `--watch` ink table, rendered into a fake terminal. */
import { describe, expect, it } from 'vitest';
import React from 'react';
import { EventEmitter } from 'node:events';
import { render } from 'ink';
import { MonitorTable } from '../../cli/views/monitor-watch.js';
import { EndpointRow } from '../../monitor/status.js';

class FakeTerminal extends EventEmitter {
  frames: string[] = [];
  columns = 140;
  rows = 40;
  isTTY = true;
  write(s: string): boolean {
    this.frames.push(s);
    return true;
  }
}

const row = (over: Partial<EndpointRow>): EndpointRow => ({
  endpoint: 'api.pinctl.test:443',
  status: 'ok',
  addresses: 2,
  answering: 2,
  pinMatch: true,
  daysToExpiry: 120,
  distinctChains: 1,
  lastSeen: '2026-06-01T00:00:00.000Z',
  lastChange: '2026-05-30T10:00:00.000Z',
  problems: [],
  ...over,
});

describe('monitor --watch table', () => {
  it('shows endpoints, status, pins, days to expiry and the last change or worst problem', () => {
    const term = new FakeTerminal();
    const app = render(
      <MonitorTable
        title="pinctl monitor run · monitor.yaml"
        now={new Date('2026-06-01T00:00:00Z')}
        log={['2026-06-01T00:00:00.000Z sweep done']}
        rows={[
          row({}),
          row({ endpoint: 'cdn.pinctl.test:443', status: 'critical', pinMatch: false, daysToExpiry: 5, distinctChains: 2, problems: [{ severity: 'critical', kind: 'pin-mismatch', title: 'no shipped pin matches' }] }),
        ]}
      />,
      { stdout: term as unknown as NodeJS.WriteStream, patchConsole: false, debug: true },
    );
    app.unmount();
    const text = term.frames.join('').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
    expect(text).toContain('pinctl monitor run · monitor.yaml · 2026-06-01T00:00:00.000Z');
    expect(text).toMatch(/ENDPOINT\s+STATUS\s+UP\s+PINS\s+EXPIRY\s+CHAINS\s+LAST CHANGE \/ PROBLEM/);
    expect(text).toMatch(/api\.pinctl\.test:443\s+ok\s+2\/2\s+match\s+120d\s+1\s+2026-05-30T10:00:00\.000Z/);
    expect(text).toMatch(/cdn\.pinctl\.test:443\s+critical\s+2\/2\s+FAIL\s+5d\s+2\s+no shipped pin matches/);
    expect(text).toContain('sweep done');
  });
});
