/** Rows as both state backends store them (TEXT columns holding JSON) and their mapping to the model. */
import { createHash } from 'node:crypto';
import { addrKey } from './findings.js';
import { AlertType, CertRecord, Finding, Observation, Severity, StoredFinding } from './types.js';
import { parseDetails, storedDetails } from './lifecycle.js';
import { AddressState, AlertMessage, EventWrite, HistoryEvent, OutboxRow, SweepRecord, SweepWrite, stateOf } from './state.js';
import { DEFAULT_VANTAGE } from './vantage.js';

/** A row: column name → value. */
export type Row = Record<string, unknown>;
export type Arg = string | number | null;

export const FINDING_COLUMNS = ['id', 'key', 'kind', 'severity', 'endpoint', 'host', 'port', 'address', 'title', 'explanation', 'action', 'signature', 'details', 'opened_at', 'updated_at', 'resolved_at', 'resolution', 'last_alert_at', 'vantage'];
export function findingArgs(f: StoredFinding): Arg[] {
  return [f.id, f.key, f.kind, f.severity, f.endpoint, f.host, f.port, f.address, f.title, f.explanation, f.action, f.signature, findingDetailsJson(f), f.openedAt, f.updatedAt, f.resolvedAt, f.resolution, f.lastAlertAt, f.vantage ?? null];
}

/** The `details` column of a finding: evidence and drift tracking (lifecycle.ts), as earlier versions laid it out. */
export const findingDetailsJson = (f: StoredFinding) => JSON.stringify(storedDetails(f));

export function eventArgs(e: EventWrite): Arg[] {
  return [e.at, e.endpoint, e.host, e.address, e.type, e.kind, e.severity, e.findingId, e.summary, e.details === undefined ? null : JSON.stringify(e.details)];
}

/** A `latest` row (data, chain_key, chain) as the Observation it stored; chains parsed once per key. */
export function observationOf(r: Row, chains: Map<string, CertRecord[]>): Observation {
  const o = JSON.parse(String(r.data)) as Observation;
  if (r.chain_key !== null && r.chain_key !== undefined && r.chain !== null) {
    const key = String(r.chain_key);
    let chain = chains.get(key);
    if (!chain) chains.set(key, (chain = JSON.parse(String(r.chain)) as CertRecord[]));
    o.chain = chain;
  }
  return o;
}

/**
 * previousStates() rows (data, chain_data, chain_key, chain) as what each address served last, and
 * last with a chain. chain_data is NULL while data itself has a chain (older stores wrote data
 * twice: the same thing).
 */
export function addressStatesOf(rows: Row[]): Map<string, AddressState> {
  const out = new Map<string, AddressState>();
  const chains = new Map<string, CertRecord[]>();
  for (const r of rows) {
    const last = observationOf(r, chains);
    const lastWithChain = r.chain_data !== null ? (JSON.parse(String(r.chain_data)) as Observation) : last.chain.length > 0 ? last : null;
    out.set(addrKey(last.endpoint, last.address), { last, lastWithChain });
  }
  return out;
}

/** A findings row as the model: the stored details validated into the kind's evidence and the lifecycle. */
export function findingFromRow(r: Row): StoredFinding {
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const { evidence, tracking } = parseDetails(String(r.kind), JSON.parse(String(r.details)));
  return {
    id: String(r.id),
    key: String(r.key),
    kind: evidence.kind,
    severity: String(r.severity) as Severity,
    endpoint: String(r.endpoint),
    host: String(r.host),
    port: Number(r.port),
    address: str(r.address),
    title: String(r.title),
    explanation: String(r.explanation),
    action: String(r.action),
    signature: String(r.signature),
    details: evidence,
    openedAt: String(r.opened_at),
    updatedAt: String(r.updated_at),
    resolvedAt: str(r.resolved_at),
    resolution: str(r.resolution),
    lastAlertAt: str(r.last_alert_at),
    ...tracking,
    ...(r.vantage !== null && r.vantage !== undefined ? { vantage: String(r.vantage) } : {}),
  };
}

export function sweepFromRow(r: Row): SweepRecord {
  const base = { id: String(r.id), startedAt: String(r.started_at), finishedAt: String(r.finished_at), durationMs: Number(r.duration_ms), configHash: String(r.config_hash) };
  return r.vantage !== undefined && r.vantage !== null && r.vantage !== DEFAULT_VANTAGE ? { ...base, vantage: String(r.vantage) } : base;
}

/** otherVantages() rows: the observation, carrying the vantage of its row (`vantage` column). */
export function vantageObservationsOf(rows: Row[]): Observation[] {
  const chains = new Map<string, CertRecord[]>();
  return rows.map((r) => ({ ...observationOf(r, chains), vantage: String(r.vantage) }));
}

export function outboxFromRow(r: Row): OutboxRow {
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

export function eventFromRow(r: Record<string, unknown>): HistoryEvent {
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

/**
 * What a sweep writes, computed once for every backend: the observations whose served state
 * changed (history), each distinct chain once (content-addressed; rows reference it by key; JSON made
 * once per distinct list of CertRecords, which observations share), and counts for the sweep row.
 */
export function sweepRows(w: SweepWrite) {
  const history = w.observations.filter((o) => {
    const before = w.previous.get(addrKey(o.endpoint, o.address));
    return !before || stateOf(before.last) !== stateOf(o);
  });
  const keys = new Map<CertRecord[], string>();
  const byCerts = new Map<string, string>();
  const distinct = new Map<string, string>();
  for (const o of w.observations) {
    if (o.chain.length === 0) continue;
    const json = JSON.stringify(o.chain);
    let key = byCerts.get(json);
    if (key === undefined) {
      key = createHash('sha256').update(json).digest('base64url');
      byCerts.set(json, key);
      distinct.set(key, json);
    }
    keys.set(o.chain, key);
  }
  return {
    history,
    distinct,
    /** The observation as stored in `data`: its chain is in `chains` when it has one. */
    stored: (o: Observation) => (o.chain.length > 0 ? JSON.stringify({ ...o, chain: [] }) : JSON.stringify(o)),
    keyOf: (o: Observation) => keys.get(o.chain) ?? null,
    failures: w.observations.filter((o) => o.error).length,
    endpoints: new Set(w.observations.map((o) => o.endpoint)).size,
  };
}
