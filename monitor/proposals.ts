/**
 * Dynamic pinning: closing the loop from chain-drift findings to a new pin set.
 *
 * Pin-set entries are per host name, so the unit is a domain group: the endpoints one entry governs
 * (`domainGroups`). When a sweep opens (or changes) chain-drift findings with `leaf-key-changed` or
 * `intermediate-changed` in a group, and every new chain validates, `proposePins` builds ONE entry
 * for the group in the `pinctl.pins.v1` JSON shape (src/formats/json.ts, what `pinctl generate
 * --format json` prints and `POST /v1/bundles/pins?merge=1` takes):
 *  - pins: each new chain's keys at the positions the shipped pins (or the last proposal) covered,
 *    plus the last proposal's pins that an endpoint of the group still serves;
 *  - backups: every pin the group ships today, and the old chains' keys (kept for the overlap);
 *  - every endpoint of the group, so the service's pre-publish guard probes them all.
 * After the overlap window, `retireBackups` makes the follow-up: the same entry without the old
 * chains' keys that nothing serves any more, proposed or published the same way.
 *
 * `domainGroups`, `proposePins` and `retireBackups` are pure. `writeProposal` and
 * `publishProposal` are the I/O edge: the file under `<state>/proposals/`, and one POST to the
 * service with the admin token (never `?force=1`), with an injectable `fetch`. The POST carries
 * `?merge=1`: a proposal holds one domain, and a plain POST would replace the whole pin set apps
 * pull, dropping every other domain.
 */
import { makeDirs } from '../src/make-dirs.js';
import { writeFileExclusive } from '../src/durable-write.js';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { Pin, PinSet } from '../src/core/model.js';
import { readJson, renderJson } from '../src/formats/json.js';
import { describeError } from '../src/errors.js';
import { DynamicPinningConfig, EndpointConfig } from './config.js';
import { ChangeKind, chainSig } from './findings.js';
import { Finding, Observation, Position } from './types.js';
import type { ChainDriftEvidence } from './evidence.js';
import { windowEnd } from './proposal-state.js';

/** The drift kinds that call for new pins (renewals with the same key do not). */
export const PROPOSAL_CHANGES: readonly ChangeKind[] = ['leaf-key-changed', 'intermediate-changed'];

export interface ProposedPins {
  /** The pin-set entry's domain (the group's SNI name). */
  domain: string;
  pinSet: PinSet;
  /** renderJson(pinSet): the file's bytes and the POST body. */
  json: string;
  /** The new chain's pins (role = position). */
  pins: string[];
  /** The shipped pins kept as backups. */
  backups: string[];
  positions: Position[];
  /** YYYY-MM-DD: keep the backups at least until then (for people; the rule uses keepBackupsUntilAt). */
  keepBackupsUntil: string;
  /** ISO 8601: the end of the overlap window (proposal time + overlap). */
  keepBackupsUntilAt: string;
  /** The old chains' keys: retireBackups() drops those nothing serves after keepBackupsUntilAt. */
  retire: string[];
}

export type ProposalDecision = { kind: 'none' } | { kind: 'skipped'; reason: string } | { kind: 'proposal'; proposal: ProposedPins };

interface ChainEntry {
  position: Position;
  subject: string;
  spkiSha256: string;
  notAfter?: string;
}

/**
 * Every endpoint the pin set's entry for a domain applies to: the bundle's entries are per host
 * name, not per port or address, so a change proposed for one endpoint must hold for all of them —
 * the same name on other ports or addresses, and the subdomains when the entry covers them.
 */
export interface DomainGroup {
  domain: string;
  includeSubdomains: boolean;
  endpoints: EndpointConfig[];
  /** This sweep's observations of those endpoints (every address, answering or not). */
  observations: Observation[];
}

/**
 * Groups endpoints by the entry that governs them in apps: an endpoint whose pin file (or bundle)
 * has an entry for exactly its name, or whose pins are inline, is governed by its own name; one
 * covered only through a parent's includeSubdomains is governed by the nearest configured parent
 * group that includes subdomains, else by its own name. Each endpoint is in exactly one group.
 */
