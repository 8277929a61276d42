/**
 * `monitor run --watch` / `monitor status --watch`: a live ink table of endpoints on a terminal.
 * Fits the terminal's width (cells end in "…") and follows resizes; relative times; an event log
 * where sweeps that changed nothing collapse to one line; keys: q quit, / filter, ↑↓ select,
 * enter details (chain, pins, findings), esc back. Colour only when `color` (NO_COLOR, TERM=dumb).
 */
import React, { useEffect, useRef, useState } from 'react';
import { Box, render, Text, useInput, useStdout } from 'ink';
import { relativeTime } from '../../monitor/status-page/relative-time.js';
import { rowLabel } from '../../monitor/status.js';
import { cellText, Column, columns, detailLines, fit, WatchRow } from './watch-layout.js';
import { collapseLog, filterLog, LogEntry, logText } from './event-log.js';

export type { WatchRow } from './watch-layout.js';
export type { LogEntry } from './event-log.js';

export interface WatchProps {
  title: string;
  rows: WatchRow[];
  /** When the rows were read: relative times are against it. */
  now: Date | null;
  log: LogEntry[];
  color: boolean;
  /** Whether keys can be read (stdin is a terminal in raw mode). */
  keys: boolean;
  onQuit?: () => void;
  /** For "updated 40 s ago" (tests pass a fixed one). */
  clock?: () => Date;
}

const COLOR: Record<string, string> = {
  ok: 'green',
  warning: 'yellow',
  critical: 'red',
  info: 'gray',
  unknown: 'gray',
};
const LOG_LINES = 6;

/**
 * The terminal's size, read at every render: ink re-renders by itself on 'resize', and that render
 * must already use the new width (a width kept in state would be one render late, and the frame
 * ink draws in between would wrap). The listener re-renders for a height-only change too.
 */
function useTerminalSize(): { width: number; height: number } {
  const { stdout } = useStdout();
  const [, force] = useState(0);
  useEffect(() => {
    const on = () => force((n) => n + 1);
    stdout.on('resize', on);
    return () => void stdout.off('resize', on);
  }, [stdout]);
  return { width: stdout.columns || 80, height: stdout.rows || 24 };
}

type Mode = 'table' | 'filter' | 'details';
interface Ui {
  mode: Mode;
  filter: string;
  selected: string | null;
}
type KeyInfo = {
  upArrow: boolean;
  downArrow: boolean;
  return: boolean;
  escape: boolean;
  backspace: boolean;
  delete: boolean;
  ctrl: boolean;
  meta: boolean;
};

const matching = (rows: WatchRow[], filter: string) => {
  const f = filter.trim().toLowerCase();
  return f
    ? rows.filter((r) =>
        `${rowLabel(r)} ${r.status} ${r.problems.map((x) => x.title).join(' ')}`.toLowerCase().includes(f),
      )
    : rows;
};

/** What a key does; 'quit' for q. Pure, so keys typed faster than React re-renders still chain. */
function nextUi(ui: Ui, input: string, key: KeyInfo, all: WatchRow[]): Ui | 'quit' {
  if (ui.mode === 'filter') {
    if (key.return) return { ...ui, mode: 'table' };
    if (key.escape) return { ...ui, filter: '', mode: 'table' };
    if (key.backspace || key.delete) return { ...ui, filter: ui.filter.slice(0, -1) };
    if (input && !key.ctrl && !key.meta) {
      // Typed fast (or pasted), several keys arrive as one string: a line break in it is enter.
      const [text = '', ...rest] = input.split(/[\r\n]/);
      const filter = ui.filter + text.replace(/[\u0000-\u001f\u007f]/g, '');
      return { ...ui, filter, mode: rest.length > 0 ? 'table' : 'filter' };
    }
    return ui;
  }
  const rows = matching(all, ui.filter);
  const index = Math.max(
    0,
    rows.findIndex((r) => rowLabel(r) === ui.selected),
  );
  if (input === 'q' || (key.ctrl && input === 'c')) return 'quit';
  if (input === '/') return { ...ui, mode: 'filter' };
  if (key.upArrow && rows.length) return { ...ui, selected: rowLabel(rows[Math.max(0, index - 1)]!) };
  if (key.downArrow && rows.length) return { ...ui, selected: rowLabel(rows[Math.min(rows.length - 1, index + 1)]!) };
  if (key.return && rows.length) return { ...ui, mode: ui.mode === 'details' ? 'table' : 'details' };
  if (key.escape) return { ...ui, mode: 'table' };
  return ui;
}

