/**
 * The monitor's state behind one port: everything a cycle, the alert deliverer, `status` and
 * `history` read or write goes through `MonitorState`, so a backend is one class. Two exist:
 * SQLite in a local directory (monitor/store.ts, the default) and PostgreSQL (monitor/state-pg.ts),
 * which several monitors can share. Every implementation passes test/monitor/state-contract.test.ts.
 *
 * Rules every backend keeps:
 *  - commitSweep() writes a whole sweep or none of it; a proposal change (monitor/proposal-state.ts)
 *    applies only while the proposal's stored version is the one it was computed from (checked
 *    inside the transaction, after any other monitor's commit), with the history events it writes;
 *  - claimNext() hands one due outbox row to one deliverer, with a lease token; markSent/markFailed
 *    take effect only while that token still holds the lease.
 */
import type { AlertType, Observation, StoredFinding } from './types.js';
import type { Proposal, ProposalChange } from './proposal-state.js';

export interface OutboxRow {
  id: string;
  /** A registry entry's name (monitor/channels): email, webhook, slack, pagerduty. */
  channel: string;
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
  /** The channel's payload by channel name (rows queued since the channel registry). */
  payloads?: Record<string, unknown>;
  /** JSON body for webhooks: rows queued before `payloads` (still read). */
  webhook?: Record<string, unknown>;
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
  /** The vantage that swept (monitor/vantage.ts); absent: the default one. */
  vantage?: string;
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
  /** Dynamic-pinning proposals created or moved this sweep (each applied by compare-and-set). */
  proposals?: ProposalChange[];
  /**
   * A shared sweep (SweepRun id) this commit decides: closed in the same transaction; when it is
   * not open any more (another monitor decided it), the commit fails (RunDecided, STATE_BUSY) and writes nothing.
   */
  run?: string;
}

/** Held by the one monitor that sweeps a state now; released when its cycle ends (or it dies). */
export interface SweepLease {
  release(): Promise<void>;
}

/**
 * One vantage's sweep shared out between its monitors (monitor/shared-sweep.ts): opened by the
 * vantage's lead with the endpoints cut into batches; any monitor of the vantage claims batches,
 * probes them and completes them with its observations; the lead that finds every batch in decides.
 */
export interface SweepRun {
  /** Also the id of the committed sweep (SweepRecord.id). */
  id: string;
  vantage: string;
  configHash: string;
  startedAt: string;
  batches: number;
}

/** A batch held by one monitor until `leaseUntil`; only the holder of `token` can renew or complete it. */
export interface BatchClaim {
  run: string;
  n: number;
  endpoints: string[];
  token: string;
}

/** What a monitor found probing one batch. */
export interface BatchResult {
  observations: Observation[];
  /** DER by SHA-256, base64: the decider writes them where its alerts' commands point. */
  certificates: Record<string, string>;
}

export interface BatchProgress {
  total: number;
  done: number;
  /** Claimed and still leased at `now`. */
  claimed: number;
  /** Endpoints probed by each claimer (done batches). */
  byClaimer: Record<string, number>;
}

