/**
 * One sweep: every address of every endpoint, probed with pinctl's TLS prober under a concurrency
 * bound, each attempt bounded by the timeout and retried on failure, so a stalled host costs at
 * most (retries + 1) × timeout of one worker while the others carry on. Each address gives one
 * Observation: the full chain as validated by src/core/chain.ts (position, fingerprint, SPKI pin,
 * subject, issuer, validity, embedded SCTs), the TLS version, or an error by reason.
 */
import { ChainProblem, ChainReport, buildChain, hostnameProblem, validitySignature } from '../src/core/chain.js';
import { CertInfo, parseCertificate } from '../src/core/certificate.js';
import { TrustStore } from '../src/core/trust-store.js';
import { TAG, children, expectTag, oidToString, readWhole } from '../src/core/der.js';
import { PinctlError, describeError } from '../src/errors.js';
import { Prober, probeTls } from '../src/net/probe.js';
import { Resolver, resolveAll } from '../src/net/resolve.js';
import { runBounded } from '../src/net/observe.js';
import { ProbePool, startProbeThreads } from '../src/net/probe-threads.js';
import { loadCaFile, loadSystemStore } from '../src/net/trust-store-file.js';
import { EndpointConfig, MonitorConfig } from './config.js';
import { CertRecord, ErrorReason, Observation } from './types.js';
import { DEFAULT_VANTAGE } from './vantage.js';

export interface SweepDeps {
  now: () => Date;
  probe?: Prober;
  resolve?: Resolver;
  /** Trust stores by CA file path; '' is the system store. Built by trustStores(). */
  stores: Map<string, TrustStore>;
  /** Waits between retries (tests pass a no-op). */
  sleep?: (ms: number) => Promise<void>;
  onProgress?: (done: number, total: number) => void;
}

/** Loads the system store once and every distinct caFile once. */
export function trustStores(cfg: MonitorConfig, env: Record<string, string | undefined>): Map<string, TrustStore> {
  const stores = new Map<string, TrustStore>();
  for (const e of cfg.endpoints) {
    const key = e.caFile ?? '';
    if (!stores.has(key)) stores.set(key, e.caFile ? loadCaFile(e.caFile) : loadSystemStore(env));
  }
  return stores;
}

interface Job {
  endpoint: EndpointConfig;
  address: string;
}

export interface SweepResult {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  observations: Observation[];
  /** DER of every certificate seen, by SHA-256 (kept as PEM files for `--backup-key`). */
  certificates: Map<string, Uint8Array>;
}

export async function sweep(cfg: MonitorConfig, deps: SweepDeps): Promise<SweepResult> {
  const resolve = deps.resolve ?? resolveAll;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = performance.now();
  const startedAt = deps.now().toISOString();
  const observations: Observation[] = [];
  const cache: SweepCache = { certificates: new Map(), records: new Map(), chains: new Map() };
  const jobs: Job[] = [];

  // Lookups run with the sweep's concurrency, each bounded by the probe's deadline: a silent
  // resolver costs one timeout per name and attempt, never a sweep.
  await runBounded(cfg.endpoints, cfg.concurrency, async (endpoint) => {
    if (endpoint.addresses) {
      for (const address of endpoint.addresses) jobs.push({ endpoint, address });
      return;
    }
    const t0 = performance.now();
    let lastError: unknown;
    for (let attempt = 1; attempt <= cfg.retries + 1; attempt++) {
      try {
        const addresses = await resolve(endpoint.host, { timeoutMs: cfg.timeoutMs });
        for (const address of addresses) jobs.push({ endpoint, address });
        return;
      } catch (e) {
        lastError = e;
        if (attempt <= cfg.retries) await sleep(cfg.retryDelayMs * attempt);
      }
    }
    observations.push({
      ...base(endpoint, '', deps.now(), cfg.vantage),
      durationMs: performance.now() - t0,
      attempts: cfg.retries + 1,
      error: { reason: 'dns', code: 'DNS', message: describeError(lastError) },
    });
  });

  // Keep the configured order: endpoints in file order, addresses as given or resolved.
  const order = new Map(cfg.endpoints.map((e, i) => [e.id, i]));
  jobs.sort((a, b) => order.get(a.endpoint.id)! - order.get(b.endpoint.id)!);
  let done = 0;
  const results: Observation[] = new Array(jobs.length);
  const pool = deps.probe ? null : probingThreads(cfg.probeThreads, jobs.length);
  const probe = deps.probe ?? pool?.probe ?? probeTls;
  try {
    await runBounded(
      jobs.map((j, i) => ({ j, i })),
      cfg.concurrency,
      async ({ j, i }) => {
        results[i] = await observeAddress(j, cfg, deps, probe, sleep, cache);
        deps.onProgress?.(++done, jobs.length);
      },
    );
  } finally {
    await pool?.close();
  }
  observations.push(...results);
  observations.sort((a, b) => order.get(a.endpoint)! - order.get(b.endpoint)!);
  const durationMs = performance.now() - started;
  return { startedAt, finishedAt: deps.now().toISOString(), durationMs, observations, certificates: cache.certificates };
}

