/**
 * MonitorState on PostgreSQL (`state: postgres://USER@HOST:5432/DB`), through node-postgres (`pg`,
 * pure JavaScript, the most used driver). Several monitors can share one database:
 *  - a sweep's commit runs in one transaction under a transaction-scoped advisory lock, so commits
 *    are serialized as SQLite's BEGIN IMMEDIATE serializes them, and a retirement is decided once;
 *  - the outbox is claimed with `FOR UPDATE SKIP LOCKED` one row at a time, with a lease token, so
 *    every alert goes to one deliverer; a deliverer killed mid-send loses its lease when it ends.
 * Text columns use the "C" collation: ISO timestamps and ids compare and sort bytewise, as in SQLite.
 * Rows are written with one statement per table per sweep (unnest of arrays), not one per row.
 */
import pg from 'pg';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { writeFileAtomic } from '../src/durable-write.js';
import { makeDirs } from '../src/make-dirs.js';
import { InputError, describeError } from '../src/errors.js';
import { addrKey } from './findings.js';
import type { CertRecord, Observation, StoredFinding } from './types.js';
import type { AddressState, EventWrite, HistoryEvent, MonitorState, OutboxRow, SweepLease, SweepRecord, SweepWrite } from './state.js';
import { claimDueRows, stateOf } from './state.js';
import { FINDING_COLUMNS, Row, addressStatesOf, eventArgs, eventFromRow, findingArgs, findingDetailsJson, findingFromRow, observationOf, outboxFromRow, sweepFromRow, sweepRows, vantageObservationsOf } from './state-rows.js';
import { ACTIVE_STATES, Proposal, ProposalChange, historyOf, proposalArgs, proposalData, proposalFromRow } from './proposal-state.js';
import { PROPOSAL_EVENT_TYPES, proposalsFromEvents } from './proposal-migrate.js';
import { DEFAULT_VANTAGE, vantageOf } from './vantage.js';
import type { BatchClaim, BatchProgress, BatchResult, SweepRun } from './state.js';
import { runTables } from './run-rows.js';
import { PgRuns, closeForCommit } from './state-pg-runs.js';

/** 2: vantages (`latest` keyed by vantage, endpoint, address; `vantage` columns); a state of 1 is upgraded on open. */
export const PG_SCHEMA_VERSION = 2;
const T = 'TEXT COLLATE "C"';
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key ${T} PRIMARY KEY, value ${T} NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (seq BIGSERIAL PRIMARY KEY, id ${T} NOT NULL UNIQUE, started_at ${T} NOT NULL,
  finished_at ${T} NOT NULL, duration_ms DOUBLE PRECISION NOT NULL, endpoints INTEGER NOT NULL, addresses INTEGER NOT NULL,
  failures INTEGER NOT NULL, config_hash ${T} NOT NULL, vantage ${T} NOT NULL DEFAULT 'default');
CREATE TABLE IF NOT EXISTS latest (ord BIGSERIAL, vantage ${T} NOT NULL DEFAULT 'default', endpoint ${T} NOT NULL,
  address ${T} NOT NULL, seq BIGINT NOT NULL, data ${T} NOT NULL, chain_key ${T}, chain_data ${T},
  PRIMARY KEY (vantage, endpoint, address));
CREATE TABLE IF NOT EXISTS observations (id BIGSERIAL PRIMARY KEY, seq BIGINT NOT NULL, endpoint ${T} NOT NULL,
  host ${T} NOT NULL, address ${T} NOT NULL, at ${T} NOT NULL, state ${T} NOT NULL, data ${T} NOT NULL, chain_key ${T},
  vantage ${T} NOT NULL DEFAULT 'default');
