/** `monitor run --watch` / `monitor status --watch`: a live ink table of endpoints (terminal only). */
import React, { useEffect, useState } from 'react';
import { Box, render, Text } from 'ink';
import type { EndpointRow } from '../../monitor/status.js';

interface ViewState {
  rows: EndpointRow[];
  now: Date | null;
  log: string[];
}

const COLOR: Record<string, string> = { ok: 'green', warning: 'yellow', critical: 'red', info: 'gray', unknown: 'gray' };

function cell(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

export function MonitorTable({ title, rows, now, log }: { title: string } & ViewState) {
  const width = Math.max(20, ...rows.map((r) => r.endpoint.length + 1));
  return (
    <Box flexDirection="column">
      <Text bold>
        {title}
        {now ? <Text dimColor> · {now.toISOString()}</Text> : null}
      </Text>
      <Text dimColor>
        {cell('ENDPOINT', width)}
        {cell('STATUS', 10)}
        {cell('UP', 7)}
        {cell('PINS', 8)}
        {cell('EXPIRY', 9)}
        {cell('CHAINS', 7)}
        {'LAST CHANGE / PROBLEM'}
      </Text>
      {rows.map((r) => (
        <Text key={r.endpoint}>
          {cell(r.endpoint, width)}
          <Text color={COLOR[r.status]}>{cell(r.status, 10)}</Text>
          {cell(`${r.answering}/${r.addresses}`, 7)}
          <Text color={r.pinMatch === false ? 'red' : undefined}>{cell(r.pinMatch === null ? '–' : r.pinMatch ? 'match' : 'FAIL', 8)}</Text>
          <Text color={r.daysToExpiry !== null && r.daysToExpiry < 14 ? 'yellow' : undefined}>{cell(r.daysToExpiry === null ? '–' : `${r.daysToExpiry}d`, 9)}</Text>
          {cell(String(r.distinctChains), 7)}
          {r.problems[0] && r.problems[0].severity !== 'info' ? <Text color={COLOR[r.problems[0].severity]}>{r.problems[0].title.replace(`${r.endpoint} `, '').replace(`${r.endpoint}: `, '')}</Text> : <Text dimColor>{r.lastChange ?? ''}</Text>}
        </Text>
      ))}
      {log.length > 0 ? (
        <Box flexDirection="column" marginTop={1}>
          {log.map((l, i) => (
            <Text key={i} dimColor>
              {l}
            </Text>
          ))}
        </Box>
      ) : null}
    </Box>
  );
}

function Live({ title, subscribe }: { title: string; subscribe: (fn: (s: Partial<ViewState>) => void) => void }) {
  const [state, setState] = useState<ViewState>({ rows: [], now: null, log: [] });
  useEffect(() => subscribe((s) => setState((old) => ({ ...old, ...s }))), []);
  return <MonitorTable title={title} {...state} />;
}

export function startMonitorWatch(title: string): { update(rows: EndpointRow[], now: Date): void; log(lines: string[]): void; stop(): void } {
  let listener: ((s: Partial<ViewState>) => void) | undefined;
  const app = render(<Live title={title} subscribe={(fn) => (listener = fn)} />, { stdout: process.stdout, patchConsole: false });
  return {
    update: (rows, now) => listener?.({ rows, now }),
    log: (lines) => listener?.({ log: [...lines] }),
    stop: () => app.unmount(),
  };
}
