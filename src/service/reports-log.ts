/**
 * Reading `reports.log` (the pin-failure reports `pinctl serve` appends, one JSON line each) from a
 * cursor: the reader of `GET /v1/reports` and of the monitor's `reportsFrom: { dir }`.
 *
 * A cursor is the log's inode, a byte offset and a fingerprint of the log's first bytes. Rotation
 * (the operator renames reports.log, as the service's log cap asks) is followed: the rest of the
 * renamed file is read first (found beside reports.log by its inode), then the new log. A log that
 * was truncated (shorter than the offset, or starting with other bytes) is read again from its start.
 */
import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const REPORTS_LOG = 'reports.log';
const HEAD_BYTES = 512;

/** One line of reports.log as Service.appendReport writes it. */
export interface ReportLine {
  receivedAt: string;
  remote: string;
  /** What the app sent: the SDK's PinReport (src/sdk/core/report.ts), or any JSON object. */
  report: Record<string, unknown>;
}

export interface LogCursor {
  /** Inode of the log the offset belongs to (a string: inode numbers can pass 2^53). */
  ino: string;
  offset: number;
  /** SHA-256 (hex, shortened) of the log's first bytes up to the offset (at most 512). */
  head?: string;
}

export interface LogRead {
  lines: ReportLine[];
  /** Lines that are not a report line (not JSON, or another shape). */
  skipped: number;
  /** Where the next read starts; null while there is no log at all. */
  cursor: LogCursor | null;
  /** More is waiting beyond maxBytes. */
  more: boolean;
}

/** Whole lines after `cursor` (null: from the start), at most about `maxBytes` of them. */
export async function readReportsLog(dir: string, cursor: LogCursor | null, maxBytes: number): Promise<LogRead> {
  const out: LogRead = { lines: [], skipped: 0, cursor, more: false };
  const path = join(dir, REPORTS_LOG);
  const st = await stat(path, { bigint: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null; // no report yet, or renamed and none since
    throw e;
  });
  const ino = st ? String(st.ino) : null;
  let start = 0;
  let budget = maxBytes;
  if (cursor && cursor.ino !== ino) {
    const old = await findByInode(dir, cursor.ino);
    if (old) {
      const r = await readLines(old, cursor.offset, budget);
      take(out, r);
      budget -= r.end - cursor.offset;
      out.cursor = { ino: cursor.ino, offset: r.end };
      if (!r.atEnd) return { ...out, more: true };
    }
  } else if (cursor && st && st.size >= BigInt(cursor.offset)) {
    // Same file, long enough: still the same content only if it starts with the same bytes.
    const same = cursor.head === undefined || (await headOf(path, cursor.offset)) === cursor.head;
    if (same) start = cursor.offset;
  }
  if (st && ino) {
    const r = await readLines(path, start, budget);
    take(out, r);
    out.cursor = { ino, offset: r.end, head: await headOf(path, r.end) };
    out.more = !r.atEnd;
  }
  return out;
}

function take(out: LogRead, r: { lines: ReportLine[]; skipped: number }): void {
  for (const l of r.lines) out.lines.push(l);
  out.skipped += r.skipped;
}

/** `INO.OFFSET.HEAD` for URLs; null for anything else. */
export const formatCursor = (c: LogCursor) => `${c.ino}.${c.offset}.${c.head ?? ''}`;
export function parseCursor(s: string): LogCursor | null {
  const m = /^(\d{1,24})\.(\d{1,15})\.([0-9a-f]{32})?$/.exec(s);
  if (!m) return null;
  return { ino: m[1]!, offset: Number(m[2]), ...(m[3] ? { head: m[3] } : {}) };
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
interface Lines {
  lines: ReportLine[];
  skipped: number;
  end: number;
  atEnd: boolean;
}

async function readLines(path: string, offset: number, maxBytes: number): Promise<Lines> {
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
    const last = got === 0 ? -1 : buf.lastIndexOf(0x0a, got - 1);
    const whole = last + 1;
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
    if (typeof v !== 'object' || v === null || typeof v.receivedAt !== 'string') return null;
    if (typeof v.report !== 'object' || v.report === null || Array.isArray(v.report)) return null;
    return { receivedAt: v.receivedAt, remote: typeof v.remote === 'string' ? v.remote : '', report: v.report };
  } catch {
    return null;
  }
}
