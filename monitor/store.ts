/**
 * The state store: SQLite in `<state>/monitor.db`, through libsql (better-sqlite3's API).
 *
 * Why libsql: it installs a prebuilt binary from the npm registry (better-sqlite3 12 builds from
 * source here, ~80 s on every clean install, since its prebuilt download is unreachable), and
 * node:sqlite needs Node 22 while pinctl supports Node 20. Each SQL text is prepared once and reused
 * for every row: @libsql/client prepared a statement per call, each holding a copy of its bound
 * rows until the GC finalized it (~150 MB of native memory for a 10,000-endpoint first sweep).
 * The calls are synchronous; the methods stay async so another backend (see monitor/README.md for
 * PostgreSQL) fits the same interface.
 *
 * Consistency: a sweep's observations, finding changes, history events and queued alerts are
 * written in ONE write transaction (BEGIN IMMEDIATE … COMMIT), in WAL mode with synchronous=FULL: a
 * kill -9 at any point leaves either the whole sweep or none of it. Alert delivery is an outbox:
 * see claimDue()/markSent() and monitor/README.md.
 */
import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../src/durable-write.js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import Database from 'libsql';

type Statement = Database.Statement;
import { makeDirs } from '../src/make-dirs.js';
import { InputError, describeError } from '../src/errors.js';
import { CertRecord, Observation, StoredFinding } from './types.js';
import type { AddressState, EventWrite, HistoryEvent, MonitorState, OutboxRow, SweepLease, SweepRecord, SweepWrite } from './state.js';
import {
  Arg,
  FINDING_COLUMNS,
  addressStatesOf,
  Row,
  eventArgs,
  eventFromRow,
  findingArgs,
  findingDetailsJson,
  findingFromRow,
  observationOf,
  outboxFromRow,
  sweepFromRow,
  sweepRows,
  vantageObservationsOf,
} from './state-rows.js';
import { DEFAULT_VANTAGE, vantageOf } from './vantage.js';
import type { BatchClaim, BatchProgress, BatchResult, SweepRun } from './state.js';
import { runTables } from './run-rows.js';
import { SqliteRuns } from './store-runs.js';

export type { AddressState, AlertMessage, EventWrite, HistoryEvent, OutboxRow, SweepRecord, SweepWrite } from './state.js';
import { claimDueRows, stateOf } from './state.js';
import { ACTIVE_STATES, Proposal, ProposalChange, historyOf, proposalArgs, proposalData, proposalFromRow } from './proposal-state.js';
import { PROPOSAL_EVENT_TYPES, proposalsFromEvents } from './proposal-migrate.js';
export { stateOf };

/**
 * 2: observations store their chain once per distinct chain, in `chains` (content-addressed), and
 * reference it by `chain_key`; their `data` then has `"chain": []`. A pinctl that knows only 1
 * would read those as chainless, so it is refused (the schema row is raised on open).
 * 3: vantages (monitor/vantage.ts): `latest` is keyed by (vantage, endpoint, address), and
 * `observations`, `sweeps` and `findings` record the vantage; rows of schema 2 are the default vantage.
 */
