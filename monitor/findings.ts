/**
 * Findings, pure: from observations (the previous chain of each address, this sweep's observations,
 * the pins apps ship and the clock) to the problems that exist now (`diffObservations`), then from
 * the problems already open to what is new, changed, still open, due a reminder or resolved
 * (`reconcile`). No I/O and no clock of their own, so every rule is tested with plain data.
 */
import { createHash } from 'node:crypto';
import { EndpointConfig, ExpectedPins } from './config.js';
import { AlertType, CertRecord, Finding, Observation, Severity, StoredFinding, atLeast, maxSeverity } from './types.js';
import type { CertSummary, ChainDriftEvidence } from './evidence.js';
import type { DriftTracking } from './lifecycle.js';
import { evidenceAddresses } from './evidence.js';
import { servedBundleResolution } from './served-bundle-findings.js';
import { ReportsCheck, reportResolution } from './report-findings.js';
import { vantageResolution } from './vantage-findings.js';
import type { ServedBundleCheck } from './served-bundles.js';

const DAY = 86_400_000;
const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);
export const chainSig = (chain: CertRecord[]) => chain.map((c) => c.sha256).join(',');
const keySig = (chain: CertRecord[]) => chain.map((c) => c.spkiSha256).join(',');
/** The certificates the server sent (not the trust-store certificates the validated path added). */
export const servedSig = (chain: CertRecord[]) => chain.filter((c) => c.source !== 'trust-store').map((c) => c.sha256).join(',');
export const addrKey = (endpoint: string, address: string) => `${endpoint}|${address}`;

export function cn(subject: string): string {
  const m = /(?:^|, )CN=([^,]+)/.exec(subject);
  return m ? m[1]! : subject || '(empty subject)';
}
const certLine = (c: CertRecord) => `${c.position} "${cn(c.subject)}" pin ${c.spkiSha256}`;
export const chainSummary = (chain: CertRecord[]): CertSummary[] =>
  chain.map((c) => ({ position: c.position, subject: c.subject, issuer: c.issuer, spkiSha256: c.spkiSha256, sha256: c.sha256, notAfter: c.notAfter }));

// ---------------------------------------------------------------------------------------------
// Pin matching: the rules of src/core/verdict.ts `evaluate`, over stored chains (plain data).

export interface PinMatch {
  /** False when the pin-set has expired: apps no longer enforce it. */
  enforced: boolean;
  pass: boolean;
  matched: string[];
  reasons: string[];
}

export function matchPins(expected: ExpectedPins, chain: CertRecord[], now: Date): PinMatch {
  const chainPins = chain.map((c) => c.spkiSha256);
  const pinSet = new Set(expected.pins.map((p) => p.spkiSha256));
  const matched = chainPins.filter((p) => pinSet.has(p));
  if (expected.semantics === 'any' && expected.expiration !== null && expected.expiration <= now.toISOString().slice(0, 10)) {
    return { enforced: false, pass: true, matched, reasons: [] };
  }
  const reasons: string[] = [];
  if (expected.semantics === 'ios') {
    const leafPins = new Set(expected.pins.filter((p) => p.role === 'leaf' || p.role === 'backup').map((p) => p.spkiSha256));
    const caPins = new Set(expected.pins.filter((p) => p.role === 'intermediate' || p.role === 'root').map((p) => p.spkiSha256));
    if (leafPins.size > 0 && !leafPins.has(chainPins[0]!)) reasons.push(`the leaf key ${chainPins[0]} is not among NSPinnedLeafIdentities`);
    if (caPins.size > 0 && !chainPins.slice(1).some((p) => caPins.has(p))) reasons.push('no CA certificate of the chain is among NSPinnedCAIdentities');
  } else if (matched.length === 0) {
    reasons.push(`no pin matches the chain (chain keys: ${chainPins.join(', ')})`);
  }
  return { enforced: true, pass: reasons.length === 0, matched, reasons };
}

// ---------------------------------------------------------------------------------------------
// Chain drift.

export type ChangeKind =
  | 'leaf-renewed'
  | 'leaf-key-changed'
  | 'intermediate-renewed'
  | 'intermediate-changed'
  | 'root-renewed'
  | 'root-changed'
  | 'chain-length-changed';

export interface Change {
  change: ChangeKind;
  severity: Severity;
  from: CertRecord | null;
  to: CertRecord | null;
  text: string;
}

/**
 * Classifies how a chain changed. Same key, new certificate: "renewed" (info: pins still match).
 * A new leaf key is a warning unless the shipped pins are known and do not pin the old leaf key. A
 * new intermediate or root key, or a path of another length, is always at least a warning: apps
 * pinning the old CA break even while a leaf pin still matches (the 2016 outage).
 */
