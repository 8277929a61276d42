/**
 * Shared sweeps on SQLite (monitor/run-rows.ts has the tables): every claim, renewal and completion
 * is one write transaction (BEGIN IMMEDIATE), so two processes on one state file never hold the
 * same batch: the second waits for the first's transaction and then sees the batch claimed.
 */
import { randomUUID } from 'node:crypto';
import type { BatchClaim, BatchProgress, BatchResult, SweepRun } from './state.js';
import type { Arg, Row } from './state-rows.js';
import { RunDecided, decodeResult, encodeResult, progressOf, runOf } from './run-rows.js';
import { alive } from './store.js';

/** What Store lends: its prepared-statement helpers and its write transaction. */
export interface SqliteAccess {
  all(sql: string, args?: Arg[]): Row[];
  run(sql: string, args?: Arg[]): { changes: number };
  transaction<T>(fn: () => T): T;
}

export class SqliteRuns {
  constructor(private readonly db: SqliteAccess) {}

  openRun(run: Omit<SweepRun, 'batches'>, batches: string[][]): boolean {
    return this.db.transaction(() => {
      const added = this.db.run(`INSERT INTO sweep_runs (id, vantage, config_hash, started_at, batches)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
        run.id,
        run.vantage,
        run.configHash,
        run.startedAt,
        batches.length,
      ]);
      if (added.changes === 0) return false;
      const add = `INSERT INTO sweep_batches (run, n, endpoints, size, status) VALUES (?, ?, ?, ?, 'pending')`;
      batches.forEach((ids, n) => this.db.run(add, [run.id, n, JSON.stringify(ids), ids.length]));
      return true;
    });
  }

  openedRun(vantage: string): SweepRun | null {
    const r = this.db.all(`SELECT * FROM sweep_runs WHERE vantage = ?`, [vantage])[0];
    return r ? runOf(r) : null;
  }

  dropRun(id: string): void {
    this.db.transaction(() => this.close(id));
  }

  /** Inside a transaction: false when the run was not open (decided or dropped by another monitor). */
  close(id: string): boolean {
    if (this.db.run(`DELETE FROM sweep_runs WHERE id = ?`, [id]).changes === 0) return false;
    this.db.run(`DELETE FROM sweep_batches WHERE run = ?`, [id]);
    return true;
  }

  /** Inside commitSweep's transaction. */
  closeForCommit(id: string): void {
    if (!this.close(id)) throw new RunDecided(id);
  }

  /**
   * As on PostgreSQL, and: a batch whose claimer's process is gone is claimable at once (a SQLite
   * state is on this machine, so its pid tells), without waiting for its lease to end.
   */
  claimBatch(run: string, now: Date, leaseMs: number, claimer: string): BatchClaim | null {
    const token = randomUUID();
    const nowIso = now.toISOString();
    const held = `SELECT n, pid FROM sweep_batches WHERE run = ? AND status = 'claimed' AND lease_until > ?`;
    const r = this.db.transaction(() => {
      for (const h of this.db.all(held, [run, nowIso])) {
        if (!alive(Number(h.pid))) this.db.run(`UPDATE sweep_batches SET lease_until = ? WHERE run = ? AND n = ?`, [nowIso, run, Number(h.n)]);
      }
      return this.db.all(
        `UPDATE sweep_batches SET status = 'claimed', claimer = ?, lease_token = ?, lease_until = ?,
           claims = claims + 1, pid = ?
         WHERE run = ? AND n = (SELECT n FROM sweep_batches WHERE run = ?
           AND (status = 'pending' OR (status = 'claimed' AND lease_until <= ?)) ORDER BY n LIMIT 1)
         RETURNING n, endpoints`,
        [claimer, token, new Date(now.getTime() + leaseMs).toISOString(), process.pid, run, run, nowIso],
      )[0];
    });
    return r ? { run, n: Number(r.n), endpoints: JSON.parse(String(r.endpoints)) as string[], token } : null;
  }

  renewBatch(c: BatchClaim, now: Date, leaseMs: number): boolean {
    const until = new Date(now.getTime() + leaseMs).toISOString();
    const sql = `UPDATE sweep_batches SET lease_until = ? WHERE run = ? AND n = ?
      AND status = 'claimed' AND lease_token = ?`;
    return this.db.transaction(() => this.db.run(sql, [until, c.run, c.n, c.token]).changes > 0);
  }

  completeBatch(c: BatchClaim, result: BatchResult): boolean {
    const sql = `UPDATE sweep_batches SET status = 'done', result = ?, lease_token = NULL
      WHERE run = ? AND n = ?
      AND status = 'claimed' AND lease_token = ?`;
    return this.db.transaction(() => this.db.run(sql, [encodeResult(result), c.run, c.n, c.token]).changes > 0);
  }

  batchProgress(run: string, now: Date): BatchProgress {
    const rows = this.db.all(`SELECT status, claimer, size, lease_until FROM sweep_batches WHERE run = ? ORDER BY n`, [run]);
    return progressOf(rows, now.toISOString());
  }

  async *batchResults(run: string): AsyncIterable<BatchResult> {
    const total = Number(this.db.all(`SELECT COUNT(*) AS n FROM sweep_batches WHERE run = ?`, [run])[0]!.n);
    for (let n = 0; n < total; n++) {
      const sql = `SELECT result FROM sweep_batches WHERE run = ? AND n = ? AND status = 'done'`;
      const r = this.db.all(sql, [run, n])[0];
      if (r) yield decodeResult(r.result);
    }
  }
}