export function domainGroups(endpoints: EndpointConfig[], byEndpoint: Map<string, Observation[]>): Map<string, DomainGroup> {
  const own = new Map<string, EndpointConfig[]>();
  for (const ep of endpoints) if (!isIP(ep.sni)) own.set(ep.sni.toLowerCase(), [...(own.get(ep.sni.toLowerCase()) ?? []), ep]);
  const includes = (domain: string) => (own.get(domain) ?? []).some((e) => e.pins?.includeSubdomains === true);
  const groups = new Map<string, DomainGroup>();
  for (const [name, eps] of own) {
    for (const ep of eps) {
      const domain = governingName(name, ep, includes, own);
      const g = groups.get(domain) ?? { domain, includeSubdomains: includes(domain), endpoints: [], observations: [] };
      g.endpoints.push(ep);
      groups.set(domain, g);
    }
  }
  for (const g of groups.values()) g.observations = g.endpoints.flatMap((e) => byEndpoint.get(e.id) ?? []);
  return groups;
}

function governingName(name: string, ep: EndpointConfig, includes: (d: string) => boolean, own: Map<string, EndpointConfig[]>): string {
  // An exact entry in the app's file (includeSubdomains known) or inline pins: its own name.
  if (!ep.pins || ep.pins.format === 'inline' || ep.pins.includeSubdomains !== undefined) return name;
  const labels = name.split('.');
  for (let i = 1; i < labels.length - 1; i++) {
    const parent = labels.slice(i).join('.');
    if (own.has(parent) && includes(parent)) return parent;
  }
  return name;
}

/** The group governing each endpoint id. */
export function groupOf(groups: Map<string, DomainGroup>): Map<string, DomainGroup> {
  const out = new Map<string, DomainGroup>();
  for (const g of groups.values()) for (const e of g.endpoints) out.set(e.id, g);
  return out;
}

const shippedPins = (g: DomainGroup) => [...new Set(g.endpoints.flatMap((e) => e.pins?.pins.map((p) => p.spkiSha256) ?? []))];
const pinsKnown = (g: DomainGroup) => g.endpoints.some((e) => e.pins);

/** The first address of the group whose chain holds none of `keys` (apps applying them would fail there). */
function failingAddress(g: DomainGroup, keys: Set<string>): Observation | undefined {
  return g.observations.find((o) => o.chain.length > 0 && !o.chain.some((c) => keys.has(c.spkiSha256)));
}

/** A chain-drift finding whose changes call for new pins (a same-key renewal does not). */
export function callsForPins(f: Finding): f is Finding & { details: ChainDriftEvidence } {
  return f.details.kind === 'chain-drift' && f.details.changes.some((c) => PROPOSAL_CHANGES.includes(c.change));
}

/**
 * Pure: what (if anything) to propose for these chain-drift findings of one domain group (one
 * proposal per group and sweep, however many of its endpoints changed).
 */
