/**
 * Shared sweeps on PostgreSQL (monitor/run-rows.ts has the tables): a batch is claimed with
 * `SELECT … FOR UPDATE SKIP LOCKED`, as the outbox is, so concurrent claimers each get another
 * batch without waiting on each other's row locks; a lease token guards renewal and completion.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { BatchClaim, BatchProgress, BatchResult, SweepRun } from './state.js';
import type { Row } from './state-rows.js';
import { RunDecided, decodeResult, encodeResult, progressOf, runOf } from './run-rows.js';

type Client = pg.PoolClient;

/** What PgState lends: one-statement queries and its transaction. */
export interface PgAccess {
  all(sql: string, args?: unknown[]): Promise<Row[]>;
  tx<T>(fn: (c: Client) => Promise<T>): Promise<T>;
}

export class PgRuns {
  constructor(private readonly db: PgAccess) {}

  async openRun(run: Omit<SweepRun, 'batches'>, batches: string[][]): Promise<boolean> {
    return this.db.tx(async (c) => {
      const added = await c.query(`INSERT INTO sweep_runs (id, vantage, config_hash, started_at, batches)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [
        run.id,
        run.vantage,
        run.configHash,
        run.startedAt,
        batches.length,
      ]);
      if ((added.rowCount ?? 0) === 0) return false;
      await c.query(
        `INSERT INTO sweep_batches (run, n, endpoints, size, status)
         SELECT $1, n - 1, e, s, 'pending' FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS t(e, s, n)`,
        [run.id, batches.map((b) => JSON.stringify(b)), batches.map((b) => b.length)],
      );
      return true;
    });
  }

  async openedRun(vantage: string): Promise<SweepRun | null> {
    const r = (await this.db.all(`SELECT * FROM sweep_runs WHERE vantage = $1`, [vantage]))[0];
    return r ? runOf(r) : null;
  }

  async dropRun(id: string): Promise<void> {
    await this.db.tx((c) => close(c, id));
  }

  async claimBatch(run: string, now: Date, leaseMs: number, claimer: string): Promise<BatchClaim | null> {
    const token = randomUUID();
    const r = (
      await this.db.all(
        `UPDATE sweep_batches SET status = 'claimed', claimer = $1, lease_token = $2, lease_until = $3,
             claims = claims + 1
         WHERE (run, n) = (SELECT run, n FROM sweep_batches WHERE run = $4
             AND (status = 'pending' OR (status = 'claimed' AND lease_until <= $5))
                           ORDER BY n LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING n, endpoints`,
        [claimer, token, new Date(now.getTime() + leaseMs).toISOString(), run, now.toISOString()],
      )
    )[0];
    return r ? { run, n: Number(r.n), endpoints: JSON.parse(String(r.endpoints)) as string[], token } : null;
  }

  async renewBatch(c: BatchClaim, now: Date, leaseMs: number): Promise<boolean> {
    const until = new Date(now.getTime() + leaseMs).toISOString();
    const sql = `UPDATE sweep_batches SET lease_until = $1 WHERE run = $2 AND n = $3
      AND status = 'claimed' AND lease_token = $4 RETURNING n`;
    return (await this.db.all(sql, [until, c.run, c.n, c.token])).length > 0;
  }

  async completeBatch(c: BatchClaim, result: BatchResult): Promise<boolean> {
    const sql = `UPDATE sweep_batches SET status = 'done', result = $1, lease_token = NULL
      WHERE run = $2 AND n = $3
      AND status = 'claimed' AND lease_token = $4 RETURNING n`;
    return (await this.db.all(sql, [encodeResult(result), c.run, c.n, c.token])).length > 0;
  }

  async batchProgress(run: string, now: Date): Promise<BatchProgress> {
    const rows = await this.db.all(`SELECT status, claimer, size, lease_until FROM sweep_batches WHERE run = $1 ORDER BY n`, [run]);
    return progressOf(rows, now.toISOString());
  }

  async *batchResults(run: string): AsyncIterable<BatchResult> {
    const total = Number((await this.db.all(`SELECT COUNT(*) AS n FROM sweep_batches WHERE run = $1`, [run]))[0]!.n);
    for (let n = 0; n < total; n++) {
      const sql = `SELECT result FROM sweep_batches WHERE run = $1 AND n = $2 AND status = 'done'`;
      const r = (await this.db.all(sql, [run, n]))[0];
      if (r) yield decodeResult(r.result);
    }
  }
}

async function close(c: Client, id: string): Promise<boolean> {
  const gone = await c.query(`DELETE FROM sweep_runs WHERE id = $1`, [id]);
  if ((gone.rowCount ?? 0) === 0) return false;
  await c.query(`DELETE FROM sweep_batches WHERE run = $1`, [id]);
  return true;
}

/** Inside commitSweep's transaction: a shared sweep is decided once. */
export async function closeForCommit(c: Client, id: string): Promise<void> {
  if (!(await close(c, id))) throw new RunDecided(id);
}
