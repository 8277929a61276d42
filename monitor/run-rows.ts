/**
 * Shared sweeps (monitor/shared-sweep.ts) as both state backends store them: a `sweep_runs` row per
 * open sweep of a vantage (one at most: `vantage` is unique) and its `sweep_batches`, each claimed
 * under a lease token. The SQL differs only where the engines do (SKIP LOCKED, placeholders).
 */
import { PinctlError } from '../src/errors.js';
import type { BatchProgress, BatchResult, SweepRun } from './state.js';
import type { Row } from './state-rows.js';

/** The shared sweep a commit was to decide is closed: another monitor decided it first. */
export class RunDecided extends PinctlError {
  constructor(run: string) {
    super('STATE_BUSY', `sweep ${run} was decided by another monitor of this vantage`, {
      exitCode: 2,
      hint: 'several monitors of one vantage share its sweeps: the one that commits first decides; nothing was written twice',
    });
  }
}

export const runTables = (text: string, int: string): string[] => [
  `CREATE TABLE IF NOT EXISTS sweep_runs (id ${text} PRIMARY KEY, vantage ${text} NOT NULL UNIQUE,
     config_hash ${text} NOT NULL, started_at ${text} NOT NULL, batches ${int} NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS sweep_batches (run ${text} NOT NULL, n ${int} NOT NULL, endpoints ${text} NOT NULL,
     size ${int} NOT NULL, status ${text} NOT NULL, claimer ${text}, lease_token ${text}, lease_until ${text},
     claims ${int} NOT NULL DEFAULT 0, result ${text}, pid ${int}, PRIMARY KEY (run, n))`,
];

/** Progress from the batch rows (status, claimer, size, lease_until). */
export function progressOf(rows: Row[], nowIso: string): BatchProgress {
  const p: BatchProgress = { total: rows.length, done: 0, claimed: 0, byClaimer: {} };
  for (const r of rows) {
    if (r.status === 'done') {
      p.done++;
      const who = String(r.claimer);
      p.byClaimer[who] = (p.byClaimer[who] ?? 0) + Number(r.size);
    } else if (r.status === 'claimed' && String(r.lease_until) > nowIso) p.claimed++;
  }
  return p;
}

export const runOf = (r: Row): SweepRun => ({
  id: String(r.id),
  vantage: String(r.vantage),
  configHash: String(r.config_hash),
  startedAt: String(r.started_at),
  batches: Number(r.batches),
});

export const encodeResult = (r: BatchResult): string => JSON.stringify(r);
export const decodeResult = (text: unknown): BatchResult => JSON.parse(String(text)) as BatchResult;

/**
 * Endpoints per batch when not configured: about 32 batches a sweep, so a monitor that joins a
 * second after the lead still finds work (the lead claims up to 4 at once), within 25…500 endpoints
 * (a claim, a result row and a lease renewal per batch stay cheap; a killed claimer's batch is re-probed).
 */
export const autoBatchSize = (endpoints: number) => Math.min(500, Math.max(25, Math.ceil(endpoints / 32)));

/** Endpoint ids in batches of `size` (an endpoint's addresses are probed in its batch, so they stay together). */
export function cutBatches(ids: string[], size: number | null): string[][] {
  const n = Math.max(1, Math.floor(size ?? autoBatchSize(ids.length)));
  return Array.from({ length: Math.ceil(ids.length / n) }, (_, i) => ids.slice(i * n, (i + 1) * n));
}