CREATE INDEX IF NOT EXISTS observations_addr ON observations (endpoint, address, id);
CREATE TABLE IF NOT EXISTS findings (id ${T} PRIMARY KEY, key ${T} NOT NULL, kind ${T} NOT NULL, severity ${T} NOT NULL,
  endpoint ${T} NOT NULL, host ${T} NOT NULL, port INTEGER NOT NULL, address ${T}, title ${T} NOT NULL,
  explanation ${T} NOT NULL, action ${T} NOT NULL, signature ${T} NOT NULL, details ${T} NOT NULL, opened_at ${T} NOT NULL,
  updated_at ${T} NOT NULL, resolved_at ${T}, resolution ${T}, last_alert_at ${T}, vantage ${T});
CREATE UNIQUE INDEX IF NOT EXISTS findings_open_key ON findings (key) WHERE resolved_at IS NULL;
CREATE TABLE IF NOT EXISTS events (id BIGSERIAL PRIMARY KEY, at ${T} NOT NULL, endpoint ${T} NOT NULL, host ${T} NOT NULL,
  address ${T}, type ${T} NOT NULL, kind ${T}, severity ${T}, finding_id ${T}, summary ${T} NOT NULL, details ${T});
CREATE INDEX IF NOT EXISTS events_host ON events (host, id);
CREATE INDEX IF NOT EXISTS events_type ON events (type, endpoint, id);
CREATE INDEX IF NOT EXISTS events_finding ON events (finding_id, id);
CREATE TABLE IF NOT EXISTS outbox (id ${T} PRIMARY KEY, channel ${T} NOT NULL, finding_id ${T} NOT NULL, type ${T} NOT NULL,
  created_at ${T} NOT NULL, message ${T} NOT NULL, status ${T} NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at ${T} NOT NULL, last_error ${T}, sent_at ${T}, lease_token ${T});
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS chains (key ${T} PRIMARY KEY, data ${T} NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name ${T} NOT NULL, label ${T} NOT NULL, value BIGINT NOT NULL, PRIMARY KEY (name, label));
CREATE TABLE IF NOT EXISTS certificates (sha256 ${T} PRIMARY KEY, der BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS proposals (ord BIGSERIAL, id ${T} PRIMARY KEY, domain ${T} NOT NULL, state ${T} NOT NULL,
  version INTEGER NOT NULL, created_at ${T} NOT NULL, updated_at ${T} NOT NULL, data ${T} NOT NULL);
CREATE INDEX IF NOT EXISTS proposals_state ON proposals (state, domain);
${runTables(T, 'INTEGER').join(';\n')};
`;
/** Schema 1 → 2 (vantages): additive columns, and the vantage joins `latest`'s primary key. */
const TO_V2 = `
ALTER TABLE sweeps ADD COLUMN IF NOT EXISTS vantage ${T} NOT NULL DEFAULT 'default';
ALTER TABLE observations ADD COLUMN IF NOT EXISTS vantage ${T} NOT NULL DEFAULT 'default';
ALTER TABLE findings ADD COLUMN IF NOT EXISTS vantage ${T};
ALTER TABLE latest ADD COLUMN IF NOT EXISTS vantage ${T} NOT NULL DEFAULT 'default';
ALTER TABLE latest DROP CONSTRAINT latest_pkey, ADD PRIMARY KEY (vantage, endpoint, address);
`;
/** Advisory lock keys (any constants: they name pinctl's critical sections in this database). */
const SCHEMA_LOCK = 741_300_001;
const COMMIT_LOCK = 741_300_002;
const SWEEP_LOCK = 741_300_003;
/** The lead of state-wide decisions (vantage-disagreement); per-vantage sweep leads use (SWEEP_LOCK, hashtext(vantage)). */
const DECISION_LOCK = 741_300_004;


const UPSERT_LATEST = `INSERT INTO latest (vantage, endpoint, address, seq, data, chain_key, chain_data)
  SELECT v, e, a, $1, d, k, NULL FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(v, e, a, d, k)
  ON CONFLICT (vantage, endpoint, address) DO UPDATE SET seq = excluded.seq, data = excluded.data, chain_key = excluded.chain_key,
    chain_data = CASE WHEN excluded.chain_key IS NOT NULL THEN NULL ELSE COALESCE(latest.chain_data,
      CASE WHEN latest.chain_key IS NOT NULL
             THEN jsonb_set(latest.data::jsonb, '{chain}', (SELECT data FROM chains WHERE key = latest.chain_key)::jsonb)::text
           WHEN jsonb_array_length(latest.data::jsonb -> 'chain') > 0 THEN latest.data END) END`;

type Client = pg.PoolClient;

export interface PgOptions {
  /** Overrides the URL's password (from statePasswordFile/Env); PGPASSWORD is pg's own fallback. */
  password?: string | null;
  /** Where certificate PEM files are written for the commands printed in alerts (they are also in the database). */
  certDir: string;
}

/** postgres://user:secret@host/db → postgres://user:***@host/db, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

/** pg lets the URL's fields override an explicit `password` option: the password goes into the URL it sees. */
function withPassword(url: string, password: string | null | undefined): string {
  if (!password) return url;
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  return u.href;
}

export class PgState implements MonitorState {
  /** Shared sweeps (monitor/state-pg-runs.ts), through this pool. */
  private readonly runs = new PgRuns({ all: (sql, args) => this.all(sql, args), tx: (fn) => this.tx(fn) });

  private constructor(
    private readonly pool: pg.Pool,
    readonly url: string,
    private readonly certDir: string,
  ) {}

  static async open(url: string, opts: PgOptions): Promise<PgState> {
    // application_name: pg_stat_activity (and pg_locks joined to it) tells which monitor holds a lead.
    const pool = new pg.Pool({ connectionString: withPassword(url, opts.password), max: 4, connectionTimeoutMillis: 10_000, application_name: `pinctl monitor pid ${process.pid}` });
    pool.on('error', () => {}); // an idle client's connection dropped: the next query reconnects
    const state = new PgState(pool, url, opts.certDir);
    try {
      await state.tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]); // two monitors starting together
        await c.query(SCHEMA);
        const v = (await c.query(`SELECT value FROM meta WHERE key = 'schema'`)).rows[0] as Row | undefined;
        if (v && Number(v.value) > PG_SCHEMA_VERSION) {
          throw new InputError('CONFIG_UNSUPPORTED', `state ${redactUrl(url)}: written by a newer pinctl (schema ${String(v.value)}, this one knows ${PG_SCHEMA_VERSION})`);
        }
        if (v && Number(v.value) < 2) await c.query(TO_V2);
        await c.query(`INSERT INTO meta (key, value) VALUES ('schema', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [String(PG_SCHEMA_VERSION)]);
        await migrateProposals(c);
      });
    } catch (e) {
      await pool.end().catch(() => {});
      if (e instanceof InputError) throw e;
      throw new InputError('INPUT_UNREADABLE', `state ${redactUrl(url)}: cannot use the PostgreSQL database: ${describeError(e)}`, {
        hint: 'check the server runs and the URL, user and password (statePasswordFile, statePasswordEnv or PGPASSWORD); the user needs CREATE on the database',
      });
    }
    return state;
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }

  private async all(sql: string, args: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, args)).rows as Row[];
  }

  /** BEGIN … COMMIT on one pooled connection; any exception rolls back. */
  private async tx<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  /** A session advisory lock per vantage, on a connection of its own: PostgreSQL frees it when that connection ends. */
  async leadSweep(vantage = DEFAULT_VANTAGE): Promise<SweepLease | null> {
    return this.sessionLock('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', 'SELECT pg_advisory_unlock($1, hashtext($2))', [SWEEP_LOCK, vantage]);
  }

  async leadDecision(): Promise<SweepLease | null> {
    return this.sessionLock('SELECT pg_try_advisory_lock($1) AS ok', 'SELECT pg_advisory_unlock($1)', [DECISION_LOCK]);
  }

  private async sessionLock(lock: string, unlock: string, args: unknown[]): Promise<SweepLease | null> {
    const c = await this.pool.connect();
    try {
      const r = await c.query(lock, args);
      if ((r.rows[0] as Row).ok !== true) {
        c.release();
        return null;
      }
    } catch (e) {
      c.release(true);
      throw e;
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        await c.query(unlock, args).catch(() => {});
        c.release();
      },
    };
  }

  openRun(run: Omit<SweepRun, 'batches'>, batches: string[][]): Promise<boolean> {
    return this.runs.openRun(run, batches);
  }

  openedRun(vantage: string): Promise<SweepRun | null> {
    return this.runs.openedRun(vantage);
  }

  dropRun(id: string): Promise<void> {
    return this.runs.dropRun(id);
  }

  claimBatch(run: string, now: Date, leaseMs: number, claimer: string): Promise<BatchClaim | null> {
    return this.runs.claimBatch(run, now, leaseMs, claimer);
  }

  renewBatch(claim: BatchClaim, now: Date, leaseMs: number): Promise<boolean> {
    return this.runs.renewBatch(claim, now, leaseMs);
  }

  completeBatch(claim: BatchClaim, result: BatchResult): Promise<boolean> {
    return this.runs.completeBatch(claim, result);
  }

  batchProgress(run: string, now: Date): Promise<BatchProgress> {
    return this.runs.batchProgress(run, now);
  }

  batchResults(run: string): AsyncIterable<BatchResult> {
    return this.runs.batchResults(run);
  }

  certPath(sha256: string): string {
    return join(this.certDir, `${sha256}.pem`);
  }

  /** In the database (shared by every monitor) and as a local PEM file for the printed commands. */
  async saveCertificate(sha256: string, der: Uint8Array): Promise<void> {
    await this.pool.query(`INSERT INTO certificates (sha256, der) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [sha256, Buffer.from(der)]);
    const path = this.certPath(sha256);
    if (existsSync(path)) return;
    makeDirs(this.certDir);
    const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
    writeFileAtomic(path, `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`);
  }

  async previousStates(endpoints: string[], vantage = DEFAULT_VANTAGE): Promise<Map<string, AddressState>> {
    if (endpoints.length === 0) return new Map();
    const rows = await this.all(
      `SELECT l.data, l.chain_data, c.key AS chain_key, c.data AS chain FROM latest l LEFT JOIN chains c ON c.key = l.chain_key
       WHERE l.vantage = $1 AND l.endpoint = ANY($2::text[])`,
      [vantage, endpoints],
    );
    return addressStatesOf(rows);
  }

  async latestObservations(): Promise<Observation[]> {
    const rows = await this.all(
      `SELECT l.data, c.key AS chain_key, c.data AS chain FROM latest l LEFT JOIN chains c ON c.key = l.chain_key
       WHERE l.seq = (SELECT MAX(seq) FROM latest x WHERE x.endpoint = l.endpoint AND x.vantage = l.vantage) ORDER BY l.endpoint, l.ord`,
    );
    const chains = new Map<string, CertRecord[]>();
    return rows.map((r) => observationOf(r, chains));
  }

  async otherVantages(vantage: string, endpoints: string[]): Promise<Observation[]> {
    if (endpoints.length === 0) return [];
    const rows = await this.all(
      `SELECT l.vantage, l.data, c.key AS chain_key, c.data AS chain FROM latest l LEFT JOIN chains c ON c.key = l.chain_key
       WHERE l.vantage <> $1 AND l.endpoint = ANY($2::text[])
         AND l.seq = (SELECT MAX(seq) FROM latest x WHERE x.endpoint = l.endpoint AND x.vantage = l.vantage)
       ORDER BY l.endpoint, l.vantage, l.ord`,
      [vantage, endpoints],
    );
    return vantageObservationsOf(rows);
  }

  async lastSweep(vantage?: string): Promise<SweepRecord | null> {
    const rows = vantage === undefined ? await this.all(`SELECT * FROM sweeps ORDER BY seq DESC LIMIT 1`) : await this.all(`SELECT * FROM sweeps WHERE vantage = $1 ORDER BY seq DESC LIMIT 1`, [vantage]);
    return rows[0] ? sweepFromRow(rows[0]) : null;
  }

  async openFindings(): Promise<StoredFinding[]> {
    return (await this.all(`SELECT * FROM findings WHERE resolved_at IS NULL ORDER BY opened_at, id`)).map(findingFromRow);
  }

  async recentlyResolved(kind: string, sinceIso: string): Promise<StoredFinding[]> {
    const sql = `SELECT * FROM findings WHERE kind = $1 AND resolved_at IS NOT NULL AND resolved_at >= $2 ORDER BY resolved_at`;
    return (await this.all(sql, [kind, sinceIso])).map(findingFromRow);
  }

  async finding(id: string): Promise<StoredFinding | null> {
    const r = (await this.all(`SELECT * FROM findings WHERE id = $1`, [id]))[0];
    return r ? findingFromRow(r) : null;
  }

  async history(hostOrEndpoint: string, limit = 200): Promise<HistoryEvent[]> {
    const sql = `SELECT * FROM (SELECT * FROM events WHERE host = $1 OR endpoint = $1 ORDER BY id DESC LIMIT $2) e ORDER BY id`;
    return (await this.all(sql, [hostOrEndpoint, limit])).map(eventFromRow);
  }

  async findingEvents(findingId: string): Promise<HistoryEvent[]> {
    return (await this.all(`SELECT * FROM events WHERE finding_id = $1 ORDER BY id`, [findingId])).map(eventFromRow);
  }

  async proposals(filter: { active?: boolean } = {}): Promise<Proposal[]> {
    const rows = filter.active
      ? await this.all(`SELECT * FROM proposals WHERE state = ANY($1::text[]) ORDER BY created_at, ord`, [[...ACTIVE_STATES]])
      : await this.all(`SELECT * FROM proposals ORDER BY created_at, ord`);
    return rows.map(proposalFromRow);
  }

  async applyProposalChanges(changes: ProposalChange[]): Promise<{ lost: ProposalChange[] }> {
    return this.tx(async (c) => {
      const lost: ProposalChange[] = [];
      for (const ch of changes) if (!(await applyProposal(c, ch))) lost.push(ch);
      return { lost };
    });
  }

  async addEvents(events: EventWrite[]): Promise<void> {
    await this.tx((c) => insertEvents(c, events));
  }

  async commitSweep(w: SweepWrite, faults: { failAt?: number } = {}): Promise<{ lost: ProposalChange[] }> {
    const rows = sweepRows(w);
    const lost: ProposalChange[] = [];
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [COMMIT_LOCK]);
      const steps = sweepSteps(c, w, rows, lost);
      if (faults.failAt !== undefined) steps.splice(Math.min(faults.failAt, steps.length), 0, async () => void (await c.query(`INSERT INTO no_such_table VALUES (1)`)));
      for (const step of steps) await step();
    });
    return { lost };
  }

  async claimNext(now: Date, leaseMs: number, channel: string): Promise<(OutboxRow & { leaseToken: string }) | null> {
    const token = randomUUID();
    const r = (
      await this.all(
        `UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $1, lease_token = $2
         WHERE id = (SELECT id FROM outbox WHERE channel = $3 AND status IN ('pending', 'sending') AND next_attempt_at <= $4
                     ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
        [new Date(now.getTime() + leaseMs).toISOString(), token, channel, now.toISOString()],
      )
    )[0];
    return r ? { ...outboxFromRow(r), leaseToken: token } : null;
  }

  async claimDue(now: Date, leaseMs: number, limit = 100): Promise<(OutboxRow & { leaseToken: string })[]> {
    return claimDueRows(this, now, leaseMs, limit);
  }

  async channels(): Promise<string[]> {
    return (await this.all(`SELECT DISTINCT channel FROM outbox ORDER BY channel`)).map((r) => String(r.channel));
  }

  async markSent(id: string, channel: string, now: Date, leaseToken?: string): Promise<boolean> {
    const sql = `UPDATE outbox SET status = 'sent', sent_at = $2, last_error = NULL, lease_token = NULL WHERE id = $1`;
    return this.whileLeased(id, leaseToken, sql, [now.toISOString()], ['alerts_sent', channel]);
  }

  async markFailed(id: string, channel: string, error: string, nextAttemptAt: Date | null, leaseToken?: string): Promise<boolean> {
    return nextAttemptAt
      ? this.whileLeased(id, leaseToken, `UPDATE outbox SET status = 'pending', last_error = $2, next_attempt_at = $3, lease_token = NULL WHERE id = $1`, [error, nextAttemptAt.toISOString()], ['alerts_failed', channel])
      : this.whileLeased(id, leaseToken, `UPDATE outbox SET status = 'dead', last_error = $2, lease_token = NULL WHERE id = $1`, [error], ['alerts_failed', channel]);
  }

  async rebaseFutureAlerts(now: Date, maxAheadMs: number): Promise<number> {
    const r = await this.pool.query(
      `UPDATE outbox SET next_attempt_at = $1, status = 'pending', lease_token = NULL
       WHERE status IN ('pending', 'sending') AND next_attempt_at > $2`,
      [now.toISOString(), new Date(now.getTime() + maxAheadMs).toISOString()],
    );
    return r.rowCount ?? 0;
  }

  private async whileLeased(id: string, leaseToken: string | undefined, sql: string, args: unknown[], counter: [string, string]): Promise<boolean> {
    return this.tx(async (c) => {
      if (leaseToken !== undefined) {
        const held = await c.query(`SELECT 1 FROM outbox WHERE id = $1 AND status = 'sending' AND lease_token = $2 FOR UPDATE`, [id, leaseToken]);
        if (held.rowCount === 0) return false;
      }
      await c.query(sql, [id, ...args]);
      await bump(c, ...counter);
      return true;
    });
  }

  async outbox(status?: OutboxRow['status']): Promise<OutboxRow[]> {
    const rows = status ? await this.all(`SELECT * FROM outbox WHERE status = $1 ORDER BY created_at, id`, [status]) : await this.all(`SELECT * FROM outbox ORDER BY created_at, id`);
    return rows.map(outboxFromRow);
  }

  async counters(): Promise<{ name: string; label: string; value: number }[]> {
    return (await this.all(`SELECT name, label, value FROM counters ORDER BY name, label`)).map((r) => ({ name: String(r.name), label: String(r.label), value: Number(r.value) }));
  }

  async pendingByChannel(): Promise<Map<string, number>> {
    const rows = await this.all(`SELECT channel, COUNT(*) AS n FROM outbox WHERE status IN ('pending', 'sending') GROUP BY channel`);
    return new Map(rows.map((r) => [String(r.channel), Number(r.n)]));
  }

  async lastChanges(): Promise<Map<string, string>> {
    return new Map((await this.all(`SELECT endpoint, MAX(at) AS at FROM observations GROUP BY endpoint`)).map((r) => [String(r.endpoint), String(r.at)]));
  }

  async chainChanges(): Promise<Map<string, number>> {
    const rows = await this.all(`SELECT endpoint, COUNT(*) AS n FROM findings WHERE kind = 'chain-drift' GROUP BY endpoint`);
    return new Map(rows.map((r) => [String(r.endpoint), Number(r.n)]));
  }

  async count(table: 'observations' | 'latest' | 'findings' | 'events' | 'outbox' | 'sweeps' | 'proposals'): Promise<number> {
    return Number((await this.all(`SELECT COUNT(*) AS n FROM ${table}`))[0]!.n);
  }
}

