/**
 * Dynamic pinning: closing the loop from a chain-drift finding to a new pin set.
 *
 * When a sweep opens (or changes) a chain-drift finding whose changes include `leaf-key-changed`
 * or `intermediate-changed`, and every observation of the new chain validates, the monitor builds
 * a pin set for that endpoint in the `pinctl.pins.v1` JSON shape (src/formats/json.ts, what
 * `pinctl generate --format json` prints and `POST /v1/bundles/pins` takes):
 *  - the new chain's keys at the positions the endpoint's shipped pins matched in the old chain
 *    (intermediate + root when they matched nothing, or when the pins are unknown);
 *  - every pin the endpoint ships today, as `backup` (their `source` says until when to keep
 *    them: now + `overlap`; roles, subjects and sources are not signed, so this is informational);
 *  - the endpoint (host, port, addresses), so the service's pre-publish guard probes it.
 * After the overlap window, `retireBackups` makes the follow-up: the same set without the old
 * chain's keys (offline backup keys stay), proposed or published the same way.
 *
 * `proposePins` is pure. `writeProposal` and `publishProposal` are the I/O edge: the file under
 * `<state>/proposals/`, and one POST to the service with the admin token (never `?force=1`), with
 * an injectable `fetch`. The POST carries `?merge=1`: a proposal holds one domain, and a plain POST
 * would replace the whole pin set apps pull, dropping every other domain.
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
import { CertRecord, Finding, Observation, Position } from './types.js';

/** The drift kinds that call for new pins (renewals with the same key do not). */
export const PROPOSAL_CHANGES: readonly ChangeKind[] = ['leaf-key-changed', 'intermediate-changed'];

export interface ProposedPins {
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
  /** The backups that are the old chain's keys: retireBackups() drops them after keepBackupsUntilAt. */
  retire: string[];
}

export type ProposalDecision = { kind: 'none' } | { kind: 'skipped'; reason: string } | { kind: 'proposal'; proposal: ProposedPins };

interface ChainEntry {
  position: Position;
  subject: string;
  spkiSha256: string;
  notAfter?: string;
}