export function proposePins(findings: Finding[], g: DomainGroup, now: Date, overlapMs: number, last?: RecordedProposal): ProposalDecision {
  const relevant = findings.filter(callsForPins);
  if (relevant.length === 0) return { kind: 'none' };
  const keepBackupsUntilAt = new Date(now.getTime() + overlapMs).toISOString();
  const keepBackupsUntil = keepBackupsUntilAt.slice(0, 10);
  const shipped = shippedPins(g);
  const shippedSet = new Set(shipped);
  const pins: Pin[] = [];
  const seen = new Set<string>();
  const positions = new Set<Position>();
  const previousKeys = new Map<string, ChainEntry>();
  for (const f of relevant) {
    const ep = g.endpoints.find((e) => e.id === f.endpoint);
    if (!ep) return { kind: 'skipped', reason: `${f.endpoint} is not in the config` };
    const { addresses, to, previousChain: previous } = f.details;
    const current = g.observations.filter((o) => o.endpoint === ep.id && addresses.includes(o.address) && o.chain.length > 0 && chainSig(o.chain) === to);
    if (current.length === 0) return { kind: 'skipped', reason: 'the new chain was not observed in this sweep' };
    const invalid = current.find((o) => !o.trusted || o.problems.length > 0 || o.error);
    if (invalid) {
      const why = invalid.problems.map((p) => p.code).join(', ') || invalid.error?.code || 'untrusted';
      return { kind: 'skipped', reason: `the new chain does not validate at ${invalid.address} (${why}): no pins are proposed for it` };
    }
    // The positions the shipped pins (or the last proposal's pins) covered in the old chain; else
    // those of the last proposal; else generate's default.
    const lastPins = new Set(last?.pins ?? []);
    let at = [...new Set(previous.filter((c) => shippedSet.has(c.spkiSha256) || lastPins.has(c.spkiSha256)).map((c) => c.position))];
    if (at.length === 0) at = last?.positions?.length ? [...last.positions] : ['intermediate', 'root'];
    const source = `${current[0]!.address}:${ep.port}`;
    for (const c of current[0]!.chain) {
      if (!at.includes(c.position) || seen.has(c.spkiSha256)) continue;
      seen.add(c.spkiSha256);
      positions.add(c.position);
      pins.push({ spkiSha256: c.spkiSha256, role: c.position, subject: c.subject, notAfter: c.notAfter, source });
    }
    // The old chain's keys at those positions stay as backups for the overlap (a rollback works).
    for (const c of previous) if (at.includes(c.position)) previousKeys.set(c.spkiSha256, c);
  }
  if (pins.length === 0) return { kind: 'skipped', reason: `the new chain has no certificate at ${[...positions].join(', ') || 'the pinned positions'}` };
  // The last proposal's pins that an endpoint of the group still validly serves stay pins (another
  // port may have changed in an earlier sweep: the entry must keep working there). Keys that are
  // neither shipped nor proposed before are never added: failingAddress refuses instead.
  const lastPins = new Set(last?.pins ?? []);
  for (const o of g.observations) {
    if (o.chain.length === 0 || !o.trusted || o.problems.length > 0 || o.error) continue;
    const port = g.endpoints.find((e) => e.id === o.endpoint)?.port ?? '';
    for (const c of o.chain) {
      if (!lastPins.has(c.spkiSha256) || seen.has(c.spkiSha256)) continue;
      seen.add(c.spkiSha256);
      pins.push({ spkiSha256: c.spkiSha256, role: c.position, subject: c.subject, notAfter: c.notAfter, source: `${o.address}:${port}` });
    }
  }

  // Backups: every pin shipped for the group today, and the old chains' keys at the pinned positions.
  const from = (k: string) =>
    shippedSet.has(k) ? `shipped pin; keep as backup until ${keepBackupsUntil} (overlap ${fmtDays(overlapMs)})` : `previous chain; keep as backup until ${keepBackupsUntil} (overlap ${fmtDays(overlapMs)})`;
  const backups: Pin[] = [];
  for (const k of [...shipped, ...previousKeys.keys()]) {
    if (seen.has(k)) continue;
    seen.add(k);
    const cert = previousKeys.get(k);
    backups.push({ spkiSha256: k, role: 'backup', subject: cert?.subject ?? null, notAfter: cert?.notAfter ?? null, source: from(k) });
  }
  if (pins.length + backups.length < 2) return { kind: 'skipped', reason: 'fewer than 2 distinct pins: the new chain and the shipped pins have only one key between them' };
  const all = new Set([...pins, ...backups].map((p) => p.spkiSha256));
  const failing = failingAddress(g, all);
  if (failing) return { kind: 'skipped', reason: `${failing.endpoint} at ${failing.address} serves none of the proposed pins: apps applying them would fail there` };

  const { pinSet, json } = pinSetFor(g, [...pins, ...backups]);
  // The old chains' keys: dropped once the overlap has passed, if no endpoint of the group serves them then.
  const retire = [...previousKeys.keys()];
  return {
    kind: 'proposal',
    proposal: { domain: g.domain, pinSet, json, pins: pins.map((p) => p.spkiSha256), backups: backups.map((p) => p.spkiSha256), positions: [...positions].sort((a, b) => ORDER[a] - ORDER[b]), keepBackupsUntil, keepBackupsUntilAt, retire },
  };
}