async function bump(c: Client, name: string, label: string): Promise<void> {
  await c.query(`INSERT INTO counters (name, label, value) VALUES ($1, $2, 1) ON CONFLICT (name, label) DO UPDATE SET value = counters.value + 1`, [name, label]);
}

/**
 * Rows per statement. pg sends each array as one text literal: a sweep's 10,000 observations in one
 * statement held their JSON three times at once (strings, escaped literal, wire buffer), ~90 MB more
 * than SQLite's peak at 10,000 endpoints, which would pass 1 GB at 100,000.
 */
const ROWS_PER_STATEMENT = 2000;

const chunks = <T>(list: T[]): T[][] => Array.from({ length: Math.ceil(list.length / ROWS_PER_STATEMENT) }, (_, i) => list.slice(i * ROWS_PER_STATEMENT, (i + 1) * ROWS_PER_STATEMENT));

/** `INSERT INTO table (cols) SELECT * FROM unnest(...)`: one statement per ROWS_PER_STATEMENT rows. */
async function insertMany(c: Client, table: string, cols: { name: string; type: string }[], rows: unknown[][], conflict = ''): Promise<void> {
  const args = cols.map((col, i) => `$${i + 1}::${col.type}[]`).join(', ');
  for (const part of chunks(rows)) {
    const arrays = cols.map((_, i) => part.map((r) => r[i] ?? null));
    await c.query(`INSERT INTO ${table} (${cols.map((x) => x.name).join(', ')}) SELECT * FROM unnest(${args}) ${conflict}`, arrays);
  }
}

