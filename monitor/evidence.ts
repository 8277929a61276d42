/**
 * What each kind of finding saw: one evidence type per kind, a union discriminated by `kind`
 * (`Finding.details`). Findings are built with it (findings.ts, served-bundle-findings.ts) and read
 * through it (alerts, reconcile, dynamic pinning), so a reader narrows on `details.kind` instead of
 * casting fields out of a JSON bag.
 *
 * Stored form: the `details` column holds the evidence as JSON without its `kind` (the row's `kind`
 * column says it), the same bytes earlier pinctl versions wrote, plus the lifecycle fields of a
 * flapping drift (see lifecycle.ts). `parseEvidence` turns a stored object back into the union and
 * tolerates what older versions wrote (fields added later are defaulted, not required).
 */
import { InputError } from '../src/errors.js';
import type { ChangeKind } from './findings.js';
import type { ErrorReason, FindingKind, Position, Severity } from './types.js';
import type { ReportCounts } from './report-findings.js';

/** A certificate as findings quote it (a subset of CertRecord). */
export interface CertSummary {
  position: Position;
  subject: string;
  issuer: string;
  spkiSha256: string;
  sha256: string;
  notAfter: string;
}

export interface DriftChange {
  change: ChangeKind;
  severity: Severity;
  text: string;
  from: CertSummary | null;
  to: CertSummary | null;
}

/** The dynamic-pinning proposal a chain-drift finding answers (set by the pinning cycle; named in alerts). */
export interface ProposalNote {
  /** The proposal's id in the state (absent in records written before proposals had their own table). */
  id?: string;
  file: string;
  curl: string;
  publish: boolean;
  service: string;
  domain: string;
  pins: string[];
  backups: string[];
  positions?: Position[];
  keepBackupsUntil: string;
}

export interface UnreachableEvidence {
  kind: 'unreachable';
  addresses: string[];
  reason: ErrorReason;
  code: string;
  message: string;
  attempts: number;
}

export interface ChainInvalidEvidence {
  kind: 'chain-invalid';
  addresses: string[];
  problems: { code: string; message: string }[];
  chain: CertSummary[];
  anchor: 'system' | 'ca-file';
}

export interface PinMismatchEvidence {
  kind: 'pin-mismatch';
  addresses: string[];
  /** The pins the app ships, and where they come from. */
  pins: string[];
  pinsSource: string;
  reasons: string[];
  /** What is served now, and the last chain that matched (null: none seen). */
  chain: CertSummary[];
  previousChain: CertSummary[] | null;
}

export interface ChainDriftEvidence {
  kind: 'chain-drift';
  addresses: string[];
  changes: DriftChange[];
  /** chainSig of the old and the new chain (certificate hashes). */
  from: string;
  to: string;
  newKeys: string[];
  previousChain: CertSummary[];
  chain: CertSummary[];
  proposal?: ProposalNote;
}

export interface AddressDisagreementEvidence {
  kind: 'address-disagreement';
  addresses: string[];
  groups: { addresses: string[]; chain: CertSummary[] }[];
}

export interface ExpiryEvidence {
  kind: 'expiry';
  addresses: string[];
  /** The warning threshold crossed (days), or 'expired'. */
  level: number | 'expired';
  daysLeft: number;
  pinned: boolean;
  certificate: CertSummary;
}

export interface NoSctEvidence {
  kind: 'no-sct';
  addresses: string[];
  leaf: CertSummary;
}

/** What a served pins bundle check saw (pinsFrom: { bundle: URL }). */
export interface ServedBundleFacts {
  url: string;
  audience: string;
  version: number | null;
  expiresAt: string | null;
  keysetVersion: number | null;
  /** Endpoints that name the bundle but that it pins nothing for. */
  uncovered: string[];
}

export interface BundleUnavailableEvidence extends ServedBundleFacts {
  kind: 'bundle-unavailable';
  error: { code: string; message: string };
  message: string;
}

export interface BundleExpiryEvidence extends ServedBundleFacts {
  kind: 'bundle-expiry';
  daysLeft: number;
}

/** Pin-failure reports apps sent to `pinctl serve` for one domain (reportsFrom; report-findings.ts). */
export interface PinFailureReportsEvidence extends ReportCounts {
  kind: 'pin-failure-reports';
}

/** What one vantage saw of an endpoint (vantage-findings.ts). */
export interface VantageSight {
  vantage: string;
  at: string;
  addresses: string[];
  leafKeys: string[];
  chains: CertSummary[][];
}