export function classifyDrift(prev: CertRecord[], cur: CertRecord[], pins: ExpectedPins | null): Change[] {
  const changes: Change[] = [];
  const pinned = new Set(pins?.pins.map((p) => p.spkiSha256) ?? []);
  const a = prev[0];
  const b = cur[0];
  if (a && b && a.sha256 !== b.sha256) {
    if (a.spkiSha256 === b.spkiSha256) {
      changes.push({ change: 'leaf-renewed', severity: 'info', from: a, to: b, text: `leaf "${cn(b.subject)}" renewed with the same key (valid until ${b.notAfter.slice(0, 10)}): pins are unaffected` });
    } else {
      const leafPinned = pins === null || pinned.has(a.spkiSha256);
      changes.push({
        change: 'leaf-key-changed',
        severity: leafPinned ? 'warning' : 'info',
        from: a,
        to: b,
        text: `leaf key changed: ${a.spkiSha256} → ${b.spkiSha256} ("${cn(a.subject)}" → "${cn(b.subject)}")${leafPinned ? '; apps that pin the leaf key fail unless they ship the new key as a backup' : '; the shipped pins do not pin the leaf'}`,
      });
    }
  }
  const pa = prev.slice(1);
  const pb = cur.slice(1);
  if (prev.length !== cur.length) {
    changes.push({
      change: 'chain-length-changed',
      severity: 'warning',
      from: null,
      to: null,
      text: `chain length changed from ${prev.length} to ${cur.length} (${prev.map((c) => `"${cn(c.subject)}"`).join(' → ')} became ${cur.map((c) => `"${cn(c.subject)}"`).join(' → ')})`,
    });
  }
  // CA certificates: aligned by position when the lengths agree, else by role.
  const pairs: [CertRecord | null, CertRecord | null][] = [];
  if (pa.length === pb.length) pa.forEach((c, i) => pairs.push([c, pb[i]!]));
  else {
    const ra = pa.filter((c) => c.position === 'root');
    const rb = pb.filter((c) => c.position === 'root');
    if (ra[0] && rb[0]) pairs.push([ra[0], rb[0]]);
    const ia = pa.filter((c) => c.position !== 'root');
    const ib = pb.filter((c) => c.position !== 'root');
    for (const c of ib) if (!ia.some((x) => x.spkiSha256 === c.spkiSha256)) pairs.push([ia.find((x) => x.subject === c.subject) ?? ia[0] ?? null, c]);
  }
  for (const [x, y] of pairs) {
    if (!y || (x && x.sha256 === y.sha256)) continue;
    const role = y.position === 'root' ? 'root' : 'intermediate';
    if (x && x.spkiSha256 === y.spkiSha256) {
      changes.push({ change: `${role}-renewed`, severity: 'info', from: x, to: y, text: `${role} "${cn(y.subject)}" re-issued with the same key: pins are unaffected` });
    } else {
      changes.push({
        change: `${role}-changed`,
        severity: 'warning',
        from: x,
        to: y,
        text: `${role} changed: ${x ? `"${cn(x.subject)}" (${x.spkiSha256})` : 'none'} → "${cn(y.subject)}" (${y.spkiSha256}); apps pinning the old ${role} key fail even if a leaf pin still matches`,
      });
    }
  }
  return changes;
}

// ---------------------------------------------------------------------------------------------
// The `pinctl generate` command that makes new pins for an endpoint, keeping old keys as backups.

export interface CommandContext {
  /** Path of the PEM file the monitor keeps for a certificate (state/certs/SHA256.pem). */
  certPath: (sha256: string) => string;
}

/**
 * `pinctl generate` for new pins that keep, as backups, every pin the app ships that the new chain
 * (`current`) does not use: a pinned key whose certificate the monitor has on file is passed as
 * `--backup-key <file>`; a pin known only as a value (e.g. an offline backup key) cannot be passed
 * to `--backup-key` (it takes files), so the text after the command lists those values to keep.
 * Paths are absolute (state/certs and the caFile resolved against the config file's directory).
 */
export function generateCommand(ep: EndpointConfig, backups: CertRecord[], ctx: CommandContext, roles?: string[], current: CertRecord[] = []): string {
  const hostPort = `${ep.sni.includes(':') ? `[${ep.sni}]` : ep.sni}${ep.port === 443 ? '' : `:${ep.port}`}`;
  const parts = ['pinctl generate', hostPort];
  if (ep.addresses) parts.push(`--resolve ${ep.sni}:${ep.port}:${ep.addresses.join(',')}`);
  if (ep.caFile) parts.push(`--ca-file ${quote(ep.caFile)}`);
  for (const r of roles ?? []) parts.push(`--pin ${r}`);
  const seen = new Set<string>(current.map((c) => c.spkiSha256));
  for (const b of backups) {
    if (seen.has(b.spkiSha256)) continue;
    seen.add(b.spkiSha256);
    parts.push(`--backup-key ${quote(ctx.certPath(b.sha256))}`);
  }
  const format = ep.pins && ep.pins.format !== 'inline' && ep.pins.format !== 'bundle' ? ep.pins.format : 'json';
  parts.push(`--format ${format}`);
  const valuesOnly = [...new Set((ep.pins?.pins ?? []).map((p) => p.spkiSha256))].filter((p) => !seen.has(p));
  const note = valuesOnly.length
    ? ` (the app also ships ${valuesOnly.length} pin(s) the monitor has no certificate or key file for, so --backup-key cannot take them: keep these pin values in the new pin set by hand, e.g. pass the backup key files you hold for them with --backup-key: ${valuesOnly.join(', ')})`
    : '';
  return parts.join(' ') + note;
}