/** Pure: what (if anything) to propose for this finding. */
export function proposePins(f: Finding, ep: EndpointConfig, observations: Observation[], now: Date, overlapMs: number): ProposalDecision {
  if (f.kind !== 'chain-drift') return { kind: 'none' };
  const changes = Array.isArray(f.details.changes) ? (f.details.changes as { change: string }[]) : [];
  if (!changes.some((c) => (PROPOSAL_CHANGES as readonly string[]).includes(c.change))) return { kind: 'none' };

  const addresses = Array.isArray(f.details.addresses) ? (f.details.addresses as string[]) : [];
  const to = String(f.details.to ?? '');
  const current = observations.filter((o) => o.endpoint === ep.id && addresses.includes(o.address) && o.chain.length > 0 && chainSig(o.chain) === to);
  if (current.length === 0) return { kind: 'skipped', reason: 'the new chain was not observed in this sweep' };
  const invalid = current.find((o) => !o.trusted || o.problems.length > 0 || o.error);
  if (invalid) {
    const why = invalid.problems.map((p) => p.code).join(', ') || invalid.error?.code || 'untrusted';
    return { kind: 'skipped', reason: `the new chain does not validate at ${invalid.address} (${why}): no pins are proposed for it` };
  }
  const domain = ep.sni.toLowerCase();
  if (isIP(domain)) return { kind: 'skipped', reason: `${ep.sni} is an IP address; pinctl.pins.v1 pins host names` };

  const chain: CertRecord[] = current[0]!.chain;
  const previous = Array.isArray(f.details.previousChain) ? (f.details.previousChain as ChainEntry[]) : [];
  const shipped = ep.pins?.pins.map((p) => p.spkiSha256) ?? [];
  const shippedSet = new Set(shipped);
  // The positions the shipped pins covered in the old chain; else generate's default.
  let positions = [...new Set(previous.filter((c) => shippedSet.has(c.spkiSha256)).map((c) => c.position))];
  if (positions.length === 0) positions = ['intermediate', 'root'];
  positions.sort((a, b) => ORDER[a] - ORDER[b]);

  const at = `${current[0]!.address}:${ep.port}`;
  const pins: Pin[] = [];
  const seen = new Set<string>();
  for (const c of chain) {
    if (!positions.includes(c.position) || seen.has(c.spkiSha256)) continue;
    seen.add(c.spkiSha256);
    pins.push({ spkiSha256: c.spkiSha256, role: c.position, subject: c.subject, notAfter: c.notAfter, source: at });
  }
  if (pins.length === 0) return { kind: 'skipped', reason: `the new chain has no certificate at ${positions.join(', ')}` };

  const keepBackupsUntilAt = new Date(now.getTime() + overlapMs).toISOString();
  const keepBackupsUntil = keepBackupsUntilAt.slice(0, 10);
  // Every pin shipped today (or, when the pins are unknown, the old chain's keys at those positions).
  const oldPins = ep.pins ? shipped : previous.filter((c) => positions.includes(c.position)).map((c) => c.spkiSha256);
  const from = ep.pins ? (ep.pins.source === 'inline' ? 'the monitor config' : ep.pins.source) : 'the previous chain';
  const backups: Pin[] = [];
  for (const spki of oldPins) {
    if (seen.has(spki)) continue;
    seen.add(spki);
    const cert = previous.find((c) => c.spkiSha256 === spki);
    backups.push({
      spkiSha256: spki,
      role: 'backup',
      subject: cert?.subject ?? null,
      notAfter: cert?.notAfter ?? null,
      source: `shipped pin (${from}); keep as backup until ${keepBackupsUntil} (overlap ${fmtDays(overlapMs)})`,
    });
  }
  if (pins.length + backups.length < 2) return { kind: 'skipped', reason: 'fewer than 2 distinct pins: the new chain and the shipped pins have only one key between them' };

  const { pinSet, json } = pinSetFor(ep, domain, [...pins, ...backups], current);
  // The backups that are keys of the old chain: dropped once the overlap window has passed.
  const oldChainKeys = new Set(previous.map((c) => c.spkiSha256));
  const retire = backups.filter((b) => oldChainKeys.has(b.spkiSha256)).map((b) => b.spkiSha256);
  return {
    kind: 'proposal',
    proposal: { pinSet, json, pins: pins.map((p) => p.spkiSha256), backups: backups.map((p) => p.spkiSha256), positions, keepBackupsUntil, keepBackupsUntilAt, retire },
  };
}

function pinSetFor(ep: EndpointConfig, domain: string, pins: Pin[], current: Observation[]): { pinSet: PinSet; json: string } {
  const pinSet: PinSet = {
    expiration: null,
    domains: [
      {
        domain,
        // As the app's pin file has it for this host; unknown (inline pins): false.
        includeSubdomains: ep.pins?.includeSubdomains ?? false,
        pins,
        endpoints: [{ host: ep.host, port: ep.port, addresses: ep.addresses ?? [...new Set(current.map((o) => o.address))] }],
      },
    ],
  };
  const json = renderJson(pinSet);
  readJson(json, 'proposal'); // the service parses it with the same reader: fail here, not there
  return { pinSet, json };
}

/** What a proposal recorded in history (the `pins-proposed` event's details). */
export interface RecordedProposal {
  file: string;
  pins: string[];
  backups: string[];
  keepBackupsUntil: string;
  /** Absent in proposals recorded before it existed: then the end of the keepBackupsUntil day. */
  keepBackupsUntilAt?: string;
  /** Backups that were keys of the old chain. Absent in older records: the caller derives it. */
  retire?: string[];
}

export type RetireDecision = { kind: 'wait' } | { kind: 'skipped'; reason: string } | { kind: 'proposal'; proposal: ProposedPins & { dropped: string[] } };

/** When the overlap window of a recorded proposal ends. */
export function overlapEnd(p: RecordedProposal): number {
  return p.keepBackupsUntilAt ? Date.parse(p.keepBackupsUntilAt) : Date.parse(`${p.keepBackupsUntil}T00:00:00Z`) + 86_400_000;
}

