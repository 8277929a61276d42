/**
 * The state store: SQLite in `<state>/monitor.db`, through @libsql/client.
 *
 * Why @libsql/client: it installs a prebuilt binary from the npm registry (better-sqlite3 12 builds
 * from source here, ~80 s on every clean install, since its prebuilt download is unreachable), and
 * node:sqlite needs Node 22 while pinctl supports Node 20. libsql is SQLite (same file format, same
 * WAL and transactions), and the same client speaks to a libsql/Turso server when a team wants one
 * shared database (see monitor/README.md for PostgreSQL).
 *
 * Consistency: a sweep's observations, finding changes, history events and queued alerts are
 * written in ONE write transaction (`transaction('write')`, BEGIN IMMEDIATE … COMMIT), in WAL mode with synchronous=FULL: a
 * kill -9 at any point leaves either the whole sweep or none of it. Alert delivery is an outbox:
 * see claimDue()/markSent() and monitor/README.md.
 */
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../src/durable-write.js';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { createClient, Client, InStatement, InValue, Row } from '@libsql/client';
import { makeDirs } from '../src/make-dirs.js';
import { InputError, describeError } from '../src/errors.js';
import { AlertType, CertRecord, Finding, Observation, Severity, StoredFinding } from './types.js';
import { addrKey } from './findings.js';

/**
 * 2: observations store their chain once per distinct chain, in `chains` (content-addressed), and
 * reference it by `chain_key`; their `data` then has `"chain": []`. A pinctl that knows only 1
 * would read those as chainless, so it is refused (the schema row is raised on open).
 */
