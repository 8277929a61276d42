/**
 * `reportsFrom: { dir: PATH }`: reads the pin-failure reports `pinctl serve --data PATH` appended
 * to `PATH/reports.log` since the last sweep (the I/O edge of monitor/report-findings.ts).
 *
 * Where the last sweep stopped (the log's inode and byte offset) is a history event written in the
 * sweep's own transaction, so a sweep that dies before its commit reads the same reports again and
 * a committed one never does: each report is counted once, across restarts and monitors sharing a
 * state. Rotation (the operator renames reports.log, as the service's log cap asks) is followed:
 * the rest of the renamed file is read first (found beside it by its inode), then the new log.
 * A truncated log is read again from its start.
 */
import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventWrite, MonitorState } from './state.js';
import type { ReportLine, ReportsCheck, ReportsPolicy } from './report-findings.js';

export interface ReportsSourceConfig {
  /** Stable id (SHA-256 of the absolute directory, shortened). */
  id: string;
  /** Absolute data directory of `pinctl serve`. */
  dir: string;
  /** As written in the config. */
  asWritten: string;
  policy: ReportsPolicy;
}

export interface ReportsCursor {
  /** Inode of the log the offset belongs to (a string: inode numbers can pass 2^53). */
  ino: string;
  offset: number;
  /**
   * SHA-256 (hex, shortened) of the log's first bytes up to the offset (at most HEAD_BYTES): a log
   * truncated and written again past the offset (copytruncate) starts differently, and is re-read.
   */
  head?: string;
}

const HEAD_BYTES = 512;

export const REPORTS_EVENT = 'reports-read';
export const REPORTS_LOG = 'reports.log';
/** At most this much of the log per sweep (the service caps it at 256 MB): a backlog is read over several sweeps. */
export const MAX_READ_BYTES = 16 * 1024 * 1024;

const cursorEndpoint = (id: string) => `reports:${id}`;

export interface ReportsRead {
  check: ReportsCheck;
  /** The cursor to commit with the sweep; null when nothing moved. */
  event: EventWrite | null;
}

/** The cursor the last committed sweep left, or null (never read: start at the log's beginning). */
export async function lastCursor(store: MonitorState, id: string): Promise<ReportsCursor | null> {
  const events = await store.history(cursorEndpoint(id), 1);
  const e = events.find((x) => x.type === REPORTS_EVENT);
  const d = e?.details as Partial<ReportsCursor> | undefined;
  if (!d || typeof d.ino !== 'string' || typeof d.offset !== 'number') return null;
  return { ino: d.ino, offset: d.offset, ...(typeof d.head === 'string' ? { head: d.head } : {}) };
}

export async function readReportsSince(cfg: ReportsSourceConfig, store: MonitorState, now: Date, maxBytes = MAX_READ_BYTES): Promise<ReportsRead> {
  const check: ReportsCheck = { source: cfg.id, label: cfg.asWritten, policy: cfg.policy, reports: [], error: null };
  const before = await lastCursor(store, cfg.id);
  let cursor = before;
  let skipped = 0;
  try {
    const path = join(cfg.dir, REPORTS_LOG);
    const st = await stat(path, { bigint: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null; // no report yet
      throw e;
    });
    const ino = st ? String(st.ino) : null;
    let start = 0;
    let budget = maxBytes;
    if (cursor && cursor.ino !== ino) {
      // Rotated: finish the renamed log first (reports.log.1, reports.log-20260601, …).
      const old = await findByInode(cfg.dir, cursor.ino);
      if (old) {
        const r = await readLines(old, cursor.offset, maxBytes);
        check.reports.push(...r.lines);
        skipped += r.skipped;
        budget -= r.end - cursor.offset;
        cursor = { ino: cursor.ino, offset: r.end };
        if (!r.atEnd) return finish(cfg, check, before, cursor, skipped, now);
      }
    } else if (cursor && st && st.size >= BigInt(cursor.offset) && (cursor.head === undefined || (await headOf(path, cursor.offset)) === cursor.head)) {
      start = cursor.offset;
    }
    if (st && ino) {
      const r = await readLines(path, start, budget);
      check.reports.push(...r.lines);
      skipped += r.skipped;
      cursor = { ino, offset: r.end, head: await headOf(path, r.end) };
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    check.error = { code: err.code ?? 'REPORTS_UNREADABLE', message: `${cfg.asWritten}/${REPORTS_LOG}: ${err.message}` };
  }
  return finish(cfg, check, before, cursor, skipped, now);
}

function finish(cfg: ReportsSourceConfig, check: ReportsCheck, before: ReportsCursor | null, after: ReportsCursor | null, skipped: number, now: Date): ReportsRead {
  if (!after || (before && before.ino === after.ino && before.offset === after.offset && before.head === after.head)) return { check, event: null };
  const endpoint = cursorEndpoint(cfg.id);
  const event: EventWrite = {
    at: now.toISOString(),
    endpoint,
    host: endpoint,
    address: null,
    type: REPORTS_EVENT,
    kind: null,
    severity: null,
    findingId: null,
    summary: `read ${check.reports.length} pin-failure report(s) from ${cfg.asWritten}/${REPORTS_LOG}${skipped ? ` (${skipped} unreadable line(s) skipped)` : ''}`,
    details: { ...after, read: check.reports.length, skipped },
  };
  return { check, event };
}

async function headOf(path: string, offset: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(offset, HEAD_BYTES));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex').slice(0, 32);
  } finally {
    await fh.close();
  }
}

async function findByInode(dir: string, ino: string): Promise<string | null> {
  for (const name of await readdir(dir)) {
    if (!name.startsWith(REPORTS_LOG) || name === REPORTS_LOG) continue;
    const st = await stat(join(dir, name), { bigint: true }).catch(() => null);
    if (st && String(st.ino) === ino) return join(dir, name);
  }
  return null;
}

/** Whole lines from `offset`, at most `maxBytes`; a line still being appended (no newline yet) waits. */
async function readLines(path: string, offset: number, maxBytes: number): Promise<{ lines: ReportLine[]; skipped: number; end: number; atEnd: boolean }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const want = Math.max(0, Math.min(size - offset, maxBytes));
    const buf = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const last = buf.lastIndexOf(0x0a, got - 1);
    const whole = last < 0 ? 0 : last + 1;
    const lines: ReportLine[] = [];
    let skipped = 0;
    for (const text of buf.subarray(0, whole).toString('utf8').split('\n')) {
      if (text === '') continue;
      const line = parseLine(text);
      if (line) lines.push(line);
      else skipped++;
    }
    return { lines, skipped, end: offset + whole, atEnd: offset + whole >= size };
  } finally {
    await fh.close();
  }
}

function parseLine(text: string): ReportLine | null {
  try {
    const v = JSON.parse(text) as Partial<ReportLine>;
    if (typeof v !== 'object' || v === null || typeof v.receivedAt !== 'string' || typeof v.report !== 'object' || v.report === null) return null;
    return { receivedAt: v.receivedAt, remote: typeof v.remote === 'string' ? v.remote : '', report: v.report };
  } catch {
    return null;
  }
}