/** `pinctl check` for the shipped pins file against this endpoint, reached as the monitor reaches it. */
export function checkCommand(ep: EndpointConfig): string {
  const file = ep.pins && ep.pins.format !== 'inline' && ep.pins.format !== 'bundle' ? quote(ep.pins.source) : '<your pins file>';
  const parts = ['pinctl check', file];
  if (ep.addresses) parts.push(`--resolve ${ep.sni}:${ep.port}:${ep.addresses.join(',')}`);
  else if (ep.port !== 443) parts.push(`--port ${ep.port}`);
  if (ep.caFile) parts.push(`--ca-file ${quote(ep.caFile)}`);
  return parts.join(' ');
}

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Roles to pass to generate: the positions the old pins covered, else generate's default. */
function rolesOf(pins: ExpectedPins | null, oldChain: CertRecord[]): string[] | undefined {
  if (!pins) return undefined;
  const pinned = new Set(pins.pins.map((p) => p.spkiSha256));
  const roles = [...new Set(oldChain.filter((c) => pinned.has(c.spkiSha256)).map((c) => c.position))];
  return roles.length > 0 && !(roles.length === 2 && roles.includes('intermediate') && roles.includes('root')) ? roles : undefined;
}

// ---------------------------------------------------------------------------------------------
// The diff.

export interface DiffInput {
  /** For each endpoint|address, the latest earlier observation that had a chain. */
  previous: Map<string, Observation>;
  current: Observation[];
  endpoints: EndpointConfig[];
  now: Date;
  commands: CommandContext;
}

const grouped = new WeakMap<Observation[], Map<string, Observation[]>>();

/**
 * Observations by endpoint id, each list in sweep order (what `filter(o => o.endpoint === id)`
 * gives, without scanning every observation once per endpoint: that was quadratic, ~0.5 s at 10,000).
 * Cached per array: a sweep's observation array is not modified after the sweep.
 */
export function byEndpoint(observations: Observation[]): Map<string, Observation[]> {
  let m = grouped.get(observations);
  if (!m) {
    m = new Map();
    for (const o of observations) {
      const list = m.get(o.endpoint);
      if (list) list.push(o);
      else m.set(o.endpoint, [o]);
    }
    grouped.set(observations, m);
  }
  return m;
}

const indexed = new WeakMap<EndpointConfig[], Map<string, EndpointConfig>>();

/** Endpoints by id (the first of a duplicate id, as `find` gave). */
function endpointIndex(endpoints: EndpointConfig[]): Map<string, EndpointConfig> {
  let m = indexed.get(endpoints);
  if (!m) {
    m = new Map();
    for (const e of endpoints) if (!m.has(e.id)) m.set(e.id, e);
    indexed.set(endpoints, m);
  }
  return m;
}

export function diffObservations(input: DiffInput): Finding[] {
  const out: Finding[] = [];
  const groups = byEndpoint(input.current);
  for (const ep of input.endpoints) {
    const obs = groups.get(ep.id) ?? [];
    const withChain = obs.filter((o) => o.chain.length > 0);
    const common = { endpoint: ep.id, host: ep.host, port: ep.port };
    out.push(...unreachable(ep, obs, withChain, common));
    out.push(...chainInvalid(ep, withChain, common, input));
    out.push(...pinMismatch(ep, withChain, common, input));
    out.push(...drift(ep, withChain, common, input));
    out.push(...disagreement(ep, withChain, common));
    out.push(...expiry(ep, withChain, common, input.now));
    out.push(...noSct(ep, withChain, common));
  }
  return out;
}

type Common = { endpoint: string; host: string; port: number };

function unreachable(ep: EndpointConfig, obs: Observation[], withChain: Observation[], common: Common): Finding[] {
  const none = withChain.length === 0;
  return obs
    .filter((o) => o.error && o.error.reason !== 'verify')
    .map((o) => {
      const severity: Severity = none ? 'critical' : 'warning';
      const where = o.address || '(DNS)';
      return {
        ...common,
        key: `unreachable|${ep.id}|${o.address || 'dns'}`,
        kind: 'unreachable' as const,
        severity,
        address: o.address || null,
        title: `${ep.id} ${where}: unreachable after ${o.attempts} attempt(s) (${o.error!.reason})`,
        explanation: none
          ? `No address of ${ep.id} answered (${o.error!.message}). Apps cannot connect at all; pins cannot be checked until it answers again.`
          : `This address of ${ep.id} did not answer (${o.error!.message}) while other addresses did. Clients routed to it fail; its chain and pins are unknown until it answers.`,
        action: o.error!.reason === 'dns' ? `check the DNS records of ${ep.host}` : `check the server at ${where} port ${ep.port} (firewall, load balancer, process)`,
        signature: severity,
        details: { kind: 'unreachable', addresses: [o.address], reason: o.error!.reason, code: o.error!.code, message: o.error!.message, attempts: o.attempts },
      };
    });
}