/** The pin set for a group: its domain, and every endpoint of it so the service's guard probes them all. */
function pinSetFor(g: DomainGroup, pins: Pin[]): { pinSet: PinSet; json: string } {
  const endpoints = g.endpoints.map((e) => ({
    host: e.sni,
    port: e.port,
    addresses: e.addresses ?? [...new Set(g.observations.filter((o) => o.endpoint === e.id && o.address).map((o) => o.address))],
  }));
  const pinSet: PinSet = { expiration: null, domains: [{ domain: g.domain, includeSubdomains: g.includeSubdomains, pins, endpoints }] };
  const json = renderJson(pinSet);
  readJson(json, 'proposal'); // the service parses it with the same reader: fail here, not there
  return { pinSet, json };
}

/** What the pure rules read of an earlier proposal (monitor/proposal-state.ts `Proposal` is one). */
export interface RecordedProposal {
  file: string;
  /** The domain of the pin-set entry. */
  domain?: string;
  pins: string[];
  backups: string[];
  /** The chain positions pinned (absent in older records). */
  positions?: Position[];
  keepBackupsUntil: string;
  /** Absent (null) in proposals recorded before it existed: then the end of the keepBackupsUntil day. */
  keepBackupsUntilAt?: string | null;
  /** Keys of the old chains, dropped after the window if nothing serves them. Absent (null) in older records: the caller derives it. */
  retire?: string[] | null;
}

export type RetireDecision = { kind: 'wait' } | { kind: 'skipped'; reason: string } | { kind: 'proposal'; proposal: ProposedPins & { dropped: string[] } };

/** When the overlap window of a recorded proposal ends. */
export const overlapEnd = (p: RecordedProposal): number => windowEnd({ keepBackupsUntil: p.keepBackupsUntil, keepBackupsUntilAt: p.keepBackupsUntilAt ?? null });

/**
 * Pure: the follow-up of a proposal once its overlap window has passed — the proposed keys plus
 * the pins the group ships TODAY (current `pins`/`pinsFrom`, which may have changed since), minus
 * the old chains' keys that no endpoint of the group serves. 'wait' until the window ends and
 * while any address of the group does not answer with a valid chain (one that is down may still
 * serve an old key); 'skipped' (for good) when every old key is still served somewhere, when an
 * address would match none of the remaining pins, or when fewer than two pins would remain.
 */
export function retireBackups(p: RecordedProposal, retireKeys: string[], g: DomainGroup, now: Date): RetireDecision {
  if (retireKeys.length === 0) return { kind: 'skipped', reason: 'the proposal kept no key of the old chain' };
  if (now.getTime() < overlapEnd(p)) return { kind: 'wait' };
  if (g.observations.length === 0 || g.observations.some((o) => o.chain.length === 0 || !o.trusted || o.problems.length > 0 || o.error)) return { kind: 'wait' };
  const served = new Set(g.observations.flatMap((o) => o.chain.map((c) => c.spkiSha256)));
  const drop = retireKeys.filter((k) => !served.has(k));
  if (drop.length === 0) return { kind: 'skipped', reason: `the old keys are still served (${retireKeys.join(', ')}): nothing is dropped` };
  const dropped = new Set(drop);
  const byKey = new Map(g.observations.flatMap((o) => o.chain.map((c) => [c.spkiSha256, { c, at: `${o.address}:${g.endpoints.find((e) => e.id === o.endpoint)?.port ?? ''}` }] as const)));
  const pins: Pin[] = p.pins.filter((k) => !dropped.has(k)).map((k) => {
    const hit = byKey.get(k);
    return hit ? { spkiSha256: k, role: hit.c.position, subject: hit.c.subject, notAfter: hit.c.notAfter, source: hit.at } : { spkiSha256: k, role: 'backup', subject: null, notAfter: null, source: 'proposed pin' };
  });
  const shippedNow = pinsKnown(g) ? shippedPins(g) : p.backups;
  const kept = [...new Set(shippedNow)].filter((k) => !dropped.has(k) && !p.pins.includes(k));
  if (pins.length + kept.length < 2) {
    return { kind: 'skipped', reason: `dropping the old chain's keys would leave ${pins.length + kept.length} pin(s); add a backup key (pinctl generate --backup-key) and publish by hand` };
  }
  const failing = failingAddress(g, new Set([...pins.map((x) => x.spkiSha256), ...kept]));
  if (failing) return { kind: 'skipped', reason: `${failing.endpoint} at ${failing.address} serves none of the remaining pins: the old keys are not dropped` };
  const backups: Pin[] = kept.map((k) => ({ spkiSha256: k, role: 'backup', subject: null, notAfter: null, source: 'shipped pin, kept as backup' }));
  const { pinSet, json } = pinSetFor(g, [...pins, ...backups]);
  return {
    kind: 'proposal',
    proposal: { domain: g.domain, pinSet, json, pins: pins.map((x) => x.spkiSha256), backups: kept, positions: [...new Set(pins.map((x) => x.role).filter((r): r is Position => r !== 'backup'))], keepBackupsUntil: p.keepBackupsUntil, keepBackupsUntilAt: new Date(overlapEnd(p)).toISOString(), retire: [], dropped: drop },
  };
}

