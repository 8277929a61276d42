/**
 * The monitor's data model. Everything here is plain JSON-serialisable data: observations are
 * stored as they are and findings are computed from them by pure functions (findings.ts), so a
 * history replayed from the database gives the same answers as the live sweep did.
 */

import type { FindingEvidence } from './evidence.js';
import type { Lifecycle } from './lifecycle.js';

export type Severity = 'info' | 'warning' | 'critical';
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };
export const atLeast = (s: Severity, min: Severity) => SEVERITY_RANK[s] >= SEVERITY_RANK[min];
export const maxSeverity = (list: Severity[]): Severity => list.reduce<Severity>((a, b) => (SEVERITY_RANK[b] > SEVERITY_RANK[a] ? b : a), 'info');

/** Why an address produced no usable chain. `verify`: the handshake worked but the chain does not validate. */
export type ErrorReason = 'dns' | 'refused' | 'timeout' | 'handshake' | 'verify';

export type Position = 'leaf' | 'intermediate' | 'root';

export interface CertRecord {
  position: Position;
  /** 'served' by the peer, or 'trust-store' when the chain was completed with the anchor. */
  source: 'served' | 'trust-store';
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  spkiSha256: string;
  /** Lower-case hex SHA-256 of the DER certificate. */
  sha256: string;
  keyType: string;
  keyBits: number | null;
  /** Carries embedded Certificate Transparency timestamps (extension 1.3.6.1.4.1.11129.2.4.2). */
  sct: boolean;
}

export interface ObservationError {
  reason: ErrorReason;
  /** pinctl's error code (DNS, REFUSED, TIMEOUT, TLS_ALERT, NOT_TLS, …) or a chain problem code. */
  code: string;
  message: string;
}

/** One address of one endpoint, as one sweep saw it (after retries). */
export interface Observation {
  /** Endpoint id: "host:port" (or the endpoint's `name`). */
  endpoint: string;
  host: string;
  port: number;
  sni: string;
  /** The IP dialled; '' when the name did not resolve. */
  address: string;
  /** ISO 8601, from the injected clock. */
  at: string;
  durationMs: number;
  attempts: number;
  protocol: string | null;
  /** Leaf → root; empty when no handshake completed. */
  chain: CertRecord[];
  trusted: boolean;
  /** Which trust store validated (or failed to validate) the chain. */
  anchor: 'system' | 'ca-file';
  problems: { code: string; message: string }[];
  error: ObservationError | null;
  /** The monitor's `vantage` (monitor/vantage.ts); absent: the default vantage. */
  vantage?: string;
}

export type FindingKind =
  | 'pin-mismatch'
  | 'chain-drift'
  | 'chain-invalid'
  | 'address-disagreement'
  | 'expiry'
  | 'no-sct'
  | 'unreachable'
  | 'bundle-unavailable'
  | 'bundle-expiry'
  | 'pin-failure-reports'
  | 'vantage-disagreement';

/** A problem as the pure diff sees it in one sweep. */
export interface Finding {
  /** Identity of the problem: while later sweeps produce the same key it is the same (open) problem. */
  key: string;
  kind: FindingKind;
  severity: Severity;
  endpoint: string;
  host: string;
  port: number;
  /** The address concerned, or null when it concerns the endpoint (several addresses). */
  address: string | null;
  /** One line. */
  title: string;
  /** What it means for apps, in plain words. */
  explanation: string;
  /** What to do, often an exact command. */
  action: string;
  /**
   * When this changes for an open finding (an expiry crossing the next threshold, a severity
   * change) the finding is re-alerted as "changed"; otherwise it is the same problem, not re-sent.
   */
  signature: string;
  /** What was seen, typed by kind (`details.kind` === `kind`): monitor/evidence.ts. */
  details: FindingEvidence;
  /** The named vantage whose sweep found it (monitor/vantage.ts `qualify`); absent: the default vantage, or state-wide. */
  vantage?: string;
}

/** A finding as stored: its evidence and its lifecycle (monitor/lifecycle.ts), open until resolved. */
export interface StoredFinding extends Finding, Lifecycle {
  id: string;
}

export type AlertType = 'new' | 'changed' | 'reminder' | 'resolved';