/** Below this many addresses per thread a sweep is too short for threads to pay for their start. */
export const ADDRESSES_PER_THREAD = 500;

/**
 * Worker threads for pinctl's own prober (an injected prober, as in tests, runs as given): up to
 * `probeThreads`, one per ADDRESSES_PER_THREAD addresses; one thread means the monitor's own.
 */
function probingThreads(probeThreads: number, addresses: number): ProbePool | null {
  const n = Math.min(probeThreads, Math.floor(addresses / ADDRESSES_PER_THREAD));
  return n > 1 ? startProbeThreads(n) : null;
}

function base(endpoint: EndpointConfig, address: string, now: Date, vantage = DEFAULT_VANTAGE): Observation {
  return {
    endpoint: endpoint.id,
    host: endpoint.host,
    port: endpoint.port,
    sni: endpoint.sni,
    address,
    at: now.toISOString(),
    durationMs: 0,
    attempts: 0,
    protocol: null,
    chain: [],
    trusted: false,
    anchor: endpoint.caFile ? 'ca-file' : 'system',
    problems: [],
    error: null,
    vantage,
  };
}

async function observeAddress(
  job: Job,
  cfg: MonitorConfig,
  deps: SweepDeps,
  probe: Prober,
  sleep: (ms: number) => Promise<void>,
  cache: SweepCache,
): Promise<Observation> {
  const obs = base(job.endpoint, job.address, deps.now(), cfg.vantage);
  const store = deps.stores.get(job.endpoint.caFile ?? '')!;
  for (let attempt = 1; attempt <= cfg.retries + 1; attempt++) {
    obs.attempts = attempt;
    const r = await probe({ host: job.endpoint.sni, port: job.endpoint.port, address: job.address, timeoutMs: cfg.timeoutMs });
    obs.durationMs = r.durationMs;
    if (r.ok) {
      try {
        const certs = r.served.map((der, i) => parseCertificate(der, `${job.address} certificate ${i + 1}`));
        const chain = validated(certs, job.endpoint, store, deps.now(), cache);
        obs.protocol = r.protocol;
        obs.chain = chain.records;
        obs.trusted = chain.trusted;
        obs.problems = chain.problems.map((p) => ({ code: p.code, message: p.message }));
        const [first] = chain.problems;
        obs.error = first ? { reason: 'verify', code: first.code, message: chain.problems.map((p) => p.message).join('; ') } : null;
        obs.at = deps.now().toISOString();
        return obs;
      } catch (e) {
        // A certificate OpenSSL cannot read: the server answered, apps will refuse it.
        obs.error = { reason: 'handshake', code: e instanceof PinctlError ? e.code : 'CERT_MALFORMED', message: describeError(e) };
      }
    } else {
      obs.error = { reason: reasonOf(r.error.code), code: r.error.code, message: r.error.message };
    }
    if (attempt <= cfg.retries) await sleep(cfg.retryDelayMs * attempt);
  }
  obs.at = deps.now().toISOString();
  return obs;
}

/** What a sweep computes once and shares: by served chain, by certificate, and every certificate seen. */
interface SweepCache {
  certificates: Map<string, Uint8Array>;
  records: Map<string, CertRecord>;
  /** By CA file and the served certificates' fingerprints: the chain validated without a name. */
  chains: Map<string, { report: ChainReport; validity: string; records: CertRecord[] }>;
}

