/**
 * The --watch event log, pure: the monitor's log lines as they came, with runs of sweeps that
 * changed nothing collapsed into one line ("12 sweeps, no change"), filtered like the table.
 */
export interface LogEntry {
  at: Date;
  text: string;
}

export interface LogLine {
  at: Date;
  text: string;
  /** How many quiet sweeps this line stands for (1 for any other line). */
  count: number;
  quiet: boolean;
}

/** A sweep summary line of monitor/runner.ts that opened, changed and resolved nothing. */
const QUIET = /^sweep \S+: .* 0 new, 0 changed, 0 resolved, \d+ open;/;

export function collapseLog(entries: LogEntry[]): LogLine[] {
  const out: LogLine[] = [];
  for (const e of entries) {
    const quiet = QUIET.test(e.text);
    const last = out.at(-1);
    if (quiet && last?.quiet) {
      last.count++;
      last.at = e.at;
      last.text = e.text;
      continue;
    }
    out.push({ at: e.at, text: e.text, count: 1, quiet });
  }
  return out;
}

/** What a collapsed line says: the latest quiet sweep, and how many there were. */
export function logText(l: LogLine): string {
  if (!l.quiet || l.count === 1) return l.text;
  const open = /(\d+) open;/.exec(l.text)?.[1] ?? '?';
  return `${l.count} sweeps, no change (${open} open); last: ${l.text}`;
}

export function filterLog(lines: LogLine[], filter: string): LogLine[] {
  const f = filter.trim().toLowerCase();
  return f ? lines.filter((l) => logText(l).toLowerCase().includes(f)) : lines;
}
