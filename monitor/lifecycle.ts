/**
 * A finding's lifecycle: when it opened, changed, was last alerted and resolved, and (chain-drift)
 * whether it flaps between two chains. reconcile() (findings.ts) is its only writer; the evidence
 * (evidence.ts) says what was seen, this says what the monitor made of it over time.
 *
 * Stored form: opened/updated/resolved/last alert are columns; the drift tracking fields live in
 * the `details` JSON beside the evidence, where earlier versions wrote them (so rows stay readable
 * both ways).
 */
import { evidenceJson, parseEvidence, type FindingEvidence } from './evidence.js';

/** Tracking of a chain-drift finding across sweeps (absent on other kinds and on fresh drifts). */
export interface DriftTracking {
  /** The server alternates between the old and the new chain within the drift window. */
  flapping?: true;
  /** The last sweep that saw the new chain (`to`). */
  lastSeenToAt?: string;
  /** Flapping: the last sweep that saw the old chain (`from`) again. */
  lastSeenFromAt?: string;
}

export interface Lifecycle extends DriftTracking {
  openedAt: string;
  updatedAt: string;
  resolvedAt: string | null;
  resolution: string | null;
  /** Last time an alert (new, changed or reminder) was queued for it; null when never alerted. */
  lastAlertAt: string | null;
}

const TRACKING_KEYS = ['flapping', 'lastSeenToAt', 'lastSeenFromAt'] as const;

/** The drift tracking fields of a lifecycle that are set (what goes into the stored details). */
export function trackingOf(l: DriftTracking): DriftTracking {
  const out: DriftTracking = {};
  if (l.flapping === true) out.flapping = true;
  if (typeof l.lastSeenToAt === 'string') out.lastSeenToAt = l.lastSeenToAt;
  if (typeof l.lastSeenFromAt === 'string') out.lastSeenFromAt = l.lastSeenFromAt;
  return out;
}

/** The `details` JSON of a finding: its evidence, then its drift tracking (the layout earlier versions wrote). */
export function storedDetails(f: { details: FindingEvidence } & DriftTracking): Record<string, unknown> {
  return { ...evidenceJson(f.details), ...trackingOf(f) };
}

/** A stored `details` object split back into evidence and drift tracking. */
export function parseDetails(kind: string, details: unknown): { evidence: FindingEvidence; tracking: DriftTracking } {
  const d = details && typeof details === 'object' ? (details as Record<string, unknown>) : {};
  const tracking = trackingOf({
    flapping: d.flapping === true ? true : undefined,
    lastSeenToAt: typeof d.lastSeenToAt === 'string' ? d.lastSeenToAt : undefined,
    lastSeenFromAt: typeof d.lastSeenFromAt === 'string' ? d.lastSeenFromAt : undefined,
  });
  const rest = { ...d };
  for (const k of TRACKING_KEYS) delete rest[k];
  return { evidence: parseEvidence(kind, rest), tracking };
}