/**
 * buildChain once per distinct served chain and trust store in a sweep (a fleet behind one
 * wildcard or one CDN serves a handful of chains): what differs per endpoint is the name, checked
 * here per endpoint, and the clock, so a cached report is reused only while every certificate on
 * its path has the same expired / not-yet-valid status as when it was built. The problems come in
 * buildChain's order (the name last), so each observation is what buildChain with the name gives.
 */
function validated(certs: CertInfo[], endpoint: EndpointConfig, store: TrustStore, now: Date, cache: SweepCache) {
  const key = `${endpoint.caFile ?? ''}\n${certs.map((c) => c.sha256Fingerprint).join(',')}`;
  let hit = cache.chains.get(key);
  if (!hit || hit.validity !== validitySignature(hit.report.entries, now)) {
    const report = buildChain(certs, store, { now });
    for (const e of report.entries) cache.certificates.set(e.cert.sha256Fingerprint, e.cert.der);
    const records = report.entries.map((e) => sharedRecord(cache.records, e.cert, e.position, e.source));
    cache.chains.set(key, (hit = { report, validity: validitySignature(report.entries, now), records }));
  }
  const mismatch = hostnameProblem(hit.report.entries[0]!.cert, endpoint.sni);
  const problems: ChainProblem[] = mismatch ? [...hit.report.problems, mismatch] : hit.report.problems;
  return { trusted: hit.report.trusted, problems, records: hit.records };
}

export function reasonOf(code: string): ErrorReason {
  switch (code) {
    case 'DNS':
      return 'dns';
    case 'REFUSED':
    case 'NETWORK':
      return 'refused';
    case 'TIMEOUT':
      return 'timeout';
    default:
      return 'handshake'; // HANDSHAKE, TLS_ALERT, NOT_TLS, CHAIN_TOO_LONG, unreadable certificates
  }
}

/**
 * One CertRecord per certificate, position and source for the whole sweep, shared by every
 * observation that saw it (10,000 endpoints behind one intermediate hold one record of it, not
 * 10,000). Observations are read-only data once made, so sharing is safe.
 */
function sharedRecord(records: Map<string, CertRecord>, c: CertInfo, position: CertRecord['position'], source: CertRecord['source']): CertRecord {
  const key = `${c.sha256Fingerprint}|${position}|${source}`;
  let r = records.get(key);
  if (!r) records.set(key, (r = certRecord(c, position, source)));
  return r;
}

export function certRecord(c: CertInfo, position: CertRecord['position'], source: CertRecord['source']): CertRecord {
  return {
    position,
    source,
    subject: c.subject,
    issuer: c.issuer,
    serialNumber: c.serialNumber,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    spkiSha256: c.spkiSha256,
    sha256: c.sha256Fingerprint,
    keyType: c.curve ? `${c.keyType} ${c.curve}` : c.keyBits ? `${c.keyType} ${c.keyBits}` : c.keyType,
    keyBits: c.keyBits,
    sct: sctOf(c),
  };
}

export const OID_SCT_LIST = '1.3.6.1.4.1.11129.2.4.2';
const sctCache = new Map<string, boolean>();

function sctOf(c: CertInfo): boolean {
  let v = sctCache.get(c.sha256Fingerprint);
  if (v === undefined) {
    v = hasEmbeddedSct(c.der);
    if (sctCache.size > 10_000) sctCache.clear();
    sctCache.set(c.sha256Fingerprint, v);
  }
  return v;
}

/**
 * Does the certificate carry the embedded SCT list extension (RFC 6962 §3.3)? Walks
 * tbsCertificate to its [3] extensions and compares each extnID; a malformed certificate answers false.
 */
export function hasEmbeddedSct(der: Uint8Array): boolean {
  let found = false;
  try {
    const cert = expectTag(readWhole(der), TAG.SEQUENCE, 'Certificate');
    const [tbs] = children(der, cert);
    const exts = children(der, expectTag(tbs, TAG.SEQUENCE, 'TBSCertificate')).find((f) => f.tag === 0xa3);
    if (exts) {
      const [list] = children(der, exts);
      for (const ext of children(der, expectTag(list, TAG.SEQUENCE, 'Extensions'))) {
        const [oid] = children(der, ext);
        if (oid && oid.tag === TAG.OID && oidToString(der, oid) === OID_SCT_LIST) found = true;
      }
    }
  } catch {
    found = false;
  }
  return found;
}