/** Vantages (monitors in different places) see different keys for one name (vantage-findings.ts). */
export interface VantageDisagreementEvidence {
  kind: 'vantage-disagreement';
  addresses: string[];
  windowMs: number;
  vantages: VantageSight[];
}

export type FindingEvidence =
  | UnreachableEvidence
  | ChainInvalidEvidence
  | PinMismatchEvidence
  | ChainDriftEvidence
  | AddressDisagreementEvidence
  | ExpiryEvidence
  | NoSctEvidence
  | BundleUnavailableEvidence
  | BundleExpiryEvidence
  | PinFailureReportsEvidence
  | VantageDisagreementEvidence;

/** The evidence type of one kind. */
export type EvidenceOf<K extends FindingKind> = Extract<FindingEvidence, { kind: K }>;

/** The addresses a finding concerns (none for served-bundle findings, which concern a URL). */
export function evidenceAddresses(e: FindingEvidence): string[] {
  return e.kind === 'bundle-unavailable' || e.kind === 'bundle-expiry' || e.kind === 'pin-failure-reports' ? [] : e.addresses;
}

/** The stored (and --json / webhook) form: the evidence without its `kind` (the finding's own `kind` says it). */
export function evidenceJson(e: FindingEvidence): Record<string, unknown> {
  const { kind: _kind, ...rest } = e;
  return rest;
}