function chainInvalid(ep: EndpointConfig, withChain: Observation[], common: Common, input: DiffInput): Finding[] {
  // Expired certificates are reported by the expiry finding; the rest here.
  const bad = withChain.map((o) => ({ o, problems: o.problems.filter((p) => p.code !== 'expired') })).filter((x) => x.problems.length > 0);
  const groups = group(bad, (x) => x.problems.map((p) => p.code).sort().join(','));
  return [...groups].map(([codes, list]) => {
    const addresses = list.map((x) => x.o.address);
    const chain = list[0]!.o.chain;
    return {
      ...common,
      key: `chain-invalid|${ep.id}|${codes}`,
      kind: 'chain-invalid' as const,
      severity: 'critical' as const,
      address: addresses.length === 1 ? addresses[0]! : null,
      title: `${ep.id} ${addresses.join(', ')}: the chain does not validate (${codes})`,
      explanation: `Apps reject this chain before they even look at pins: ${list[0]!.problems.map((p) => p.message).join('; ')}. Every client of ${ep.sni} on ${addresses.length === 1 ? 'this address' : 'these addresses'} fails.`,
      action: `fix the server's certificate configuration (serve the full chain, a certificate for ${ep.sni}, issued by a CA the clients trust), then check it with: ${checkCommand(ep)}`,
      signature: codes,
      details: { kind: 'chain-invalid', addresses, problems: list[0]!.problems, chain: chainSummary(chain), anchor: list[0]!.o.anchor },
    };
  });
}

function pinMismatch(ep: EndpointConfig, withChain: Observation[], common: Common, input: DiffInput): Finding[] {
  if (!ep.pins) return [];
  const failing = withChain.map((o) => ({ o, m: matchPins(ep.pins!, o.chain, input.now) })).filter((x) => !x.m.pass);
  if (failing.length === 0) return [];
  const addresses = failing.map((x) => x.o.address);
  const chain = failing[0]!.o.chain;
  const prev = failing.map((x) => input.previous.get(addrKey(ep.id, x.o.address))).find((p) => p && matchPins(ep.pins!, p.chain, input.now).pass);
  const pinned = new Set(ep.pins.pins.map((p) => p.spkiSha256));
  const oldPinned = prev ? prev.chain.filter((c) => pinned.has(c.spkiSha256) && !chain.some((x) => x.spkiSha256 === c.spkiSha256)) : [];
  return [
    {
      ...common,
      key: `pin-mismatch|${ep.id}`,
      kind: 'pin-mismatch',
      severity: 'critical',
      address: addresses.length === 1 ? addresses[0]! : null,
      title: `${ep.id} ${addresses.join(', ')}: no shipped pin matches the served chain`,
      explanation:
        `Apps that ship the pins from ${ep.pins.source === 'inline' ? 'this config' : ep.pins.source} refuse to connect to ${addresses.length === 1 ? 'this address' : 'these addresses'}: ${failing[0]!.m.reasons.join('; ')}. ` +
        `The server now serves ${chain.map((c) => `${c.position} "${cn(c.subject)}" (${c.spkiSha256})`).join(', ')}; the app pins ${ep.pins.pins.map((p) => p.spkiSha256).join(', ')}. ` +
        'Users of those app versions see connection errors until the server serves a pinned key again or they install an app with new pins.',
      action:
        `If the new keys are intended, serve the old chain again until an app release with new pins (old ones kept as backup) has reached users: ${generateCommand(ep, oldPinned, input.commands, rolesOf(ep.pins, prev?.chain ?? []), chain)}. ` +
        'If they are not intended, something is intercepting or misconfigured: investigate now.',
      signature: 'critical',
      details: {
        kind: 'pin-mismatch',
        addresses,
        pins: ep.pins.pins.map((p) => p.spkiSha256),
        pinsSource: ep.pins.source,
        reasons: failing[0]!.m.reasons,
        chain: chainSummary(chain),
        previousChain: prev ? chainSummary(prev.chain) : null,
      },
    },
  ];
}