export const SCHEMA_VERSION = 3;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS sweeps (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
     duration_ms REAL NOT NULL, endpoints INTEGER NOT NULL, addresses INTEGER NOT NULL, failures INTEGER NOT NULL,
     config_hash TEXT NOT NULL, vantage TEXT NOT NULL DEFAULT 'default')`,
  // The newest observation of every address per vantage (and the newest one that had a chain): rewritten each sweep.
  LATEST_TABLE('latest'),
  // History: an observation is appended only when what the address serves changed (chain or error
  // reason), so the table grows with changes, not with sweeps.
  `CREATE TABLE IF NOT EXISTS observations (
     id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, endpoint TEXT NOT NULL, host TEXT NOT NULL,
     address TEXT NOT NULL, at TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL, vantage TEXT NOT NULL DEFAULT 'default')`,
  `CREATE INDEX IF NOT EXISTS observations_addr ON observations (endpoint, address, id)`,
  `CREATE TABLE IF NOT EXISTS findings (
     id TEXT PRIMARY KEY, key TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, endpoint TEXT NOT NULL,
     host TEXT NOT NULL, port INTEGER NOT NULL, address TEXT, title TEXT NOT NULL, explanation TEXT NOT NULL,
     action TEXT NOT NULL, signature TEXT NOT NULL, details TEXT NOT NULL, opened_at TEXT NOT NULL,
     updated_at TEXT NOT NULL, resolved_at TEXT, resolution TEXT, last_alert_at TEXT, vantage TEXT)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS findings_open_key ON findings (key) WHERE resolved_at IS NULL`,
  `CREATE TABLE IF NOT EXISTS events (
     id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, endpoint TEXT NOT NULL, host TEXT NOT NULL,
     address TEXT, type TEXT NOT NULL, kind TEXT, severity TEXT, finding_id TEXT, summary TEXT NOT NULL, details TEXT)`,
  `CREATE INDEX IF NOT EXISTS events_host ON events (host, id)`,
  `CREATE INDEX IF NOT EXISTS events_type ON events (type, endpoint, id)`,
  `CREATE TABLE IF NOT EXISTS outbox (
     id TEXT PRIMARY KEY, channel TEXT NOT NULL, finding_id TEXT NOT NULL, type TEXT NOT NULL,
     created_at TEXT NOT NULL, message TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at TEXT NOT NULL, last_error TEXT, sent_at TEXT, lease_token TEXT)`,
  `CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at)`,
  `CREATE TABLE IF NOT EXISTS chains (key TEXT PRIMARY KEY, data TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS counters (name TEXT NOT NULL, label TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (name, label))`,
  // Dynamic-pinning proposals (monitor/proposal-state.ts): typed columns for what is queried, the rest in `data`.
  `CREATE TABLE IF NOT EXISTS proposals (
     id TEXT PRIMARY KEY, domain TEXT NOT NULL, state TEXT NOT NULL, version INTEGER NOT NULL,
     created_at TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS proposals_state ON proposals (state, domain)`,
  // Shared sweeps (additive: a pinctl without them ignores the tables).
  ...runTables('TEXT', 'INTEGER'),
];

function LATEST_TABLE(name: string): string {
  return `CREATE TABLE IF NOT EXISTS ${name} (
     vantage TEXT NOT NULL DEFAULT 'default', endpoint TEXT NOT NULL, address TEXT NOT NULL, seq INTEGER NOT NULL,
     data TEXT NOT NULL, chain_data TEXT, chain_key TEXT, PRIMARY KEY (vantage, endpoint, address))`;
}

/** Schema 2 → 3: `latest` gets the vantage in its key (a new table: SQLite cannot change a primary key). */
const LATEST_TO_V3 = [
  LATEST_TABLE('latest_v3'),
  `INSERT INTO latest_v3 (vantage, endpoint, address, seq, data, chain_data, chain_key)
     SELECT 'default', endpoint, address, seq, data, chain_data, chain_key FROM latest ORDER BY rowid`,
  `DROP TABLE latest`,
  `ALTER TABLE latest_v3 RENAME TO latest`,
];

/** One statement and its arguments, run inside a transaction. */
type Step = { sql: string; args: Arg[] };

/** How long a SQLite sweep lead lasts at most when its holder hangs (a dead holder's pid frees it at once). */
const SWEEP_LEASE_MS = 15 * 60_000;

/** A SQLite state is on this machine: a holder whose process is gone holds nothing. */
export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Store implements MonitorState {
  /** Prepared once per SQL text and reused: binding new values costs nothing to keep alive. */
  private readonly statements = new Map<string, Statement>();
  /** Shared sweeps (monitor/store-runs.ts), through this store's statements and transactions. */
  private readonly runs = new SqliteRuns({ all: (sql, args) => this.all(sql, args), run: (sql, args) => this.run(sql, args), transaction: (fn) => this.transaction(fn) });

  private constructor(
    readonly dir: string,
    private readonly db: Database.Database,
  ) {}

  /**
   * Opens (creating or upgrading) the state in `dir`. `readOnly` (monitor status) writes nothing:
   * no directory, schema or journal change, so it works on a full or read-only disk (a state not
   * created yet is created as usual).
   */
  static async open(dir: string, opts: { readOnly?: boolean } = {}): Promise<Store> {
    const file = join(dir, 'monitor.db');
    if (opts.readOnly && existsSync(file)) return Store.openReadOnly(dir, file);
    try {
      makeDirs(join(dir, 'certs'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new InputError('OUTPUT_UNWRITABLE', `state ${dir}: cannot create the state directory (${code})`, {
        hint: code === 'ENOSPC' ? `free space on the disk holding ${dir}` : `check that ${dir} can be created and written by this user`,
      });
    }
    let db: Database.Database;
    try {
      db = new Database(file, { timeout: 10_000 });
    } catch (e) {
      throw stateError(file, e);
    }
    const store = new Store(dir, db);
    try {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = FULL');
      store.transaction(() => {
        for (const sql of SCHEMA) db.exec(sql);
      });
      // Added after schema 1 shipped (additive, older pinctl ignores it): the claim's lease token.
      if (!store.hasColumn('outbox', 'lease_token')) db.exec(`ALTER TABLE outbox ADD COLUMN lease_token TEXT`);
      const v = store.all(`SELECT value FROM meta WHERE key = 'schema'`)[0];
      if (v && Number(v.value) > SCHEMA_VERSION) {
        throw new InputError('CONFIG_UNSUPPORTED', `state ${dir}: written by a newer pinctl (schema ${String(v.value)}, this one knows ${SCHEMA_VERSION})`);
      }
      // Schema 2: `chain_key` columns (rows of schema 1 keep their chain inline, chain_key NULL).
      const missing = ['latest', 'observations'].filter((t) => !store.hasColumn(t, 'chain_key'));
      if (missing.length > 0 || !v || Number(v.value) < SCHEMA_VERSION) {
        store.transaction(() => {
          for (const t of missing) db.exec(`ALTER TABLE ${t} ADD COLUMN chain_key TEXT`);
          store.addVantageColumns();
          store.run(`INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [String(SCHEMA_VERSION)]);
        });
      }
      store.transaction(() => store.migrateProposals());
    } catch (e) {
      store.close();
      if (e instanceof InputError) throw e;
      throw stateError(file, e);
    }
    return store;
  }

  /**
   * Read-only. A WAL database still needs its -shm file, which a full disk cannot give: then the
   * file is read as immutable (no locks, no WAL; what the last checkpoint holds, at most a sweep old).
   */
  private static openReadOnly(dir: string, file: string): Store {
    const open = (name: string) => {
      const db = new Database(name, { readonly: true, fileMustExist: true, timeout: 10_000 } as Database.Options);
      try {
        db.prepare(`SELECT value FROM meta LIMIT 1`).all();
        return db;
      } catch (e) {
        db.close();
        throw e;
      }
    };
    try {
      return new Store(dir, open(file));
    } catch (first) {
      if (!/disk I\/O|full|readonly|read-only|unable to open|IOERR|CANTOPEN/i.test(`${describeError(first)} ${String((first as { code?: unknown }).code ?? '')}`)) {
        throw stateError(file, first);
      }
      try {
        return new Store(dir, open(`${pathToFileURL(file).href}?immutable=1`));
      } catch {
        throw stateError(file, first);
      }
    }
  }

  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }

  private statement(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private all(sql: string, args: Arg[] = []): Row[] {
    try {
      return this.statement(sql).all(args) as Row[];
    } catch (e) {
      throw stateError(join(this.dir, 'monitor.db'), e);
    }
  }

  private run(sql: string, args: Arg[] = []): { changes: number; lastInsertRowid: number | bigint } {
    try {
      return this.statement(sql).run(args) as { changes: number; lastInsertRowid: number | bigint };
    } catch (e) {
      throw stateError(join(this.dir, 'monitor.db'), e);
    }
  }

  /** Schema 3 on a state of schema 2 (inside the upgrade's transaction). */
  private addVantageColumns(): void {
    if (!this.hasColumn('latest', 'vantage')) for (const sql of LATEST_TO_V3) this.db.exec(sql);
    for (const t of ['observations', 'sweeps']) if (!this.hasColumn(t, 'vantage')) this.db.exec(`ALTER TABLE ${t} ADD COLUMN vantage TEXT NOT NULL DEFAULT 'default'`);
    if (!this.hasColumn('findings', 'vantage')) this.db.exec(`ALTER TABLE findings ADD COLUMN vantage TEXT`);
  }

  private hasColumn(table: string, column: string): boolean {
    return (this.db.prepare(`PRAGMA table_info(${table})`).all() as Row[]).some((r) => String(r.name) === column);
  }

  /**
   * BEGIN IMMEDIATE … COMMIT around `fn` (synchronous, so nothing else of this process runs inside
   * it); any exception rolls back. A kill -9 before COMMIT leaves none of it (WAL).
   */
  private transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw e;
    }
  }

  /**
   * A leased row in `meta` (written under BEGIN IMMEDIATE): a second process on this directory waits
   * for the holder to release it, or for the lease to run out when the holder died.
   */
  async leadSweep(vantage = DEFAULT_VANTAGE, leaseMs = SWEEP_LEASE_MS): Promise<SweepLease | null> {
    return this.leaseRow(vantage === DEFAULT_VANTAGE ? 'sweep_lead' : `sweep_lead:${vantage}`, leaseMs);
  }

  async leadDecision(): Promise<SweepLease | null> {
    return this.leaseRow('decision_lead', SWEEP_LEASE_MS);
  }

  private leaseRow(key: string, leaseMs: number): SweepLease | null {
    const token = randomUUID();
    const now = Date.now();
    const got = this.transaction(() => {
      const held = this.all(`SELECT value FROM meta WHERE key = ?`, [key])[0];
      const [, until, pid] = held ? String(held.value).split(' ') : [];
      if (held && Number(until) > now && alive(Number(pid))) return false;
      this.run(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, `${token} ${now + leaseMs} ${process.pid}`]);
      return true;
    });
    if (!got) return null;
    return {
      release: async () => {
        if (!this.db.open) return;
        this.transaction(() => this.run(`DELETE FROM meta WHERE key = ? AND value LIKE ?`, [key, `${token} %`]));
      },
    };
  }

  async openRun(run: Omit<SweepRun, 'batches'>, batches: string[][]): Promise<boolean> {
    return this.runs.openRun(run, batches);
  }

  async openedRun(vantage: string): Promise<SweepRun | null> {
    return this.runs.openedRun(vantage);
  }

  async dropRun(id: string): Promise<void> {
    this.runs.dropRun(id);
  }

  async claimBatch(run: string, now: Date, leaseMs: number, claimer: string): Promise<BatchClaim | null> {
    return this.runs.claimBatch(run, now, leaseMs, claimer);
  }

  async renewBatch(claim: BatchClaim, now: Date, leaseMs: number): Promise<boolean> {
    return this.runs.renewBatch(claim, now, leaseMs);
  }

  async completeBatch(claim: BatchClaim, result: BatchResult): Promise<boolean> {
    return this.runs.completeBatch(claim, result);
  }

  async batchProgress(run: string, now: Date): Promise<BatchProgress> {
    return this.runs.batchProgress(run, now);
  }

  batchResults(run: string): AsyncIterable<BatchResult> {
    return this.runs.batchResults(run);
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
  async previousStates(endpoints: string[], vantage = DEFAULT_VANTAGE): Promise<Map<string, AddressState>> {
    if (endpoints.length === 0) return new Map();
    // The ids as one JSON argument: one prepared statement whatever the number of endpoints.
    const rows = this.all(
      `SELECT l.data, l.chain_data, c.key AS chain_key, c.data AS chain FROM latest l LEFT JOIN chains c ON c.key = l.chain_key
       WHERE l.vantage = ? AND l.endpoint IN (SELECT value FROM json_each(?))`,
      [vantage, JSON.stringify(endpoints)],
    );
    return addressStatesOf(rows);
  }

  /** Every address of the last sweep of each vantage that probed each endpoint. */
  async latestObservations(): Promise<Observation[]> {
    // A state of schema 2 opened read-only (status before the first sweep of this version) has no vantage column.
    const v = this.hasColumn('latest', 'vantage');
    const rows = this.all(
      `SELECT l.data, c.key AS chain_key, c.data AS chain FROM latest l LEFT JOIN chains c ON c.key = l.chain_key
       WHERE l.seq = (SELECT MAX(seq) FROM latest x WHERE x.endpoint = l.endpoint${v ? ' AND x.vantage = l.vantage' : ''}) ORDER BY l.endpoint, l.rowid`,
    );
    const chains = new Map<string, CertRecord[]>();
    return rows.map((r) => observationOf(r, chains));
  }

  async otherVantages(vantage: string, endpoints: string[]): Promise<Observation[]> {
    if (endpoints.length === 0) return [];
    const rows = this.all(
      `SELECT l.vantage, l.data, c.key AS chain_key, c.data AS chain FROM latest l LEFT JOIN chains c ON c.key = l.chain_key
       WHERE l.vantage <> ? AND l.endpoint IN (SELECT value FROM json_each(?))
         AND l.seq = (SELECT MAX(seq) FROM latest x WHERE x.endpoint = l.endpoint AND x.vantage = l.vantage)
       ORDER BY l.endpoint, l.vantage, l.rowid`,
      [vantage, JSON.stringify(endpoints)],
    );
    return vantageObservationsOf(rows);
  }

  async lastSweep(vantage?: string): Promise<SweepRecord | null> {
    const r = (vantage === undefined ? this.all(`SELECT * FROM sweeps ORDER BY seq DESC LIMIT 1`) : this.all(`SELECT * FROM sweeps WHERE vantage = ? ORDER BY seq DESC LIMIT 1`, [vantage]))[0];
    return r ? sweepFromRow(r) : null;
  }

  async openFindings(): Promise<StoredFinding[]> {
    return this.all(`SELECT * FROM findings WHERE resolved_at IS NULL ORDER BY opened_at, id`).map(findingFromRow);
  }

  /** Findings of `kind` resolved at or after `sinceIso` (flapping detection). */
  async recentlyResolved(kind: string, sinceIso: string): Promise<StoredFinding[]> {
    return this.all(`SELECT * FROM findings WHERE kind = ? AND resolved_at IS NOT NULL AND resolved_at >= ? ORDER BY resolved_at`, [kind, sinceIso]).map(findingFromRow);
  }

  async finding(id: string): Promise<StoredFinding | null> {
    const r = this.all(`SELECT * FROM findings WHERE id = ?`, [id])[0];
    return r ? findingFromRow(r) : null;
  }

  async history(hostOrEndpoint: string, limit = 200): Promise<HistoryEvent[]> {
    return this.all(`SELECT * FROM (SELECT * FROM events WHERE host = ? OR endpoint = ? ORDER BY id DESC LIMIT ?) ORDER BY id`, [hostOrEndpoint, hostOrEndpoint, limit]).map(eventFromRow);
  }

  /** History events of one finding, oldest first (dynamic pinning: was it already published?). */
  async findingEvents(findingId: string): Promise<HistoryEvent[]> {
    return this.all(`SELECT * FROM events WHERE finding_id = ? ORDER BY id`, [findingId]).map(eventFromRow);
  }

  async proposals(filter: { active?: boolean } = {}): Promise<Proposal[]> {
    // A state this version has not opened for writing yet (status reads it read-only) has no table.
    if (this.all(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'proposals'`).length === 0) return [];
    const where = filter.active ? `WHERE state IN (${ACTIVE_STATES.map(() => '?').join(', ')})` : '';
    return this.all(`SELECT * FROM proposals ${where} ORDER BY created_at, rowid`, filter.active ? [...ACTIVE_STATES] : []).map(proposalFromRow);
  }

  async applyProposalChanges(changes: ProposalChange[]): Promise<{ lost: ProposalChange[] }> {
    return this.transaction(() => ({ lost: changes.filter((c) => !this.applyProposal(c)) }));
  }

  /** Inside a transaction: one change by compare-and-set on the version, with its history; false when it lost. */
  private applyProposal(c: ProposalChange): boolean {
    const applied =
      c.op === 'create'
        ? this.run(`INSERT OR IGNORE INTO proposals (id, domain, state, version, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)`, proposalArgs(c.proposal))
        : this.run(`UPDATE proposals SET state = ?, version = ?, updated_at = ?, data = ? WHERE id = ? AND version = ?`, [
            c.after.state,
            c.after.version,
            c.after.updatedAt,
            proposalData(c.after),
            c.after.id,
            c.before.version,
          ]);
    if (applied.changes === 0) return false;
    for (const e of historyOf(c)) this.run(INSERT_EVENT, eventArgs(e));
    return true;
  }

  /** Proposals that older versions kept only as history events get their rows (once: ids come from the events). */
  private migrateProposals(): void {
    if (this.all(`SELECT 1 FROM meta WHERE key = 'proposals_migrated'`).length > 0) return;
    const types = PROPOSAL_EVENT_TYPES;
    const events = this.all(`SELECT * FROM events WHERE type IN (${types.map(() => '?').join(', ')}) ORDER BY id`, types).map((r) => ({ ...eventFromRow(r), id: Number(r.id) }));
    for (const p of proposalsFromEvents(events)) {
      this.run(`INSERT OR IGNORE INTO proposals (id, domain, state, version, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)`, proposalArgs(p));
    }
    this.run(`INSERT INTO meta (key, value) VALUES ('proposals_migrated', '1') ON CONFLICT (key) DO NOTHING`);
  }

  /** Appends history events outside a sweep's transaction (the outcome of a publish made after it). */
  async addEvents(events: EventWrite[]): Promise<void> {
    this.transaction(() => {
      for (const e of events) this.run(INSERT_EVENT, eventArgs(e));
    });
  }

  /**
   * Writes one sweep atomically. `faults.failAt` exists for crash tests: a statement that fails at
   * that point of the transaction, after which nothing of the sweep may be kept. Returns the retire
   * events not written because another monitor recorded that decision first.
   */
  async commitSweep(w: SweepWrite, faults: { failAt?: number } = {}): Promise<{ lost: ProposalChange[] }> {
    const { history, distinct, stored, keyOf, failures, endpoints } = sweepRows(w);

    // Each step is a list of rows for one prepared statement, made when its turn comes (only one
    // row's JSON alive at a time). One write transaction: a failure or a kill -9 before COMMIT
    // keeps none of it.
    const steps: (() => void)[] = [];
    let seq = 0;
    // A shared sweep is decided once: closing it first makes a second decider's commit fail whole.
    if (w.run) steps.push(() => this.runs.closeForCommit(w.run!));
    steps.push(() => {
      seq = Number(
        this.run(`INSERT INTO sweeps (id, started_at, finished_at, duration_ms, endpoints, addresses, failures, config_hash, vantage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
        w.sweep.id,
        w.sweep.startedAt,
        w.sweep.finishedAt,
        w.sweep.durationMs,
        endpoints,
        w.observations.length,
        failures,
        w.sweep.configHash,
        w.sweep.vantage ?? DEFAULT_VANTAGE,
        ]).lastInsertRowid,
      );
    });
    steps.push(() => {
      for (const [key, json] of distinct) this.run(`INSERT OR IGNORE INTO chains (key, data) VALUES (?, ?)`, [key, json]);
    });
    steps.push(() => {
      for (const o of w.observations) this.run(UPSERT_LATEST, [vantageOf(o), o.endpoint, o.address, seq, stored(o), keyOf(o)]);
    });
    steps.push(() => {
      for (const o of history) {
        this.run(`INSERT INTO observations (seq, endpoint, host, address, at, state, data, chain_key, vantage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [seq, o.endpoint, o.host, o.address, o.at, stateOf(o), stored(o), keyOf(o), vantageOf(o)]);
      }
    });
    steps.push(() => {
      for (const f of w.opened) this.run(`${INSERT_FINDING} VALUES (${FINDING_COLUMNS.map(() => '?').join(', ')})`, findingArgs(f));
    });
    steps.push(() => {
      for (const f of [...w.updated, ...w.resolved]) {
        this.run(`UPDATE findings SET severity = ?, title = ?, explanation = ?, action = ?, signature = ?, details = ?, updated_at = ?, resolved_at = ?, resolution = ?, last_alert_at = ?, address = ? WHERE id = ?`, [
          f.severity,
          f.title,
          f.explanation,
          f.action,
          f.signature,
          findingDetailsJson(f),
          f.updatedAt,
          f.resolvedAt,
          f.resolution,
          f.lastAlertAt,
          f.address,
          f.id,
        ]);
      }
    });
    steps.push(() => {
      for (const e of w.events) this.run(INSERT_EVENT, eventArgs(e));
    });
    // A proposal change (a retirement, say) is recorded once even with two monitors on one state:
    // the version check runs inside this write transaction, after the other monitor's commit.
    const lost: ProposalChange[] = [];
    steps.push(() => {
      for (const c of w.proposals ?? []) if (!this.applyProposal(c)) lost.push(c);
    });
    steps.push(() => {
      for (const a of w.outbox) {
        this.run(`INSERT OR IGNORE INTO outbox (id, channel, finding_id, type, created_at, message, status, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?)`, [
          a.id,
          a.channel,
          a.findingId,
          a.type,
          a.createdAt,
          JSON.stringify(a.message),
          a.nextAttemptAt,
        ]);
      }
    });
    steps.push(() => this.bump('sweeps', ''));
    if (faults.failAt !== undefined) {
      // Crash simulation: a statement that fails part-way through the transaction.
      steps.splice(Math.min(faults.failAt, steps.length), 0, () => this.db.exec(`INSERT INTO no_such_table VALUES (1)`));
    }
    this.transaction(() => {
      for (const step of steps) step();
    });
    return { lost };
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
    const r = this.transaction(
      () =>
        this.all(
          `UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?, lease_token = ?
           WHERE id = (SELECT id FROM outbox WHERE channel = ? AND status IN ('pending', 'sending') AND next_attempt_at <= ? ORDER BY created_at, id LIMIT 1)
           RETURNING *`,
          [new Date(now.getTime() + leaseMs).toISOString(), token, channel, now.toISOString()],
        )[0],
    );
    return r ? { ...outboxFromRow(r), leaseToken: token } : null;
  }

  /** Batch claim (tests and tools): every due row, each with its own lease token. */
  async claimDue(now: Date, leaseMs: number, limit = 100): Promise<(OutboxRow & { leaseToken: string })[]> {
    return claimDueRows(this, now, leaseMs, limit);
  }

  /** Every channel that has rows in the outbox. */
  async channels(): Promise<string[]> {
    return this.all(`SELECT DISTINCT channel FROM outbox ORDER BY channel`).map((r) => String(r.channel));
  }

  /**
   * Commits 'sent' only while this deliverer still holds the lease (`leaseToken` as claimed); false
   * when the lease was lost (it ran out and another deliverer claimed the row).
   */
  async markSent(id: string, channel: string, now: Date, leaseToken?: string): Promise<boolean> {
    return this.whileLeased(id, leaseToken, { sql: `UPDATE outbox SET status = 'sent', sent_at = ?, last_error = NULL, lease_token = NULL WHERE id = ?`, args: [now.toISOString(), id] }, ['alerts_sent', channel]);
  }

  /**
   * Alert times further ahead than `maxAheadMs` cannot come from this clock (backoff and leases are
   * bounded): they were set while the clock was ahead and it has been corrected since. Those rows
   * become due now instead of waiting out the error. Returns how many were re-based.
   */
  async rebaseFutureAlerts(now: Date, maxAheadMs: number): Promise<number> {
    const limit = new Date(now.getTime() + maxAheadMs).toISOString();
    return this.transaction(
      () =>
        this.all(
          `UPDATE outbox SET next_attempt_at = ?, status = 'pending', lease_token = NULL
           WHERE status IN ('pending', 'sending') AND next_attempt_at > ? RETURNING id`,
          [now.toISOString(), limit],
        ).length,
    );
  }

  async markFailed(id: string, channel: string, error: string, nextAttemptAt: Date | null, leaseToken?: string): Promise<boolean> {
    return this.whileLeased(
      id,
      leaseToken,
      nextAttemptAt
        ? { sql: `UPDATE outbox SET status = 'pending', last_error = ?, next_attempt_at = ?, lease_token = NULL WHERE id = ?`, args: [error, nextAttemptAt.toISOString(), id] }
        : { sql: `UPDATE outbox SET status = 'dead', last_error = ?, lease_token = NULL WHERE id = ?`, args: [error, id] },
      ['alerts_failed', channel],
    );
  }

  private async whileLeased(id: string, leaseToken: string | undefined, update: Step, counter: [string, string]): Promise<boolean> {
    return this.transaction(() => {
      if (leaseToken !== undefined && this.all(`SELECT 1 FROM outbox WHERE id = ? AND status = 'sending' AND lease_token = ?`, [id, leaseToken]).length === 0) return false;
      this.run(update.sql, update.args);
      this.bump(...counter);
      return true;
    });
  }

  private bump(name: string, label: string): void {
    this.run(`INSERT INTO counters (name, label, value) VALUES (?, ?, 1) ON CONFLICT (name, label) DO UPDATE SET value = value + 1`, [name, label]);
  }

  async outbox(status?: OutboxRow['status']): Promise<OutboxRow[]> {
    const rows = status ? this.all(`SELECT * FROM outbox WHERE status = ? ORDER BY created_at, id`, [status]) : this.all(`SELECT * FROM outbox ORDER BY created_at, id`);
    return rows.map(outboxFromRow);
  }

  async counters(): Promise<{ name: string; label: string; value: number }[]> {
    return this.all(`SELECT name, label, value FROM counters ORDER BY name, label`).map((r) => ({ name: String(r.name), label: String(r.label), value: Number(r.value) }));
  }

  async pendingByChannel(): Promise<Map<string, number>> {
    return new Map(this.all(`SELECT channel, COUNT(*) AS n FROM outbox WHERE status IN ('pending', 'sending') GROUP BY channel`).map((r) => [String(r.channel), Number(r.n)]));
  }

  /** When each endpoint's served state last changed (the newest history observation). */
  async lastChanges(): Promise<Map<string, string>> {
    return new Map(this.all(`SELECT endpoint, MAX(at) AS at FROM observations GROUP BY endpoint`).map((r) => [String(r.endpoint), String(r.at)]));
  }

  async chainChanges(): Promise<Map<string, number>> {
    return new Map(this.all(`SELECT endpoint, COUNT(*) AS n FROM findings WHERE kind = 'chain-drift' GROUP BY endpoint`).map((r) => [String(r.endpoint), Number(r.n)]));
  }

  /** For tests and `status`: raw counts. */
  async count(table: 'observations' | 'latest' | 'findings' | 'events' | 'outbox' | 'sweeps' | 'proposals'): Promise<number> {
    return Number(this.all(`SELECT COUNT(*) AS n FROM ${table}`)[0]!.n);
  }
}

const INSERT_FINDING = `INSERT INTO findings (${FINDING_COLUMNS.join(', ')})`;

const INSERT_EVENT = `INSERT INTO events (at, endpoint, host, address, type, kind, severity, finding_id, summary, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

// `chain_data` (the last observation that had a chain, whole) is stored only while the address
// serves none: otherwise it is `data` + its chain (previousStates() reads it so).
const UPSERT_LATEST = `INSERT INTO latest (vantage, endpoint, address, seq, data, chain_key, chain_data) VALUES (?, ?, ?, ?, ?, ?, NULL)
  ON CONFLICT (vantage, endpoint, address) DO UPDATE SET seq = excluded.seq, data = excluded.data, chain_key = excluded.chain_key,
    chain_data = CASE WHEN excluded.chain_key IS NOT NULL THEN NULL ELSE COALESCE(latest.chain_data,
      CASE WHEN latest.chain_key IS NOT NULL THEN json_set(latest.data, '$.chain', json((SELECT data FROM chains WHERE key = latest.chain_key)))
           WHEN json_array_length(latest.data, '$.chain') > 0 THEN latest.data END) END`;

/**
 * A state-file failure as the operator can act on it: the file, the cause in words, what to do.
 * SQLite reports "database disk image is malformed", "database or disk is full", or a bare result
 * code (14: cannot open) through libsql's ConnectionFailed.
 */
export function stateError(file: string, e: unknown): InputError {
  const raw = describeError(e);
  const code = String((e as { code?: unknown }).code ?? '');
  const is = (re: RegExp) => re.test(raw) || re.test(code);
  let cause: string;
  let hint: string;
  if (is(/malformed|not a database|SQLITE_CORRUPT|SQLITE_NOTADB|file is (?:encrypted|not a database)/i)) {
    cause = 'the file is corrupt (not a readable SQLite database)';
    hint = `stop the monitor, move it aside (mv ${file} ${file}.corrupt) and start again with an empty state; \`sqlite3 ${file}.corrupt .recover\` may save the history`;
  } else if (is(/disk is full|SQLITE_FULL|ENOSPC/i)) {
    cause = 'the disk is full';
    hint = `free space on the disk holding ${file}; nothing was lost (the last complete sweep is kept)`;
  } else if (is(/disk I\/O error|SQLITE_IOERR/i)) {
    cause = 'the disk refused a read or write (full, read-only or failing)';
    hint = `check free space (df) and the health of the disk holding ${file}`;
  } else if (is(/readonly|read-only|SQLITE_READONLY|EROFS/i)) {
    cause = 'the file or its disk is read-only';
    hint = `make ${file} and its directory writable by this user, or point state: at a writable directory`;
  } else if (is(/unable to open|SQLITE_CANTOPEN|: 14\)|ENOENT|EACCES|EPERM/i)) {
    cause = 'it cannot be opened (missing, or no permission on the file or its directory)';
    hint = `check that ${file} exists (run \`pinctl monitor once\` to create it) and that this user can read and write it and its directory`;
  } else if (is(/busy|locked|SQLITE_BUSY/i)) {
    cause = 'another process holds it locked';
    hint = 'wait for the other pinctl monitor to finish, or stop it';
  } else if (e instanceof SyntaxError) {
    cause = 'a stored row is not valid JSON (the file was edited or is damaged)';
    hint = `move ${file} aside and start with an empty state`;
  } else {
    cause = 'SQLite failed';
    hint = `check the file and its disk; \`sqlite3 ${file} 'PRAGMA integrity_check'\` tells whether it is damaged`;
  }
  return new InputError('INPUT_UNREADABLE', `state file ${file}: ${cause} (${raw})`, { hint, cause: e });
}