// ---------------------------------------------------------------------------------------------
// Parsing stored rows. Defaults stand for fields older versions did not write yet.

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);
const num = (v: unknown, d = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const nullableNum = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const nullableStr = (v: unknown): string | null => (typeof v === 'string' ? v : null);

const tally = (v: unknown): Record<string, number> =>
  Object.fromEntries(Object.entries(obj(v)).filter((e): e is [string, number] => typeof e[1] === 'number'));

const POSITIONS: readonly string[] = ['leaf', 'intermediate', 'root'];
const SEVERITIES: readonly string[] = ['info', 'warning', 'critical'];

function cert(v: unknown): CertSummary {
  const c = obj(v);
  const position = POSITIONS.includes(str(c.position)) ? (c.position as Position) : 'leaf';
  return { position, subject: str(c.subject), issuer: str(c.issuer), spkiSha256: str(c.spkiSha256), sha256: str(c.sha256), notAfter: str(c.notAfter) };
}
const certs = (v: unknown): CertSummary[] => (Array.isArray(v) ? v.map(cert) : []);
const problems = (v: unknown) => (Array.isArray(v) ? v.map((p) => ({ code: str(obj(p).code), message: str(obj(p).message) })) : []);

function change(v: unknown): DriftChange {
  const c = obj(v);
  return {
    change: str(c.change) as ChangeKind,
    severity: SEVERITIES.includes(str(c.severity)) ? (c.severity as Severity) : 'warning',
    text: str(c.text),
    from: c.from ? cert(c.from) : null,
    to: c.to ? cert(c.to) : null,
  };
}

function proposalNote(v: unknown): ProposalNote | undefined {
  const p = obj(v);
  if (typeof p.file !== 'string') return undefined;
  // The order earlier versions wrote the keys in (the stored and printed JSON keep it).
  return {
    ...(typeof p.id === 'string' ? { id: p.id } : {}),
    file: p.file,
    curl: str(p.curl),
    publish: p.publish === true,
    service: str(p.service),
    domain: str(p.domain),
    pins: strs(p.pins),
    backups: strs(p.backups),
    ...(Array.isArray(p.positions) ? { positions: strs(p.positions).filter((x) => POSITIONS.includes(x)) as Position[] } : {}),
    keepBackupsUntil: str(p.keepBackupsUntil, '?'),
  };
}

function bundleFacts(d: Json): ServedBundleFacts {
  return {
    url: str(d.url),
    audience: str(d.audience),
    version: nullableNum(d.version),
    expiresAt: nullableStr(d.expiresAt),
    keysetVersion: nullableNum(d.keysetVersion),
    uncovered: strs(d.uncovered),
  };
}

const PARSERS: { [K in FindingKind]: (d: Json) => EvidenceOf<K> } = {
  unreachable: (d) => ({
    kind: 'unreachable',
    addresses: strs(d.addresses),
    reason: str(d.reason, 'refused') as ErrorReason,
    code: str(d.code),
    message: str(d.message),
    attempts: num(d.attempts, 1),
  }),
  'chain-invalid': (d) => ({
    kind: 'chain-invalid',
    addresses: strs(d.addresses),
    problems: problems(d.problems),
    chain: certs(d.chain),
    anchor: d.anchor === 'ca-file' ? 'ca-file' : 'system',
  }),
  'pin-mismatch': (d) => ({
    kind: 'pin-mismatch',
    addresses: strs(d.addresses),
    pins: strs(d.pins),
    pinsSource: str(d.pinsSource),
    reasons: strs(d.reasons),
    chain: certs(d.chain),
    previousChain: Array.isArray(d.previousChain) ? certs(d.previousChain) : null,
  }),
  'chain-drift': (d) => {
    const e: ChainDriftEvidence = {
      kind: 'chain-drift',
      addresses: strs(d.addresses),
      changes: Array.isArray(d.changes) ? d.changes.map(change) : [],
      from: str(d.from),
      to: str(d.to),
      newKeys: strs(d.newKeys),
      previousChain: certs(d.previousChain),
      chain: certs(d.chain),
    };
    const note = proposalNote(d.proposal);
    if (note) e.proposal = note;
    return e;
  },
  'address-disagreement': (d) => ({
    kind: 'address-disagreement',
    addresses: strs(d.addresses),
    groups: Array.isArray(d.groups) ? d.groups.map((g) => ({ addresses: strs(obj(g).addresses), chain: certs(obj(g).chain) })) : [],
  }),
  expiry: (d) => ({
    kind: 'expiry',
    addresses: strs(d.addresses),
    level: d.level === 'expired' ? 'expired' : num(d.level),
    daysLeft: num(d.daysLeft),
    pinned: d.pinned === true,
    certificate: cert(d.certificate),
  }),
  'no-sct': (d) => ({ kind: 'no-sct', addresses: strs(d.addresses), leaf: cert(d.leaf) }),
  'bundle-unavailable': (d) => {
    const err = obj(d.error);
    const error = { code: str(err.code, 'BUNDLE_FETCH'), message: str(err.message, str(d.message)) };
    return { kind: 'bundle-unavailable', ...bundleFacts(d), error, message: str(d.message, error.message) };
  },
  'bundle-expiry': (d) => ({ kind: 'bundle-expiry', ...bundleFacts(d), daysLeft: num(d.daysLeft) }),
  'vantage-disagreement': (d) => ({
    kind: 'vantage-disagreement',
    addresses: strs(d.addresses),
    windowMs: num(d.windowMs, 600_000),
    vantages: Array.isArray(d.vantages)
      ? d.vantages.map((v) => {
          const o = obj(v);
          const chains = Array.isArray(o.chains) ? o.chains.map(certs) : [];
          return { vantage: str(o.vantage), at: str(o.at), addresses: strs(o.addresses), leafKeys: strs(o.leafKeys), chains };
        })
      : [],
  }),
  'pin-failure-reports': (d) => ({
    kind: 'pin-failure-reports',
    source: str(d.source),
    domain: str(d.domain),
    total: num(d.total),
    inWindow: num(d.inWindow),
    windowMs: num(d.windowMs, 3_600_000),
    firstAt: str(d.firstAt),
    lastAt: str(d.lastAt),
    buckets: Array.isArray(d.buckets) ? d.buckets.filter((b) => Array.isArray(b)).map((b) => [str(b[0]), num(b[1])] as [string, number]) : [],
    types: tally(d.types),
    apps: tally(d.apps),
    versions: tally(d.versions),
    failedOn: tally(d.failedOn),
    expected: tally(d.expected),
    ports: Array.isArray(d.ports) ? d.ports.filter((x): x is number => typeof x === 'number') : [],
  }),
};

export const FINDING_KINDS = Object.keys(PARSERS) as FindingKind[];

export const isFindingKind = (k: string): k is FindingKind => Object.prototype.hasOwnProperty.call(PARSERS, k);

/**
 * A stored `details` object (as JSON.parse gave it) as the evidence of `kind`. A kind this version
 * does not know was written by a newer pinctl sharing the state: refused with a hint, not guessed.
 */
export function parseEvidence(kind: string, details: unknown): FindingEvidence {
  if (!isFindingKind(kind)) {
    throw new InputError('CONFIG_UNSUPPORTED', `a stored finding has the kind "${kind}", which this pinctl does not know (expected one of ${FINDING_KINDS.join(', ')})`, {
      hint: 'a newer pinctl wrote this state: upgrade pinctl on this machine',
    });
  }
  return PARSERS[kind](obj(details));
}