export const SCHEMA_VERSION = 2;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS sweeps (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
     duration_ms REAL NOT NULL, endpoints INTEGER NOT NULL, addresses INTEGER NOT NULL, failures INTEGER NOT NULL,
     config_hash TEXT NOT NULL)`,
  // The newest observation of every address (and the newest one that had a chain): rewritten each sweep.
  `CREATE TABLE IF NOT EXISTS latest (
     endpoint TEXT NOT NULL, address TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, chain_data TEXT,
     PRIMARY KEY (endpoint, address))`,
  // History: an observation is appended only when what the address serves changed (chain or error
  // reason), so the table grows with changes, not with sweeps.
  `CREATE TABLE IF NOT EXISTS observations (
     id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, endpoint TEXT NOT NULL, host TEXT NOT NULL,
     address TEXT NOT NULL, at TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS observations_addr ON observations (endpoint, address, id)`,
  `CREATE TABLE IF NOT EXISTS findings (
     id TEXT PRIMARY KEY, key TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, endpoint TEXT NOT NULL,
     host TEXT NOT NULL, port INTEGER NOT NULL, address TEXT, title TEXT NOT NULL, explanation TEXT NOT NULL,
     action TEXT NOT NULL, signature TEXT NOT NULL, details TEXT NOT NULL, opened_at TEXT NOT NULL,
     updated_at TEXT NOT NULL, resolved_at TEXT, resolution TEXT, last_alert_at TEXT)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS findings_open_key ON findings (key) WHERE resolved_at IS NULL`,
  `CREATE TABLE IF NOT EXISTS events (
     id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, endpoint TEXT NOT NULL, host TEXT NOT NULL,
     address TEXT, type TEXT NOT NULL, kind TEXT, severity TEXT, finding_id TEXT, summary TEXT NOT NULL, details TEXT)`,
  `CREATE INDEX IF NOT EXISTS events_host ON events (host, id)`,
  `CREATE TABLE IF NOT EXISTS outbox (
     id TEXT PRIMARY KEY, channel TEXT NOT NULL, finding_id TEXT NOT NULL, type TEXT NOT NULL,
     created_at TEXT NOT NULL, message TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at TEXT NOT NULL, last_error TEXT, sent_at TEXT, lease_token TEXT)`,
  `CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at)`,
  `CREATE TABLE IF NOT EXISTS chains (key TEXT PRIMARY KEY, data TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS counters (name TEXT NOT NULL, label TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (name, label))`,
];

export interface OutboxRow {
  id: string;
  channel: 'email' | 'webhook';
  findingId: string;
  type: AlertType;
  createdAt: string;
  message: AlertMessage;
  status: 'pending' | 'sending' | 'sent' | 'dead';
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  sentAt: string | null;
}

/** Rendered once, when queued: a retry after a restart sends exactly the same bytes and ids. */
export interface AlertMessage {
  subject: string;
  text: string;
  /** JSON body for webhooks (Slack-compatible `text`). */
  webhook: Record<string, unknown>;
}

export interface HistoryEvent {
  at: string;
  endpoint: string;
  host: string;
  address: string | null;
  type: string;
  kind: string | null;
  severity: string | null;
  findingId: string | null;
  summary: string;
  details: unknown;
}

export interface SweepRecord {
  id: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  configHash: string;
}

export type EventWrite = Omit<HistoryEvent, 'details'> & { details?: unknown };

/** What the store knew of an address before a sweep. */
export interface AddressState {
  last: Observation;
  lastWithChain: Observation | null;
}

/** What an observation says about the address, for history: its chain, or why it had none. */
export const stateOf = (o: Observation) => (o.chain.length > 0 ? o.chain.map((c) => c.sha256).join(',') : '') + (o.error ? `|${o.error.reason}` : '');

export interface SweepWrite {
  sweep: SweepRecord;
  observations: Observation[];
  /** previousStates() as read before the sweep: decides which observations enter the history. */
  previous: Map<string, AddressState>;
  opened: StoredFinding[];
  updated: StoredFinding[];
  resolved: StoredFinding[];
  events: EventWrite[];
  outbox: Omit<OutboxRow, 'attempts' | 'lastError' | 'sentAt' | 'status'>[];
}

export class Store {
  private constructor(
    readonly dir: string,
    private readonly db: Client,
  ) {}

  static async open(dir: string): Promise<Store> {
    try {
      makeDirs(join(dir, 'certs'));
    } catch (e) {
      throw new InputError('OUTPUT_UNWRITABLE', `state ${dir}: cannot create the state directory (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const db = createClient({ url: `file:${join(dir, 'monitor.db')}`, timeout: 10_000 });
    const store = new Store(dir, db);
    try {
      await db.execute('PRAGMA journal_mode = WAL');
      await db.execute('PRAGMA synchronous = FULL');
      await db.batch(SCHEMA, 'write');
      // Added after schema 1 shipped (additive, older pinctl ignores it): the claim's lease token.
      const cols = await db.execute(`PRAGMA table_info(outbox)`);
      if (!cols.rows.some((r) => String(r.name) === 'lease_token')) await db.execute(`ALTER TABLE outbox ADD COLUMN lease_token TEXT`);
      const v = await db.execute(`SELECT value FROM meta WHERE key = 'schema'`);
      if (v.rows.length > 0 && Number(v.rows[0]!.value) > SCHEMA_VERSION) {
        throw new InputError('CONFIG_UNSUPPORTED', `state ${dir}: written by a newer pinctl (schema ${String(v.rows[0]!.value)}, this one knows ${SCHEMA_VERSION})`);
      }
      // Schema 2: `chain_key` columns (rows of schema 1 keep their chain inline, chain_key NULL).
      const migrate: InStatement[] = [];
      for (const table of ['latest', 'observations']) {
        const c = await db.execute(`PRAGMA table_info(${table})`);
        if (!c.rows.some((r) => String(r.name) === 'chain_key')) migrate.push(`ALTER TABLE ${table} ADD COLUMN chain_key TEXT`);
      }
      if (migrate.length > 0 || v.rows.length === 0 || Number(v.rows[0]!.value) < SCHEMA_VERSION) {
        migrate.push({ sql: `INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, args: [String(SCHEMA_VERSION)] });
        await db.batch(migrate, 'write');
      }
    } catch (e) {
      db.close();
      if (e instanceof InputError) throw e;
      throw new InputError('INPUT_UNREADABLE', `state ${dir}: cannot open monitor.db: ${describeError(e)}`);
    }
    return store;
  }

  close(): void {
    this.db.close();
  }

  certPath(sha256: string): string {
    return join(this.dir, 'certs', `${sha256}.pem`);
  }

  /** Content-addressed, written once, atomically: safe to repeat after a crash. */
  saveCertificate(sha256: string, der: Uint8Array): void {
    const path = this.certPath(sha256);
    if (existsSync(path)) return;
    const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
    writeFileAtomic(path, `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`);
  }

  /** What each address of these endpoints served at the last sweep, and last served with a chain. */
  async previousStates(endpoints: string[]): Promise<Map<string, AddressState>> {
    const out = new Map<string, AddressState>();
    if (endpoints.length === 0) return out;
    const rs = await this.db.execute({
      sql: `SELECT l.data, l.chain_data, c.key AS chain_key, c.data AS chain FROM latest l LEFT JOIN chains c ON c.key = l.chain_key WHERE l.endpoint IN (${endpoints.map(() => '?').join(',')})`,
      args: endpoints,
    });
    const chains = new Map<string, CertRecord[]>();
    for (const r of rs.rows) {
      const last = observationOf(r, chains);
      // chain_data is NULL while data itself has a chain (older stores wrote data twice: same thing).
      const lastWithChain = r.chain_data !== null ? (JSON.parse(String(r.chain_data)) as Observation) : last.chain.length > 0 ? last : null;
      out.set(addrKey(last.endpoint, last.address), { last, lastWithChain });
    }
    return out;
  }

  /** Every address of the last sweep that probed each endpoint. */
  async latestObservations(): Promise<Observation[]> {
    const rs = await this.db.execute(
      `SELECT l.data, c.key AS chain_key, c.data AS chain FROM latest l LEFT JOIN chains c ON c.key = l.chain_key
       WHERE l.seq = (SELECT MAX(seq) FROM latest WHERE endpoint = l.endpoint) ORDER BY l.endpoint, l.rowid`,
    );
    const chains = new Map<string, CertRecord[]>();
    return rs.rows.map((r) => observationOf(r, chains));
  }

  async lastSweep(): Promise<SweepRecord | null> {
    const rs = await this.db.execute(`SELECT * FROM sweeps ORDER BY seq DESC LIMIT 1`);
    const r = rs.rows[0];
    return r ? { id: String(r.id), startedAt: String(r.started_at), finishedAt: String(r.finished_at), durationMs: Number(r.duration_ms), configHash: String(r.config_hash) } : null;
  }

  async openFindings(): Promise<StoredFinding[]> {
    const rs = await this.db.execute(`SELECT * FROM findings WHERE resolved_at IS NULL ORDER BY opened_at, id`);
    return rs.rows.map(findingFromRow);
  }

  /** Findings of `kind` resolved at or after `sinceIso` (flapping detection). */
  async recentlyResolved(kind: string, sinceIso: string): Promise<StoredFinding[]> {
    const rs = await this.db.execute({ sql: `SELECT * FROM findings WHERE kind = ? AND resolved_at IS NOT NULL AND resolved_at >= ? ORDER BY resolved_at`, args: [kind, sinceIso] });
    return rs.rows.map(findingFromRow);
  }

  async finding(id: string): Promise<StoredFinding | null> {
    const rs = await this.db.execute({ sql: `SELECT * FROM findings WHERE id = ?`, args: [id] });
    return rs.rows[0] ? findingFromRow(rs.rows[0]) : null;
  }

  async history(hostOrEndpoint: string, limit = 200): Promise<HistoryEvent[]> {
    const rs = await this.db.execute({
      sql: `SELECT * FROM (SELECT * FROM events WHERE host = ? OR endpoint = ? ORDER BY id DESC LIMIT ?) ORDER BY id`,
      args: [hostOrEndpoint, hostOrEndpoint, limit],
    });
    return rs.rows.map(eventFromRow);
  }

  /** History events of one finding, oldest first (dynamic pinning: was it already published?). */
  async findingEvents(findingId: string): Promise<HistoryEvent[]> {
    const rs = await this.db.execute({ sql: `SELECT * FROM events WHERE finding_id = ? ORDER BY id`, args: [findingId] });
    return rs.rows.map(eventFromRow);
  }

  /** Appends history events outside a sweep's transaction (the outcome of a publish made after it). */
  async addEvents(events: EventWrite[]): Promise<void> {
    for (const e of events) {
      await this.db.execute({
        sql: `INSERT INTO events (at, endpoint, host, address, type, kind, severity, finding_id, summary, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        args: [e.at, e.endpoint, e.host, e.address, e.type, e.kind, e.severity, e.findingId, e.summary, e.details === undefined ? null : JSON.stringify(e.details)],
      });
    }
  }

  /**
   * Writes one sweep atomically. `faults.failAt` exists for crash tests: a statement that fails at
   * that point of the transaction, after which nothing of the sweep may be kept.
   */
  async commitSweep(w: SweepWrite, faults: { failAt?: number } = {}): Promise<void> {
    // Statements, or thunks making one when its turn comes (JSON and arguments built chunk by chunk).
    const s: (InStatement | (() => InStatement))[] = [];
    s.push({
      sql: `INSERT INTO sweeps (id, started_at, finished_at, duration_ms, endpoints, addresses, failures, config_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      args: [
        w.sweep.id,
        w.sweep.startedAt,
        w.sweep.finishedAt,
        w.sweep.durationMs,
        new Set(w.observations.map((o) => o.endpoint)).size,
        w.observations.length,
        w.observations.filter((o) => o.error).length,
        w.sweep.configHash,
      ],
    });
    // Few statements, many rows each: the client prepares every statement of a batch and the
    // prepared statements live until the JS garbage collector finalizes them, so one statement per
    // row (30,000 for 10,000 addresses) cost ~500 MB of native memory at commit time.
    const seq = `SELECT MAX(seq) FROM sweeps`;
    // History: only observations whose state changed since the previous sweep.
    const history = w.observations.filter((o) => {
      const before = w.previous.get(addrKey(o.endpoint, o.address));
      return !before || stateOf(before.last) !== stateOf(o);
    });
    // Each distinct chain once (content-addressed); rows reference it by chain_key.
    const keys = new Map<CertRecord[], string>();
    const distinct = new Map<string, string>();
    for (const o of w.observations) {
      if (o.chain.length === 0) continue;
      const json = JSON.stringify(o.chain);
      const key = createHash('sha256').update(json).digest('base64url');
      keys.set(o.chain, key);
      distinct.set(key, json);
    }
    const stored = (o: Observation) => (o.chain.length > 0 ? JSON.stringify({ ...o, chain: [] }) : JSON.stringify(o));
    const keyOf = (o: Observation) => keys.get(o.chain) ?? null;
    s.push(
      ...multiRow((values) => `INSERT OR IGNORE INTO chains (key, data) VALUES ${values}`, [...distinct], ([key, json]) => [key, json]),
      ...multiRow(
        (values) => `WITH s (seq) AS (${seq})
          INSERT INTO latest (endpoint, address, seq, data, chain_key, chain_data) SELECT v.column1, v.column2, s.seq, v.column3, v.column4, NULL FROM (VALUES ${values}) AS v, s WHERE true
          ON CONFLICT (endpoint, address) DO UPDATE SET seq = excluded.seq, data = excluded.data, chain_key = excluded.chain_key,
            chain_data = CASE WHEN excluded.chain_key IS NOT NULL THEN NULL ELSE COALESCE(latest.chain_data,
              CASE WHEN latest.chain_key IS NOT NULL THEN json_set(latest.data, '$.chain', json((SELECT data FROM chains WHERE key = latest.chain_key)))
                   WHEN json_array_length(latest.data, '$.chain') > 0 THEN latest.data END) END`,
        w.observations,
        // `chain_data` (the last observation that had a chain, whole) is stored only while the
        // address serves none: otherwise it is `data` + its chain (previousStates() reads it so).
        (o) => [o.endpoint, o.address, stored(o), keyOf(o)],
      ),
      ...multiRow(
        (values) => `WITH s (seq) AS (${seq})
          INSERT INTO observations (seq, endpoint, host, address, at, state, data, chain_key) SELECT s.seq, v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 FROM (VALUES ${values}) AS v, s`,
        history,
        (o) => [o.endpoint, o.host, o.address, o.at, stateOf(o), stored(o), keyOf(o)],
      ),
    );
    s.push(...multiRow((values) => `${INSERT_FINDING} VALUES ${values}`, w.opened, findingArgs));
    for (const f of [...w.updated, ...w.resolved]) {
      s.push({
        sql: `UPDATE findings SET severity = ?, title = ?, explanation = ?, action = ?, signature = ?, details = ?, updated_at = ?, resolved_at = ?, resolution = ?, last_alert_at = ?, address = ? WHERE id = ?`,
        args: [f.severity, f.title, f.explanation, f.action, f.signature, JSON.stringify(f.details), f.updatedAt, f.resolvedAt, f.resolution, f.lastAlertAt, f.address, f.id],
      });
    }
    s.push(
      ...multiRow(
        (values) => `INSERT INTO events (at, endpoint, host, address, type, kind, severity, finding_id, summary, details) VALUES ${values}`,
        w.events,
        (e) => [e.at, e.endpoint, e.host, e.address, e.type, e.kind, e.severity, e.findingId, e.summary, e.details === undefined ? null : JSON.stringify(e.details)],
      ),
      ...multiRow(
        (values) => `INSERT OR IGNORE INTO outbox (id, channel, finding_id, type, created_at, message, status, attempts, next_attempt_at) VALUES ${values}`,
        w.outbox,
        (a) => [a.id, a.channel, a.findingId, a.type, a.createdAt, JSON.stringify(a.message), 'pending', 0, a.nextAttemptAt],
      ),
    );
    s.push(bump('sweeps', ''));
    if (faults.failAt !== undefined) {
      // Crash simulation: a statement that fails part-way through the transaction.
      s.splice(Math.min(faults.failAt, s.length), 0, { sql: `INSERT INTO no_such_table VALUES (1)`, args: [] });
    }
    // One write transaction (BEGIN IMMEDIATE … COMMIT: a failure or a kill -9 before COMMIT keeps
    // none of it), fed statement by statement so each statement's arguments and prepared statement
    // can be freed while the next ones run, instead of all of them being alive until the end.
    const tx = await this.db.transaction('write');
    try {
      for (const st of s) await tx.execute(typeof st === 'function' ? st() : st);
      await tx.commit();
    } finally {
      tx.close();
    }
  }

  /**
   * Claims ONE due alert of `channel`, atomically (one UPDATE … RETURNING): the row moves to
   * 'sending' with a lease of `leaseMs` and a fresh lease token. Leasing one row at a time (claim →
   * send → mark) means a lease never covers rows its holder has not reached yet, so a second
   * deliverer (another process, or the same one) cannot re-claim a row that is still queued behind
   * slow sends; a row whose sender crashed becomes due again when its lease ends.
   */
  async claimNext(now: Date, leaseMs: number, channel: string): Promise<(OutboxRow & { leaseToken: string }) | null> {
    const token = randomUUID();
    const rs = await this.db.execute({
      sql: `UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?, lease_token = ?
            WHERE id = (SELECT id FROM outbox WHERE channel = ? AND status IN ('pending', 'sending') AND next_attempt_at <= ? ORDER BY created_at, id LIMIT 1)
            RETURNING *`,
      args: [new Date(now.getTime() + leaseMs).toISOString(), token, channel, now.toISOString()],
    });
    const r = rs.rows[0];
    return r ? { ...outboxFromRow(r), leaseToken: token } : null;
  }

  /** Batch claim (tests and tools): every due row, each with its own lease token. */
  async claimDue(now: Date, leaseMs: number, limit = 100): Promise<(OutboxRow & { leaseToken: string })[]> {
    const out: (OutboxRow & { leaseToken: string })[] = [];
    for (const channel of await this.channels()) {
      while (out.length < limit) {
        const row = await this.claimNext(now, leaseMs, channel);
        if (!row) break;
        out.push(row);
      }
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Every channel that has rows in the outbox. */
  async channels(): Promise<string[]> {
    const rs = await this.db.execute(`SELECT DISTINCT channel FROM outbox ORDER BY channel`);
    return rs.rows.map((r) => String(r.channel));
  }

  /**
   * Commits 'sent' only while this deliverer still holds the lease (`leaseToken` as claimed); false
   * when the lease was lost (it ran out and another deliverer claimed the row).
   */
  async markSent(id: string, channel: string, now: Date, leaseToken?: string): Promise<boolean> {
    return this.whileLeased(id, leaseToken, { sql: `UPDATE outbox SET status = 'sent', sent_at = ?, last_error = NULL, lease_token = NULL WHERE id = ?`, args: [now.toISOString(), id] }, bump('alerts_sent', channel));
  }

  async markFailed(id: string, channel: string, error: string, nextAttemptAt: Date | null, leaseToken?: string): Promise<boolean> {
    return this.whileLeased(
      id,
      leaseToken,
      nextAttemptAt
        ? { sql: `UPDATE outbox SET status = 'pending', last_error = ?, next_attempt_at = ?, lease_token = NULL WHERE id = ?`, args: [error, nextAttemptAt.toISOString(), id] }
        : { sql: `UPDATE outbox SET status = 'dead', last_error = ?, lease_token = NULL WHERE id = ?`, args: [error, id] },
      bump('alerts_failed', channel),
    );
  }

  private async whileLeased(id: string, leaseToken: string | undefined, update: InStatement, counter: InStatement): Promise<boolean> {
    const tx = await this.db.transaction('write');
    try {
      if (leaseToken !== undefined) {
        const rs = await tx.execute({ sql: `SELECT 1 FROM outbox WHERE id = ? AND status = 'sending' AND lease_token = ?`, args: [id, leaseToken] });
        if (rs.rows.length === 0) {
          await tx.rollback();
          return false;
        }
      }
      await tx.execute(update);
      await tx.execute(counter);
      await tx.commit();
      return true;
    } finally {
      tx.close();
    }
  }

  async outbox(status?: OutboxRow['status']): Promise<OutboxRow[]> {
    const rs = status
      ? await this.db.execute({ sql: `SELECT * FROM outbox WHERE status = ? ORDER BY created_at, id`, args: [status] })
      : await this.db.execute(`SELECT * FROM outbox ORDER BY created_at, id`);
    return rs.rows.map(outboxFromRow);
  }

  async counters(): Promise<{ name: string; label: string; value: number }[]> {
    const rs = await this.db.execute(`SELECT name, label, value FROM counters ORDER BY name, label`);
    return rs.rows.map((r) => ({ name: String(r.name), label: String(r.label), value: Number(r.value) }));
  }

  async pendingByChannel(): Promise<Map<string, number>> {
    const rs = await this.db.execute(`SELECT channel, COUNT(*) AS n FROM outbox WHERE status IN ('pending', 'sending') GROUP BY channel`);
    return new Map(rs.rows.map((r) => [String(r.channel), Number(r.n)]));
  }

  /** When each endpoint's served state last changed (the newest history observation). */
  async lastChanges(): Promise<Map<string, string>> {
    const rs = await this.db.execute(`SELECT endpoint, MAX(at) AS at FROM observations GROUP BY endpoint`);
    return new Map(rs.rows.map((r) => [String(r.endpoint), String(r.at)]));
  }

  async chainChanges(): Promise<Map<string, number>> {
    const rs = await this.db.execute(`SELECT endpoint, COUNT(*) AS n FROM findings WHERE kind = 'chain-drift' GROUP BY endpoint`);
    return new Map(rs.rows.map((r) => [String(r.endpoint), Number(r.n)]));
  }

  /** For tests and `status`: raw counts. */
  async count(table: 'observations' | 'latest' | 'findings' | 'events' | 'outbox' | 'sweeps'): Promise<number> {
    const rs = await this.db.execute(`SELECT COUNT(*) AS n FROM ${table}`);
    return Number(rs.rows[0]!.n);
  }
}

function bump(name: string, label: string): InStatement {
  return { sql: `INSERT INTO counters (name, label, value) VALUES (?, ?, 1) ON CONFLICT (name, label) DO UPDATE SET value = value + 1`, args: [name, label] };
}

const INSERT_FINDING = `INSERT INTO findings (id, key, kind, severity, endpoint, host, port, address, title, explanation, action, signature, details, opened_at, updated_at, resolved_at, resolution, last_alert_at)`;

function findingArgs(f: StoredFinding): unknown[] {
  return [f.id, f.key, f.kind, f.severity, f.endpoint, f.host, f.port, f.address, f.title, f.explanation, f.action, f.signature, JSON.stringify(f.details), f.openedAt, f.updatedAt, f.resolvedAt, f.resolution, f.lastAlertAt];
}

/** Rows per statement: few prepared statements per sweep, far below SQLite's 32,766 parameters. */
export const ROWS_PER_STATEMENT = 200;

/**
 * `items` as INSERTs of up to ROWS_PER_STATEMENT rows each; `sql(values)` gets "(?, ?), (?, ?)…".
 * Each statement is made when executed, so only one chunk's arguments are alive at a time.
 */
function multiRow<T>(sql: (values: string) => string, items: T[], row: (item: T) => unknown[]): (() => InStatement)[] {
  const out: (() => InStatement)[] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) {
    const start = i;
    out.push(() => {
      const rows = items.slice(start, start + ROWS_PER_STATEMENT).map(row);
      const one = `(${rows[0]!.map(() => '?').join(', ')})`;
      return { sql: sql(rows.map(() => one).join(', ')), args: rows.flat() as InValue[] };
    });
  }
  return out;
}

/** A `latest` row (data, chain_key, chain) as the Observation it stored; chains parsed once per key. */
function observationOf(r: Row, chains: Map<string, CertRecord[]>): Observation {
  const o = JSON.parse(String(r.data)) as Observation;
  if (r.chain_key !== null && r.chain_key !== undefined && r.chain !== null) {
    const key = String(r.chain_key);
    let chain = chains.get(key);
    if (!chain) chains.set(key, (chain = JSON.parse(String(r.chain)) as CertRecord[]));
    o.chain = chain;
  }
  return o;
}

function findingFromRow(r: Row): StoredFinding {
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: String(r.id),
    key: String(r.key),
    kind: String(r.kind) as Finding['kind'],
    severity: String(r.severity) as Severity,
    endpoint: String(r.endpoint),
    host: String(r.host),
    port: Number(r.port),
    address: str(r.address),
    title: String(r.title),
    explanation: String(r.explanation),
    action: String(r.action),
    signature: String(r.signature),
    details: JSON.parse(String(r.details)) as Record<string, unknown>,
    openedAt: String(r.opened_at),
    updatedAt: String(r.updated_at),
    resolvedAt: str(r.resolved_at),
    resolution: str(r.resolution),
    lastAlertAt: str(r.last_alert_at),
  };
}

function outboxFromRow(r: Row): OutboxRow {
  return {
    id: String(r.id),
    channel: String(r.channel) as OutboxRow['channel'],
    findingId: String(r.finding_id),
    type: String(r.type) as AlertType,
    createdAt: String(r.created_at),
    message: JSON.parse(String(r.message)) as AlertMessage,
    status: String(r.status) as OutboxRow['status'],
    attempts: Number(r.attempts),
    nextAttemptAt: String(r.next_attempt_at),
    lastError: r.last_error === null ? null : String(r.last_error),
    sentAt: r.sent_at === null ? null : String(r.sent_at),
  };
}

function eventFromRow(r: Record<string, unknown>): HistoryEvent {
  return {
    at: String(r.at),
    endpoint: String(r.endpoint),
    host: String(r.host),
    address: r.address === null ? null : String(r.address),
    type: String(r.type),
    kind: r.kind === null ? null : String(r.kind),
    severity: r.severity === null ? null : String(r.severity),
    findingId: r.finding_id === null ? null : String(r.finding_id),
    summary: String(r.summary),
    details: r.details === null ? null : JSON.parse(String(r.details)),
  };
}