function drift(ep: EndpointConfig, withChain: Observation[], common: Common, input: DiffInput): Finding[] {
  const moves = new Map<string, { prev: Observation; cur: Observation; addresses: string[] }>();
  for (const o of withChain) {
    const prev = input.previous.get(addrKey(ep.id, o.address));
    if (!prev || prev.chain.length === 0 || chainSig(prev.chain) === chainSig(o.chain)) continue;
    // Drift is what the server serves: a path that changed only through the trust store (a root
    // added or removed locally) is not a change of the server's chain.
    if (servedSig(prev.chain) === servedSig(o.chain)) continue;
    const k = `${short(chainSig(prev.chain))}>${short(chainSig(o.chain))}`;
    const m = moves.get(k) ?? { prev, cur: o, addresses: [] };
    m.addresses.push(o.address);
    moves.set(k, m);
  }
  const out: Finding[] = [];
  for (const [k, m] of moves) {
    const changes = classifyDrift(m.prev.chain, m.cur.chain, ep.pins);
    if (changes.length === 0) continue; // same certificates in another order: not a drift of the path
    const severity = maxSeverity(changes.map((c) => c.severity));
    const oldKeys = new Set(m.prev.chain.map((c) => c.spkiSha256));
    const newKeys = m.cur.chain.filter((c) => !oldKeys.has(c.spkiSha256)).map((c) => c.spkiSha256);
    const replaced = m.prev.chain.filter((c) => !m.cur.chain.some((x) => x.spkiSha256 === c.spkiSha256));
    // Backups for the new pin set: the old keys apps pin (all replaced keys when the pins are unknown)
    // that the new chain no longer uses; a key still in service is not a backup.
    const pinnedOld = (ep.pins ? m.prev.chain.filter((c) => ep.pins!.pins.some((p) => p.spkiSha256 === c.spkiSha256)) : replaced).filter((c) => replaced.includes(c));
    const benign = severity === 'info';
    out.push({
      ...common,
      key: `chain-drift|${ep.id}|${k}`,
      kind: 'chain-drift',
      severity,
      address: m.addresses.length === 1 ? m.addresses[0]! : null,
      title: `${ep.id} ${m.addresses.join(', ')}: ${changes.map((c) => c.change).join(', ')}`,
      explanation: benign
        ? `The chain changed in a way pins do not notice: ${changes.map((c) => c.text).join('; ')}.`
        : `The server's chain changed: ${changes.map((c) => c.text).join('; ')}. ` +
          `Old chain: ${m.prev.chain.map(certLine).join(', ')}. New chain: ${m.cur.chain.map(certLine).join(', ')}. ` +
          'Any app that pins only the old keys stops connecting, as a bank\'s app did in 2016 when its CA moved to a new intermediate.',
      action: benign
        ? 'nothing to do'
        : `Check that every shipped pin set contains a key of the new chain. To make new pins that keep the old keys as backup: ${generateCommand(ep, pinnedOld, input.commands, rolesOf(ep.pins, m.prev.chain), m.cur.chain)}`,
      signature: severity,
      details: {
        kind: 'chain-drift',
        addresses: m.addresses,
        changes: changes.map((c) => ({ change: c.change, severity: c.severity, text: c.text, from: c.from && chainSummary([c.from])[0]!, to: c.to && chainSummary([c.to])[0]! })),
        from: chainSig(m.prev.chain),
        to: chainSig(m.cur.chain),
        newKeys,
        previousChain: chainSummary(m.prev.chain),
        chain: chainSummary(m.cur.chain),
      },
    });
  }
  return out;
}

function disagreement(ep: EndpointConfig, withChain: Observation[], common: Common): Finding[] {
  const groups = group(withChain, (o) => chainSig(o.chain));
  if (groups.size < 2) return [];
  const keysDiffer = new Set(withChain.map((o) => keySig(o.chain))).size > 1;
  const list = [...groups.values()];
  return [
    {
      ...common,
      key: `address-disagreement|${ep.id}`,
      kind: 'address-disagreement',
      severity: keysDiffer ? 'warning' : 'info',
      address: null,
      title: `${ep.id}: its ${withChain.length} addresses serve ${groups.size} different chains${keysDiffer ? '' : ' (same keys)'}`,
      explanation: keysDiffer
        ? `Addresses of ${ep.id} serve different keys: ${list.map((g) => `${g.map((o) => o.address).join(', ')} → ${g[0]!.chain.map((c) => `"${cn(c.subject)}"`).join(' → ')}`).join('; ')}. ` +
          'A pin set must contain a key of every one of these chains, or apps fail depending on the address they reach (CDN, geo-routing, a half-finished rollout).'
        : `Addresses of ${ep.id} serve different certificates for the same keys (a renewal rolling out): pins are unaffected.`,
      action: keysDiffer ? 'make sure the shipped pins cover every chain, or finish the rollout so every address serves the same chain' : 'nothing to do',
      signature: `${keysDiffer ? 'warning' : 'info'}:${short([...new Set(withChain.map((o) => keySig(o.chain)))].sort().join('|'))}`,
      details: { kind: 'address-disagreement', addresses: withChain.map((o) => o.address), groups: list.map((g) => ({ addresses: g.map((o) => o.address), chain: chainSummary(g[0]!.chain) })) },
    },
  ];
}

/** The threshold crossed: 'expired', or the smallest configured number of days ≥ the days left. */
export function expiryLevel(notAfter: string, now: Date, thresholds: number[]): { days: number; level: number | 'expired' } | null {
  const ms = Date.parse(notAfter) - now.getTime();
  const days = Math.floor(ms / DAY);
  if (ms < 0) return { days, level: 'expired' };
  const crossed = thresholds.filter((t) => days <= t);
  if (crossed.length === 0) return null;
  return { days, level: Math.min(...crossed) };
}