export interface MonitorState {
  /**
   * Several monitors may share one state: one sweeps at a time. null: another holds the lead now.
   * A holder that dies loses the lead (PostgreSQL: its connection ends; SQLite: the lease runs out).
   */
  leadSweep(vantage?: string): Promise<SweepLease | null>;
  /**
   * Vantages: monitors of different vantages sweep a shared state at the same time (one lead per
   * vantage, above), and state-wide findings (vantage-disagreement) are decided by the holder of
   * this lead, from reading the open ones to the commit. null: another monitor decides now.
   */
  leadDecision(): Promise<SweepLease | null>;
  /**
   * Opens a shared sweep of `run.vantage` with these endpoint batches (under the vantage's lead).
   * false: one is open for that vantage already (continue it: openRun()).
   */
  openRun(run: Omit<SweepRun, 'batches'>, batches: string[][]): Promise<boolean>;
  /** The open shared sweep of this vantage, if any. */
  openedRun(vantage: string): Promise<SweepRun | null>;
  /** Drops an open shared sweep that will not be decided (its config changed, or it is too old). */
  dropRun(id: string): Promise<void>;
  /**
   * Hands one batch of the run to one claimer (`FOR UPDATE SKIP LOCKED` / a write transaction): a
   * pending one, or one whose lease ended (its claimer died). null: none is claimable now.
   */
  claimBatch(run: string, now: Date, leaseMs: number, claimer: string): Promise<BatchClaim | null>;
  /** Extends the lease while the holder still has it; false when it was lost. */
  renewBatch(claim: BatchClaim, now: Date, leaseMs: number): Promise<boolean>;
  /** Stores the batch's result and marks it done while the holder still has it; false when it was lost. */
  completeBatch(claim: BatchClaim, result: BatchResult): Promise<boolean>;
  batchProgress(run: string, now: Date): Promise<BatchProgress>;
  /** The results of the done batches, one batch at a time (the whole sweep is never held twice). */
  batchResults(run: string): AsyncIterable<BatchResult>;
  /** Where certificate PEM files are written for the commands printed in alerts. */
  certPath(sha256: string): string;
  /** Content-addressed: writing the same certificate again is a no-op. */
  saveCertificate(sha256: string, der: Uint8Array): void | Promise<void>;
  /** What `vantage` (default: the default vantage) saw last at each address of these endpoints. */
  previousStates(endpoints: string[], vantage?: string): Promise<Map<string, AddressState>>;
  /** Every address of the last sweep of each vantage that probed each endpoint. */
  latestObservations(): Promise<Observation[]>;
  /** The newest observations of these endpoints by every vantage but `vantage`, each carrying its vantage. */
  otherVantages(vantage: string, endpoints: string[]): Promise<Observation[]>;
  /** The newest sweep (of `vantage` when given). */
  lastSweep(vantage?: string): Promise<SweepRecord | null>;
  openFindings(): Promise<StoredFinding[]>;
  recentlyResolved(kind: string, sinceIso: string): Promise<StoredFinding[]>;
  finding(id: string): Promise<StoredFinding | null>;
  history(hostOrEndpoint: string, limit?: number): Promise<HistoryEvent[]>;
  findingEvents(findingId: string): Promise<HistoryEvent[]>;
  /** Dynamic-pinning proposals, oldest first; `active`: those whose overlap window is still undecided. */
  proposals(filter?: { active?: boolean }): Promise<Proposal[]>;
  /**
   * Applies proposal changes outside a sweep (publishing), in one transaction; `lost`: those not
   * applied because the proposal moved meanwhile (another monitor), whose history was not written.
   */
  applyProposalChanges(changes: ProposalChange[]): Promise<{ lost: ProposalChange[] }>;
  addEvents(events: EventWrite[]): Promise<void>;
  commitSweep(w: SweepWrite, faults?: { failAt?: number }): Promise<{ lost: ProposalChange[] }>;
  claimNext(now: Date, leaseMs: number, channel: string): Promise<(OutboxRow & { leaseToken: string }) | null>;
  claimDue(now: Date, leaseMs: number, limit?: number): Promise<(OutboxRow & { leaseToken: string })[]>;
  channels(): Promise<string[]>;
  markSent(id: string, channel: string, now: Date, leaseToken?: string): Promise<boolean>;
  markFailed(id: string, channel: string, error: string, nextAttemptAt: Date | null, leaseToken?: string): Promise<boolean>;
  /** Rows due later than `maxAheadMs` from now (set while the clock was ahead) become due now; returns how many. */
  rebaseFutureAlerts(now: Date, maxAheadMs: number): Promise<number>;
  outbox(status?: OutboxRow['status']): Promise<OutboxRow[]>;
  counters(): Promise<{ name: string; label: string; value: number }[]>;
  pendingByChannel(): Promise<Map<string, number>>;
  lastChanges(): Promise<Map<string, string>>;
  chainChanges(): Promise<Map<string, number>>;
  count(table: 'observations' | 'latest' | 'findings' | 'events' | 'outbox' | 'sweeps' | 'proposals'): Promise<number>;
  close(): void | Promise<void>;
}

/**
 * claimDue() of every backend: each channel's due rows through claimNext() (so every row gets its
 * own lease token, exactly as a deliverer claims it), oldest first.
 */
export async function claimDueRows(
  state: Pick<MonitorState, 'channels' | 'claimNext'>,
  now: Date,
  leaseMs: number,
  limit: number,
): Promise<(OutboxRow & { leaseToken: string })[]> {
  const out: (OutboxRow & { leaseToken: string })[] = [];
  for (const channel of await state.channels()) {
    while (out.length < limit) {
      const row = await state.claimNext(now, leaseMs, channel);
      if (!row) break;
      out.push(row);
    }
  }
  return out.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
}