export function MonitorWatch(p: WatchProps) {
  const { width, height } = useTerminalSize();
  // The keys' state lives in a ref: ink may deliver several keys before React re-subscribes the
  // handler, and each must see the state the previous one left.
  const ui = useRef<Ui>({ mode: 'table', filter: '', selected: null });
  const props = useRef(p);
  props.current = p;
  const [, rerender] = useState(0);
  useInput(
    (input, key) => {
      const next = nextUi(ui.current, input, key, props.current.rows);
      if (next === 'quit') props.current.onQuit?.();
      else if (next !== ui.current) {
        ui.current = next;
        rerender((n) => n + 1);
      }
    },
    { isActive: p.keys },
  );
  const { mode, filter } = ui.current;
  const rows = matching(p.rows, filter);
  const index = Math.max(
    0,
    rows.findIndex((r) => rowLabel(r) === ui.current.selected),
  );
  const current = rows[index] ?? null;

  const now = p.now ?? new Date(0);
  // One cell short of the width: a line that fills the last column makes some terminals wrap.
  const cols = columns(width - 1, rows);
  const line = (s: string) => fit(s, width - 1);
  const log = filterLog(collapseLog(p.log), filter).slice(-LOG_LINES);
  const details = mode === 'details' && current ? detailLines(current, now) : [];
  // Rows that fit: the terminal's height less title, header, footer, details and log.
  const room = Math.max(3, height - 4 - details.length - (log.length ? log.length + 1 : 0));
  const first = Math.min(Math.max(0, index - room + 1), Math.max(0, rows.length - room));
  const visible = rows.slice(first, first + room);
  const c = (name: string | undefined) => (p.color ? name : undefined);
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end" bold={p.color}>
        {line(`${p.title} · ${updated(p.now, p.clock ?? (() => new Date()))}`)}
      </Text>
      <Text wrap="truncate-end" dimColor={p.color}>
        {line(`  ${cols.map((x) => fit(x.title, x.width, true)).join('')}`)}
      </Text>
      {visible.map((r) => (
        <Row key={rowLabel(r)} r={r} cols={cols} now={now} selected={current === r} color={p.color} />
      ))}
      {rows.length === 0 ? (
        <Text wrap="truncate-end">
          {line(p.rows.length ? `  no endpoint matches "${filter}"` : '  no endpoint yet')}
        </Text>
      ) : null}
      <Text wrap="truncate-end" dimColor={p.color}>
        {line(footer(mode, filter, rows.length, p.rows.length, first, visible.length, p.keys))}
      </Text>
      {details.length ? (
        <Box flexDirection="column" borderStyle={p.color ? 'round' : undefined}>
          {details.map((d, i) => (
            <Text key={i} wrap="truncate-end" bold={p.color && i === 0}>
              {fit(d, width - (p.color ? 3 : 1))}
            </Text>
          ))}
        </Box>
      ) : null}
      {log.length ? (
        <Box flexDirection="column" marginTop={1}>
          {log.map((l, i) => (
            <Text
              key={i}
              wrap="truncate-end"
              color={c(l.text.startsWith('error:') ? 'red' : undefined)}
              dimColor={p.color && l.quiet}
            >
              {line(`${l.at.toISOString().slice(11, 19)} ${logText(l)}`)}
            </Text>
          ))}
        </Box>
      ) : null}
    </Box>
  );
}