function expiry(ep: EndpointConfig, withChain: Observation[], common: Common, now: Date): Finding[] {
  const certs = new Map<string, { cert: CertRecord; addresses: string[] }>();
  for (const o of withChain) {
    for (const c of o.chain) {
      const e = certs.get(c.sha256) ?? { cert: c, addresses: [] };
      e.addresses.push(o.address);
      certs.set(c.sha256, e);
    }
  }
  const pinned = new Set(ep.pins?.pins.map((p) => p.spkiSha256) ?? []);
  const lowest = Math.min(...ep.expiryWarningDays);
  const out: Finding[] = [];
  for (const { cert, addresses } of certs.values()) {
    const lv = expiryLevel(cert.notAfter, now, ep.expiryWarningDays);
    if (!lv) continue;
    const isPinned = pinned.has(cert.spkiSha256);
    // A pinned key's certificate is critical at any threshold: if its replacement has a new key,
    // apps need a release with the new pin, and releases take weeks to reach users.
    const severity: Severity = lv.level === 'expired' || isPinned || lv.level === lowest ? 'critical' : 'warning';
    const when = lv.level === 'expired' ? `expired ${-lv.days} day(s) ago (${cert.notAfter.slice(0, 10)})` : `expires in ${lv.days} day(s) (${cert.notAfter.slice(0, 10)})`;
    out.push({
      ...common,
      key: `expiry|${ep.id}|${cert.sha256}`,
      kind: 'expiry',
      severity,
      address: addresses.length === 1 ? addresses[0]! : null,
      title: `${ep.id}: ${cert.position} "${cn(cert.subject)}"${isPinned ? ' (pinned key)' : ''} ${when}`,
      explanation:
        lv.level === 'expired'
          ? `Every client rejects the chain: the ${cert.position} certificate "${cn(cert.subject)}" ${when}.`
          : `The ${cert.position} certificate "${cn(cert.subject)}" served by ${addresses.join(', ')} ${when}, within the ${lv.level}-day warning. ` +
            (isPinned
              ? 'Its key is pinned: renew it with the SAME key, or ship an app release carrying the new key as a pin well before the date.'
              : 'Renew it before the date; if the replacement has a new key, make sure the shipped pins include it.'),
      action: lv.level === 'expired' ? 'renew and deploy the certificate now' : `renew the certificate before ${cert.notAfter.slice(0, 10)}${isPinned ? ' keeping the same key (e.g. certbot --reuse-key)' : ''}`,
      signature: String(lv.level),
      details: { kind: 'expiry', addresses, level: lv.level, daysLeft: lv.days, pinned: isPinned, certificate: chainSummary([cert])[0]! },
    });
  }
  return out;
}

function noSct(ep: EndpointConfig, withChain: Observation[], common: Common): Finding[] {
  // Only chains anchored in the system store: a private caFile PKI is not subject to CT.
  const lacking = withChain.filter((o) => o.anchor === 'system' && o.trusted && o.chain[0] && !o.chain[0].sct);
  const groups = group(lacking, (o) => o.chain[0]!.sha256);
  return [...groups].map(([sha, list]) => {
    const leaf = list[0]!.chain[0]!;
    const addresses = list.map((o) => o.address);
    return {
      ...common,
      key: `no-sct|${ep.id}|${sha}`,
      kind: 'no-sct' as const,
      severity: 'warning' as const,
      address: addresses.length === 1 ? addresses[0]! : null,
      title: `${ep.id}: leaf "${cn(leaf.subject)}" has no embedded Certificate Transparency timestamps`,
      explanation:
        `The leaf served by ${addresses.join(', ')} chains to a public root but carries no embedded SCT list (extension 1.3.6.1.4.1.11129.2.4.2). ` +
        "Apple platforms (and Chrome) require CT for publicly trusted certificates: unless the server delivers SCTs in the TLS handshake or OCSP staple (which this check cannot see), iOS apps refuse the connection.",
      action: 'ask the CA to issue the certificate with embedded SCTs (every public CA does by default), or serve SCTs via the TLS extension',
      signature: 'warning',
      details: { kind: 'no-sct', addresses, leaf: chainSummary([leaf])[0]! },
    };
  });
}

function group<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = m.get(k) ?? [];
    list.push(i);
    m.set(k, list);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle.

export interface ReconcileInput {
  open: StoredFinding[];
  found: Finding[];
  current: Observation[];
  endpoints: EndpointConfig[];
  now: Date;
  driftWindowMs: number;
  reminderMs: number;
  minSeverity: Severity;
  /** chain-drift findings resolved within the drift window (flapping detection); optional. */
  recentlyResolved?: StoredFinding[];
  /** This sweep's checks of served bundles (pinsFrom: { bundle: URL }); undefined: not checked. */
  servedBundles?: ServedBundleCheck[];
  /** This sweep's reads of pin-failure reports (reportsFrom); undefined: none configured. */
  reports?: ReportsCheck[];
  /** vantage-disagreement: how recent another vantage's observations in `current` must be (monitor/vantage-findings.ts). */
  vantageWindowMs?: number;
}

export interface PlannedAlert {
  findingId: string;
  type: AlertType;
}