const text = (names: string[]) => names.map((name) => ({ name, type: 'text' }));
const FINDING_TYPES = FINDING_COLUMNS.map((name) => ({ name, type: name === 'port' ? 'int' : 'text' }));
const EVENT_COLUMNS = text(['at', 'endpoint', 'host', 'address', 'type', 'kind', 'severity', 'finding_id', 'summary', 'details']);

async function insertEvents(c: Client, events: EventWrite[]): Promise<void> {
  await insertMany(c, 'events', EVENT_COLUMNS, events.map(eventArgs));
}

type Rows = ReturnType<typeof sweepRows>;

/** The statements of one sweep's transaction, in order (crash tests insert a failing one between them). */
function sweepSteps(c: Client, w: SweepWrite, rows: Rows, lost: ProposalChange[]): (() => Promise<void>)[] {
  let seq = 0;
  // One row per address (the last wins, as an upsert per row would make it).
  const latest = [...new Map(w.observations.map((o) => [`${vantageOf(o)}|${addrKey(o.endpoint, o.address)}`, o])).values()];
  return [
    // A shared sweep is decided once: closing it first makes a second decider's commit fail whole.
    ...(w.run ? [() => closeForCommit(c, w.run!)] : []),
    async () => {
      const r = await c.query(
        `INSERT INTO sweeps (id, started_at, finished_at, duration_ms, endpoints, addresses, failures, config_hash, vantage)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq`,
        [w.sweep.id, w.sweep.startedAt, w.sweep.finishedAt, w.sweep.durationMs, rows.endpoints, w.observations.length, rows.failures, w.sweep.configHash, w.sweep.vantage ?? DEFAULT_VANTAGE],
      );
      seq = Number((r.rows[0] as Row).seq);
    },
    () => insertMany(c, 'chains', text(['key', 'data']), [...rows.distinct], 'ON CONFLICT DO NOTHING'),
    async () => {
      for (const part of chunks(latest)) await c.query(UPSERT_LATEST, [seq, part.map(vantageOf), part.map((o) => o.endpoint), part.map((o) => o.address), part.map(rows.stored), part.map(rows.keyOf)]);
    },
    () =>
      insertMany(
        c,
        'observations',
        [{ name: 'seq', type: 'bigint' }, ...text(['endpoint', 'host', 'address', 'at', 'state', 'data', 'chain_key', 'vantage'])],
        rows.history.map((o) => [seq, o.endpoint, o.host, o.address, o.at, stateOf(o), rows.stored(o), rows.keyOf(o), vantageOf(o)]),
      ),
    () => insertMany(c, 'findings', FINDING_TYPES, w.opened.map(findingArgs)),
    () => updateFindings(c, [...w.updated, ...w.resolved]),
    () => insertEvents(c, w.events),
    // Compare-and-set on each proposal's version, inside the commit: a retirement another monitor
    // recorded first is lost here, not recorded twice.
    async () => {
      for (const ch of w.proposals ?? []) if (!(await applyProposal(c, ch))) lost.push(ch);
    },
    () =>
      insertMany(
        c,
        'outbox',
        [...text(['id', 'channel', 'finding_id', 'type', 'created_at', 'message', 'status']), { name: 'attempts', type: 'int' }, ...text(['next_attempt_at'])],
        w.outbox.map((a) => [a.id, a.channel, a.findingId, a.type, a.createdAt, JSON.stringify(a.message), 'pending', 0, a.nextAttemptAt]),
        'ON CONFLICT DO NOTHING',
      ),
    () => bump(c, 'sweeps', ''),
  ];
}

