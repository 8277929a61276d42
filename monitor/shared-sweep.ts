/**
 * One vantage's sweep shared out between its monitors. The vantage's lead opens a run: the
 * endpoints cut into batches (monitor/run-rows.ts). Every monitor of the vantage — the lead too —
 * claims batches (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a write transaction on SQLite) under a
 * lease it renews while probing, probes them with the ordinary sweep() and stores the batch's
 * observations. A batch whose claimer died is claimed again when its lease ends. The lead waits
 * until every batch is in, then gathers them one batch at a time into one SweepResult, which the
 * cycle decides as it always did (monitor/cycle.ts); the commit closes the run, so it is decided once.
 */
import { hostname } from 'node:os';
import type { MonitorConfig } from './config.js';
import type { BatchClaim, BatchResult, MonitorState, SweepRun } from './state.js';
import { SweepDeps, SweepResult, sweep } from './sweep.js';
import type { CertRecord, Observation } from './types.js';

export interface ShareOptions {
  /** Endpoints per batch; null (default): about 32 batches a sweep, 25 to 500 endpoints each (run-rows.ts). */
  batchSize: number | null;
  /**
   * How long a claim lasts without renewal (default 15 s, renewed every third of it while probing):
   * how long a batch of a monitor killed mid-probe waits before another claims it.
   */
  leaseMs: number;
  /** How often a waiting monitor looks at the run again (default 500 ms). */
  pollMs: number;
  /** Batches one monitor probes at a time, sharing its `concurrency` (default 4): a slow batch never holds all. */
  parallel: number;
  /** Who probed (counted per claimer in the lead's result): host and pid by default. */
  claimer: string;
  /** `monitor run` stopping: claim no more batches (those held are finished), stop waiting for the decision. */
  signal?: AbortSignal;
}

/** The defaults, with PINCTL_SWEEP_BATCH / PINCTL_SWEEP_LEASE_MS from the environment (tests and tuning). */
export function shareOptions(env: Record<string, string | undefined> = {}): ShareOptions {
  const num = (v: string | undefined, d: number) => (v && Number(v) > 0 ? Number(v) : d);
  return {
    batchSize: Number(env.PINCTL_SWEEP_BATCH) > 0 ? Number(env.PINCTL_SWEEP_BATCH) : null,
    leaseMs: num(env.PINCTL_SWEEP_LEASE_MS, 15_000),
    pollMs: 500,
    parallel: 4,
    claimer: `${hostname()} pid ${process.pid}`,
  };
}

export interface Probed {
  batches: number;
  endpoints: number;
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Leases run on the wall clock, not the cycle's clock (deps.now, which tests freeze or step): they
 * measure whether a claimer is still alive, in real time, between processes.
 */
export const leaseClock = () => new Date();

/** One monitor's part in one run: what it probes with and where the batches are. */
export interface Sharing {
  run: SweepRun;
  cfg: MonitorConfig;
  store: MonitorState;
  deps: SweepDeps;
  opts: ShareOptions;
}

/** Claims and probes batches of the run until none is claimable; what this monitor probed. */
export async function probeBatches(sh: Sharing): Promise<Probed> {
  const { run, cfg, store, opts } = sh;
  const probed: Probed = { batches: 0, endpoints: 0 };
  const byId = new Map(cfg.endpoints.map((e) => [e.id, e]));
  const workers = Math.max(1, Math.min(opts.parallel, run.batches, cfg.concurrency));
  const concurrency = Math.max(1, Math.ceil(cfg.concurrency / workers));
  const worker = async () => {
    for (;;) {
      if (opts.signal?.aborted) return;
      const claim = await store.claimBatch(run.id, leaseClock(), opts.leaseMs, opts.claimer);
      if (!claim) return;
      const endpoints = claim.endpoints.map((id) => byId.get(id)).filter((e) => e !== undefined);
      if (await probeOne(sh, claim, { ...cfg, endpoints, concurrency })) {
        probed.batches++;
        probed.endpoints += endpoints.length;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  return probed;
}

/** One claimed batch (`batch`: the config with its endpoints): probed under a renewed lease, stored while the claim holds. */
async function probeOne({ store, deps, opts }: Sharing, claim: BatchClaim, batch: MonitorConfig): Promise<boolean> {
  const renewal = () => void store.renewBatch(claim, leaseClock(), opts.leaseMs).catch(() => false);
  const renew = setInterval(renewal, Math.max(50, opts.leaseMs / 3));
  try {
    const r = await sweep(batch, deps);
    const certificates: Record<string, string> = {};
    for (const [sha, der] of r.certificates) certificates[sha] = Buffer.from(der).toString('base64');
    return await store.completeBatch(claim, { observations: r.observations, certificates });
  } finally {
    clearInterval(renew);
  }
}

/**
 * The lead: probes what it can claim and waits for the batches others hold (claiming those whose
 * lease ran out), until every batch is in. Returns what the lead probed itself.
 */
export async function awaitAllIn(sh: Sharing): Promise<Probed> {
  const mine: Probed = { batches: 0, endpoints: 0 };
  // The lead finishes its sweep also when stopping (as before shared sweeps): nobody else may be left to.
  const lead = { ...sh, opts: { ...sh.opts, signal: undefined } };
  for (;;) {
    const p = await probeBatches(lead);
    mine.batches += p.batches;
    mine.endpoints += p.endpoints;
    const progress = await sh.store.batchProgress(sh.run.id, leaseClock());
    if (progress.done >= progress.total) return mine;
    await wait(sh.opts.pollMs);
  }
}

/**
 * Every batch's observations as one sweep, read a batch at a time; their certificates are saved
 * where this monitor's alerts point. Chain records are shared between observations again (as
 * sweep() shares them), so 100,000 observations do not hold 100,000 copies of one chain.
 */
export async function gatherRun(run: SweepRun, store: MonitorState, now: Date): Promise<SweepResult> {
  const observations: Observation[] = [];
  const records = new Map<string, CertRecord>();
  const intern = (c: CertRecord) => {
    const key = `${c.sha256}|${c.position}|${c.source}|${c.notAfter}`;
    const had = records.get(key);
    if (had) return had;
    records.set(key, c);
    return c;
  };
  for await (const b of store.batchResults(run.id)) {
    for (const [sha, b64] of Object.entries(b.certificates)) {
      await store.saveCertificate(sha, Buffer.from(b64, 'base64'));
    }
    for (const o of b.observations) observations.push({ ...o, chain: o.chain.map(intern) });
  }
  const finishedAt = now.toISOString();
  const durationMs = Math.max(0, now.getTime() - Date.parse(run.startedAt));
  return { startedAt: run.startedAt, finishedAt, durationMs, observations, certificates: new Map() };
}

/** A follower waits this long for the lead to open its run (the lead opens it right after taking the lead). */
export async function waitForRun(
  store: MonitorState,
  vantage: string,
  withinMs: number,
  pollMs: number,
): Promise<SweepRun | null> {
  const until = Date.now() + withinMs;
  for (;;) {
    const run = await store.openedRun(vantage);
    if (run || Date.now() >= until) return run;
    await wait(Math.min(pollMs, 200));
  }
}

export type { BatchResult };