export interface ReconcilePlan {
  opened: StoredFinding[];
  /** Open findings with fresh details (and possibly a new severity or signature). */
  updated: { finding: StoredFinding; changed: boolean }[];
  resolved: { finding: StoredFinding; resolution: string }[];
  alerts: PlannedAlert[];
}

export const findingId = (key: string, openedAt: string) => short(`${key}@${openedAt}`);

export function reconcile(input: ReconcileInput): ReconcilePlan {
  const nowIso = input.now.toISOString();
  const plan: ReconcilePlan = { opened: [], updated: [], resolved: [], alerts: [] };
  const openByKey = new Map(input.open.map((f) => [f.key, f]));
  const alertable = (s: Severity) => atLeast(s, input.minSeverity);
  const seen = new Set<string>();
  // A chain going back to what it was before an open drift is that drift's recovery, not a new drift.
  const reverts = new Set<string>();
  for (const f of input.open) if (f.details.kind === 'chain-drift') reverts.add(`${f.endpoint}|${f.details.to}>${f.details.from}`);

  for (const f of input.found) {
    if (seen.has(f.key)) continue;
    if (f.details.kind === 'chain-drift' && reverts.has(`${f.endpoint}|${f.details.from}>${f.details.to}`)) continue;
    seen.add(f.key);
    const old = openByKey.get(f.key);
    const drift = f.details.kind === 'chain-drift' ? f.details : null;
    const flap = !old && drift ? flappedBack(f, input) : undefined;
    if (flap) {
      // The same drift again soon after the previous chain came back: a flapping server. Reopen the
      // finding (one 'changed' alert) instead of a new drift + resolved pair every sweep.
      const next: StoredFinding = {
        ...flap,
        ...f,
        id: flap.id,
        openedAt: flap.openedAt,
        updatedAt: nowIso,
        resolvedAt: null,
        resolution: null,
        lastAlertAt: flap.lastAlertAt,
        ...flappingFields(f, drift!, nowIso, nowIso),
      };
      if (alertable(f.severity)) {
        plan.alerts.push({ findingId: flap.id, type: flap.lastAlertAt ? 'changed' : 'new' });
        next.lastAlertAt = nowIso;
      }
      plan.updated.push({ finding: next, changed: true });
      continue;
    }
    if (!old) {
      const stored: StoredFinding = { ...f, id: findingId(f.key, nowIso), openedAt: nowIso, updatedAt: nowIso, resolvedAt: null, resolution: null, lastAlertAt: null };
      if (alertable(f.severity)) {
        stored.lastAlertAt = nowIso;
        plan.alerts.push({ findingId: stored.id, type: 'new' });
      }
      plan.opened.push(stored);
      continue;
    }
    const flapping = drift !== null && old.flapping === true;
    const fresh: Finding & DriftTracking = flapping ? { ...f, ...flappingFields(f, drift, nowIso, old.lastSeenFromAt ?? nowIso) } : f;
    const changed = old.signature !== fresh.signature || old.severity !== fresh.severity;
    const next: StoredFinding = { ...old, ...fresh, id: old.id, openedAt: old.openedAt, updatedAt: nowIso, resolvedAt: null, resolution: null, lastAlertAt: old.lastAlertAt };
    if (drift) next.lastSeenToAt = nowIso;
    if (changed && alertable(f.severity)) {
      plan.alerts.push({ findingId: old.id, type: old.lastAlertAt ? 'changed' : 'new' });
      next.lastAlertAt = nowIso;
    } else if (old.lastAlertAt && alertable(f.severity) && input.now.getTime() - Date.parse(old.lastAlertAt) >= input.reminderMs) {
      plan.alerts.push({ findingId: old.id, type: 'reminder' });
      next.lastAlertAt = nowIso;
    }
    plan.updated.push({ finding: next, changed });
  }

  for (const old of input.open) {
    if (seen.has(old.key)) continue;
    let resolution = resolutionOf(old, input);
    if (resolution === PREVIOUS_AGAIN && old.flapping === true) {
      // Flapping: the previous chain is back, but the newer one was served within the drift window.
      const lastTo = Date.parse(old.lastSeenToAt ?? old.updatedAt);
      if (input.now.getTime() - lastTo < input.driftWindowMs) {
        const next: StoredFinding = { ...old, updatedAt: nowIso, lastSeenFromAt: nowIso };
        if (old.lastAlertAt && alertable(old.severity) && input.now.getTime() - Date.parse(old.lastAlertAt) >= input.reminderMs) {
          plan.alerts.push({ findingId: old.id, type: 'reminder' });
          next.lastAlertAt = nowIso;
        }
        plan.updated.push({ finding: next, changed: false });
        continue;
      }
      resolution = `${PREVIOUS_AGAIN}; it stopped flapping`;
    }
    if (resolution === null) {
      // Still open (state unknown, or a drift still being served): reminders continue.
      if (old.lastAlertAt && alertable(old.severity) && input.now.getTime() - Date.parse(old.lastAlertAt) >= input.reminderMs) {
        plan.alerts.push({ findingId: old.id, type: 'reminder' });
        plan.updated.push({ finding: { ...old, lastAlertAt: nowIso }, changed: false });
      }
      continue;
    }
    plan.resolved.push({ finding: { ...old, resolvedAt: nowIso, resolution, updatedAt: nowIso }, resolution });
    if (old.lastAlertAt) plan.alerts.push({ findingId: old.id, type: 'resolved' });
  }
  return plan;
}