const ORDER: Record<Position, number> = { leaf: 0, intermediate: 1, root: 2 };
const fmtDays = (ms: number) => (ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${ms}ms`);

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The command that publishes a proposal file by hand. */
export function curlCommand(dp: Pick<DynamicPinningConfig, 'service' | 'tokenEnv'> & { tokenFile?: string | null }, file: string): string {
  const bearer = dp.tokenFile ? `$(cat ${shellQuote(dp.tokenFile)})` : `$${dp.tokenEnv}`;
  return `curl -sS -H "Authorization: Bearer ${bearer}" -H 'Content-Type: application/json' --data-binary @${shellQuote(file)} ${shellQuote(`${dp.service}/v1/bundles/pins?merge=1`)}`;
}

/** Writes `<state>/proposals/<domain>-<timestamp>.json` atomically; returns its path. */
export function writeProposal(stateDir: string, endpointId: string, now: Date, json: string): string {
  const dir = join(stateDir, 'proposals');
  makeDirs(dir);
  const base = `${endpointId.replace(/[^A-Za-z0-9._-]+/g, '_')}-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
  // Exclusive create: a name taken meanwhile (two monitors on one state) gets the next suffix.
  for (let i = 1; ; i++) {
    const file = join(dir, i === 1 ? `${base}.json` : `${base}-${i}.json`);
    try {
      writeFileExclusive(file, Buffer.from(json, 'utf8'));
      return file;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

export type PublishOutcome =
  | { result: 'published'; status: number; version: number | null; body: unknown }
  | { result: 'refused'; status: number; body: unknown }
  | { result: 'failed'; status: number | null; error: string; body?: unknown };

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal?: AbortSignal }) => Promise<Response>;

/** One POST of the pins JSON to the service (`?merge=1`, never `?force=1`): 200 → published, 409 → refused (guard or merge). */
export async function publishProposal(dp: DynamicPinningConfig, json: string, fetchImpl: FetchLike = fetch, timeoutMs = 60_000): Promise<PublishOutcome> {
  if (!dp.token) return { result: 'failed', status: null, error: dp.tokenFile ? `the token file ${dp.tokenFile} is empty or unreadable` : `the environment variable ${dp.tokenEnv} is not set` };
  let res: Response;
  try {
    res = await fetchImpl(`${dp.service}/v1/bundles/pins?merge=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dp.token}`, 'content-type': 'application/json' },
      body: json,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    return { result: 'failed', status: null, error: describeError(e) };
  }
  const text = await res.text().catch(() => '');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  const field = (k: string) => (body && typeof body === 'object' ? (body as Record<string, unknown>)[k] : undefined);
  if (res.status === 200) {
    // A service without ?merge=1 (older than this monitor) replaced the WHOLE set with this one domain.
    if (field('merged') !== true) {
      return { result: 'failed', status: 200, error: 'the service published without merging (a pinctl serve without ?merge=1?): the bundle now holds only this domain; publish the whole pin set again', body };
    }
    return { result: 'published', status: 200, version: typeof field('version') === 'number' ? (field('version') as number) : null, body };
  }
  if (res.status === 409) return { result: 'refused', status: 409, body };
  const err = field('error');
  return { result: 'failed', status: res.status, error: typeof err === 'string' ? err : `HTTP ${res.status}`, body };
}