const UPDATED = ['severity', 'title', 'explanation', 'action', 'signature', 'details', 'updated_at', 'resolved_at', 'resolution', 'last_alert_at', 'address'];

async function updateFindings(c: Client, list: StoredFinding[]): Promise<void> {
  if (list.length === 0) return;
  const values = (f: StoredFinding) => [f.severity, f.title, f.explanation, f.action, f.signature, findingDetailsJson(f), f.updatedAt, f.resolvedAt, f.resolution, f.lastAlertAt, f.address];
  const arrays = [list.map((f) => f.id), ...UPDATED.map((_, i) => list.map((f) => values(f)[i] ?? null))];
  const cols = ['id', ...UPDATED];
  await c.query(
    `UPDATE findings f SET ${UPDATED.map((n) => `${n} = u.${n}`).join(', ')}
     FROM unnest(${cols.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${cols.join(', ')}) WHERE f.id = u.id`,
    arrays,
  );
}

const INSERT_PROPOSAL = `INSERT INTO proposals (id, domain, state, version, created_at, updated_at, data) VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (id) DO NOTHING`;

/** One proposal change by compare-and-set on its version, with the history it writes; false when it lost. */
async function applyProposal(c: Client, ch: ProposalChange): Promise<boolean> {
  const r =
    ch.op === 'create'
      ? await c.query(INSERT_PROPOSAL, proposalArgs(ch.proposal))
      : await c.query(`UPDATE proposals SET state = $1, version = $2, updated_at = $3, data = $4 WHERE id = $5 AND version = $6`, [
          ch.after.state,
          ch.after.version,
          ch.after.updatedAt,
          proposalData(ch.after),
          ch.after.id,
          ch.before.version,
        ]);
  if ((r.rowCount ?? 0) === 0) return false;
  await insertEvents(c, historyOf(ch));
  return true;
}

/** Proposals that older versions kept only as history events get their rows (once: ids come from the events). */
async function migrateProposals(c: Client): Promise<void> {
  if ((await c.query(`SELECT 1 FROM meta WHERE key = 'proposals_migrated'`)).rowCount) return;
  const rows = (await c.query(`SELECT * FROM events WHERE type = ANY($1::text[]) ORDER BY id`, [PROPOSAL_EVENT_TYPES])).rows as Row[];
  for (const p of proposalsFromEvents(rows.map((r) => ({ ...eventFromRow(r), id: Number(r.id) })))) await c.query(INSERT_PROPOSAL, proposalArgs(p));
  await c.query(`INSERT INTO meta (key, value) VALUES ('proposals_migrated', '1') ON CONFLICT (key) DO NOTHING`);
}