const PREVIOUS_AGAIN = 'the previous chain is served again';

/** A drift resolved as "the previous chain is served again" within the drift window, with this key. */
function flappedBack(f: Finding, input: ReconcileInput): StoredFinding | undefined {
  return (input.recentlyResolved ?? [])
    .filter(
      (r) =>
        r.kind === 'chain-drift' &&
        r.key === f.key &&
        r.resolvedAt !== null &&
        (r.resolution ?? '').startsWith(PREVIOUS_AGAIN) &&
        input.now.getTime() - Date.parse(r.resolvedAt) < input.driftWindowMs,
    )
    .sort((a, b) => String(b.resolvedAt).localeCompare(String(a.resolvedAt)))[0];
}

const chainTag = (list: CertSummary[]) => (list.length ? `"${cn(list[0]!.subject)}" (${short(list.map((x) => x.sha256).join(','))})` : '(unknown)');

/** Title, signature and drift tracking of a flapping chain-drift finding. */
function flappingFields(f: Finding, d: ChainDriftEvidence, lastSeenToAt: string, lastSeenFromAt: string): Pick<Finding, 'title' | 'signature' | 'explanation'> & DriftTracking {
  const a = chainTag(d.previousChain);
  const b = chainTag(d.chain);
  return {
    title: `${f.endpoint} ${d.addresses.join(', ')}: flapping between chains ${a} and ${b}`,
    signature: `flapping:${f.severity}`,
    explanation: `The server alternates between two chains (${a} and ${b}), e.g. a load balancer with one backend left on the old certificate. ${f.explanation}`,
    flapping: true,
    lastSeenToAt,
    lastSeenFromAt,
  };
}

/** Why an open finding that this sweep did not produce is resolved, or null to keep it open. */
function resolutionOf(f: StoredFinding, input: ReconcileInput): string | null {
  const d = f.details;
  if (d.kind === 'bundle-unavailable' || d.kind === 'bundle-expiry') return servedBundleResolution(f.endpoint, d, input.servedBundles);
  if (d.kind === 'pin-failure-reports') return reportResolution(f, input.reports);
  const ep = endpointIndex(input.endpoints).get(f.endpoint);
  if (!ep) return `${f.endpoint} is no longer in the config`;
  const obs = byEndpoint(input.current).get(f.endpoint) ?? [];
  if (d.kind === 'vantage-disagreement') return vantageResolution(f, obs, input.now, input.vantageWindowMs ?? 600_000);
  const addresses = evidenceAddresses(d);
  const present = obs.filter((o) => addresses.includes(o.address));

  if (d.kind === 'unreachable') {
    if (present.length === 0) return `${addresses[0] || 'the name'} is no longer probed (DNS or config changed)`;
    return `${present[0]!.address || ep.host} answers again`;
  }
  if (d.kind === 'chain-drift') {
    const { to, from, newKeys } = d;
    const serving = obs.filter((o) => o.chain.length > 0);
    if (serving.length === 0) return null; // nothing answered: unknown
    if (!serving.some((o) => chainSig(o.chain) === to)) {
      return serving.some((o) => chainSig(o.chain) === from) ? PREVIOUS_AGAIN : 'superseded by a newer chain change';
    }
    if (ep.pins && f.severity !== 'info' && newKeys.length > 0 && newKeys.every((k) => ep.pins!.pins.some((p) => p.spkiSha256 === k))) {
      return 'the expected pins now include the new keys';
    }
    const lastFrom = f.flapping === true ? Date.parse(f.lastSeenFromAt ?? f.openedAt) : Number.NaN;
    if (input.now.getTime() - lastFrom < input.driftWindowMs) return null; // still flapping
    if (input.now.getTime() - Date.parse(f.openedAt) >= input.driftWindowMs) {
      return `the new chain has been served for ${Math.round(input.driftWindowMs / 3_600_000)}h without further change: it is the new normal`;
    }
    return null;
  }
  // Chain-derived problems: resolved only when the addresses concerned answered with a chain.
  const stillProbed = addresses.length === 0 ? obs : present;
  if (stillProbed.length === 0) return obs.some((o) => o.chain.length > 0) ? 'the addresses concerned are no longer served' : null;
  if (stillProbed.some((o) => o.chain.length === 0)) return null;
  switch (d.kind) {
    case 'pin-mismatch':
      return ep.pins ? 'a shipped pin matches the served chain again' : 'the endpoint no longer has expected pins';
    case 'expiry':
      return 'the certificate is no longer served (renewed)';
    case 'no-sct':
      return 'the leaf without SCTs is no longer served';
    case 'chain-invalid':
      return 'the chain validates again';
    case 'address-disagreement':
      return 'every address serves the same chain again';
    default:
      return 'cleared';
  }
}