function Row({
  r,
  cols,
  now,
  selected,
  color,
}: {
  r: WatchRow;
  cols: Column[];
  now: Date;
  selected: boolean;
  color: boolean;
}) {
  // Each cell one short of its column, then a space; the last one without trailing blanks.
  const cells = cols.map((col, i) => ({
    col,
    text:
      i === cols.length - 1
        ? fit(cellText(r, col.key, now), col.width)
        : `${fit(cellText(r, col.key, now), col.width - 1, true)} `,
  }));
  const tone = (col: Column): string | undefined => {
    if (!color) return undefined;
    if (col.key === 'status') return COLOR[r.status];
    if (col.key === 'pins' && r.pinMatch === false) return 'red';
    if (col.key === 'expiry' && r.daysToExpiry !== null && r.daysToExpiry < 14) return 'yellow';
    if (col.key === 'problem' && r.problems.some((x) => x.severity !== 'info'))
      return COLOR[r.problems.find((x) => x.severity !== 'info')!.severity];
    return undefined;
  };
  return (
    <Text wrap="truncate-end" inverse={color && selected}>
      {selected ? '› ' : '  '}
      {cells.map(({ col, text }) => (
        <Text key={col.key} color={tone(col)}>
          {text}
        </Text>
      ))}
    </Text>
  );
}

const updated = (at: Date | null, clock: () => Date) =>
  at ? `updated ${relativeTime(at.toISOString(), clock())}` : 'waiting for the first sweep';

function footer(
  mode: Mode,
  filter: string,
  shown: number,
  total: number,
  first: number,
  visible: number,
  keys: boolean,
): string {
  if (mode === 'filter') return `/${filter}▏  type to filter · enter keep · esc clear`;
  const parts = [];
  if (filter) parts.push(`filter "${filter}": ${shown}/${total}`);
  if (visible < shown) parts.push(`rows ${first + 1}-${first + visible} of ${shown}`);
  if (keys)
    parts.push(
      mode === 'details' ? 'enter/esc close · ↑↓ select · q quit' : 'q quit · / filter · ↑↓ select · enter details',
    );
  return parts.join(' · ');
}

function Live(
  props: Omit<WatchProps, 'rows' | 'now' | 'log'> & {
    subscribe: (fn: (s: Partial<Pick<WatchProps, 'rows' | 'now' | 'log'>>) => void) => void;
  },
) {
  const { subscribe, ...rest } = props;
  const [state, setState] = useState<Pick<WatchProps, 'rows' | 'now' | 'log'>>({ rows: [], now: null, log: [] });
  const [, tick] = useState(0);
  useEffect(() => subscribe((s) => setState((old) => ({ ...old, ...s }))), []);
  // Relative times ("updated 40 s ago") move on between updates.
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 10_000);
    return () => clearInterval(t);
  }, []);
  return <MonitorWatch {...rest} {...state} />;
}

export interface WatchView {
  update(rows: WatchRow[], now: Date): void;
  log(entries: LogEntry[]): void;
  stop(): void;
}

export function startMonitorWatch(title: string, opts: { color: boolean; onQuit: () => void }): WatchView {
  let listener: ((s: Partial<Pick<WatchProps, 'rows' | 'now' | 'log'>>) => void) | undefined;
  const keys = Boolean(process.stdin.isTTY);
  const app = render(
    <Live title={title} color={opts.color} keys={keys} onQuit={opts.onQuit} subscribe={(fn) => (listener = fn)} />,
    {
      stdout: process.stdout,
      patchConsole: false,
      exitOnCtrlC: false,
    },
  );
  return {
    update: (rows, now) => listener?.({ rows, now }),
    log: (entries) => listener?.({ log: [...entries] }),
    stop: () => app.unmount(),
  };
}