/**
 * Pure: the follow-up of a proposal once its overlap window has passed — the proposed keys plus
 * the pins the endpoint ships TODAY (its current `pins`, which may have changed since the
 * proposal) minus the old chain's keys, so apps stop trusting keys the server no longer uses while
 * offline backup keys stay. 'wait' until the window ends and while any address of the endpoint
 * does not answer with a valid chain (an address that is down may still serve the old chain);
 * 'skipped' (for good) when an address no longer serves the proposed keys, or when dropping would
 * leave fewer than two pins.
 */
export function retireBackups(p: RecordedProposal, retireKeys: string[], ep: EndpointConfig, observations: Observation[], now: Date): RetireDecision {
  if (retireKeys.length === 0) return { kind: 'skipped', reason: 'the proposal kept no key of the old chain' };
  if (now.getTime() < overlapEnd(p)) return { kind: 'wait' };
  const all = observations.filter((o) => o.endpoint === ep.id);
  if (all.length === 0 || all.some((o) => o.chain.length === 0 || !o.trusted || o.problems.length > 0 || o.error)) return { kind: 'wait' };
  const stale = all.find((o) => !p.pins.every((k) => o.chain.some((c) => c.spkiSha256 === k)));
  if (stale) return { kind: 'skipped', reason: `${stale.address} no longer serves the proposed keys: the old keys are not dropped` };
  const chain = all[0]!.chain;
  const at = `${all[0]!.address}:${ep.port}`;
  const pins: Pin[] = p.pins.map((k) => {
    const c = chain.find((x) => x.spkiSha256 === k)!;
    return { spkiSha256: k, role: c.position, subject: c.subject, notAfter: c.notAfter, source: at };
  });
  const retire = new Set(retireKeys);
  const shippedNow = ep.pins ? ep.pins.pins.map((x) => x.spkiSha256) : p.backups;
  const kept = [...new Set(shippedNow)].filter((k) => !retire.has(k) && !p.pins.includes(k));
  if (pins.length + kept.length < 2) {
    return { kind: 'skipped', reason: `dropping the old chain's keys would leave ${pins.length + kept.length} pin(s); add a backup key (pinctl generate --backup-key) and publish by hand` };
  }
  const from = ep.pins ? (ep.pins.source === 'inline' ? 'the monitor config' : ep.pins.source) : 'the proposal';
  const backups: Pin[] = kept.map((k) => ({ spkiSha256: k, role: 'backup', subject: null, notAfter: null, source: `shipped pin (${from}), kept as backup` }));
  const { pinSet, json } = pinSetFor(ep, ep.sni.toLowerCase(), [...pins, ...backups], all);
  const dropped = [...retire].filter((k) => !p.pins.includes(k));
  return {
    kind: 'proposal',
    proposal: { pinSet, json, pins: p.pins, backups: kept, positions: [...new Set(pins.map((x) => x.role as Position))], keepBackupsUntil: p.keepBackupsUntil, keepBackupsUntilAt: new Date(overlapEnd(p)).toISOString(), retire: [], dropped },
  };
}

const ORDER: Record<Position, number> = { leaf: 0, intermediate: 1, root: 2 };
const fmtDays = (ms: number) => (ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${ms}ms`);

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The command that publishes a proposal file by hand. */
export function curlCommand(dp: Pick<DynamicPinningConfig, 'service' | 'tokenEnv'>, file: string): string {
  return `curl -sS -H "Authorization: Bearer $${dp.tokenEnv}" -H 'Content-Type: application/json' --data-binary @${shellQuote(file)} ${shellQuote(`${dp.service}/v1/bundles/pins?merge=1`)}`;
}

/** Writes `<state>/proposals/<endpoint>-<timestamp>.json` atomically; returns its path. */
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

/** One POST of the pins JSON to the service (never `?force=1`): 200 → published, 409 → refused by the guard. */
export async function publishProposal(dp: DynamicPinningConfig, json: string, fetchImpl: FetchLike = fetch, timeoutMs = 60_000): Promise<PublishOutcome> {
  if (!dp.token) return { result: 'failed', status: null, error: `the environment variable ${dp.tokenEnv} is not set` };
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
  if (res.status === 200) return { result: 'published', status: 200, version: typeof field('version') === 'number' ? (field('version') as number) : null, body };
  if (res.status === 409) return { result: 'refused', status: 409, body };
  const err = field('error');
  return { result: 'failed', status: res.status, error: typeof err === 'string' ? err : `HTTP ${res.status}`, body };
}
