/**
 * Observes endpoints: resolves every address of each name (or takes --resolve overrides), probes
 * them all with bounded concurrency, and turns each served chain into a ChainReport.
 */
import { describeError, PinctlError } from '../errors.js';
import { CertInfo, parseCertificate } from '../core/certificate.js';
import { buildChain } from '../core/chain.js';
import { DomainObservation, Failure } from '../core/plan.js';
import { ResolveOverride, Target, formatAddress } from '../core/target.js';
import { TrustStore } from '../core/trust-store.js';
import { Prober, probeTls } from './probe.js';
import { Resolver, resolveAll } from './resolve.js';

export interface ObserveDeps {
  store: TrustStore;
  now: Date;
  timeoutMs: number;
  overrides: ResolveOverride[];
  probe?: Prober;
  resolve?: Resolver;
  concurrency?: number;
  /** Called as each address finishes (for progress displays). */
  onProgress?: (done: number, total: number) => void;
}

interface Job {
  obs: DomainObservation;
  target: Target;
  address: string;
}

export async function observeTargets(targets: Target[], deps: ObserveDeps): Promise<DomainObservation[]> {
  const probe = deps.probe ?? probeTls;
  const resolve = deps.resolve ?? resolveAll;
  const observations: DomainObservation[] = [];
  const jobs: Job[] = [];
  await Promise.all(
    targets.map(async (target) => {
      const obs: DomainObservation = { domain: target.host, endpoint: { host: target.host, port: target.port, addresses: [] }, samples: [], failures: [] };
      observations.push(obs);
      const override = deps.overrides.find((o) => o.host === target.host && o.port === target.port);
      try {
        obs.endpoint.addresses = override ? override.addresses : await resolve(target.host, { timeoutMs: deps.timeoutMs });
      } catch (e) {
        obs.failures.push(toFailure(target.host, e));
        return;
      }
      for (const address of obs.endpoint.addresses) jobs.push({ obs, target, address });
    }),
  );
  // Keep the users' order, not resolution order.
  observations.sort((a, b) => targets.findIndex((t) => t.host === a.domain && t.port === a.endpoint.port) - targets.findIndex((t) => t.host === b.domain && t.port === b.endpoint.port));
  let done = 0;
  await runBounded(jobs, deps.concurrency ?? 64, async (job) => {
    const label = formatAddress(job.address, job.target.port);
    // One-shot: the chain as sent, so a reordered chain or extra certificates can be reported.
    const r = await probe({ host: job.target.host, port: job.target.port, address: job.address, timeoutMs: deps.timeoutMs, asSent: true });
    if (!r.ok) {
      job.obs.failures.push(toFailure(label, r.error));
    } else {
      try {
        const certs: CertInfo[] = r.served.map((der, i) => parseCertificate(der, `${label} certificate ${i + 1}`));
        const chain = buildChain(certs, deps.store, { now: deps.now, hostname: job.target.host });
        job.obs.samples.push({ label, chain, protocol: r.protocol });
      } catch (e) {
        job.obs.failures.push(toFailure(label, e));
      }
    }
    deps.onProgress?.(++done, jobs.length);
  });
  for (const o of observations) {
    // Stable output whatever order the handshakes finished in.
    o.samples.sort((a, b) => o.endpoint.addresses.indexOf(addr(a.label)) - o.endpoint.addresses.indexOf(addr(b.label)));
    o.failures.sort((a, b) => a.label.localeCompare(b.label));
  }
  return observations;
}

function addr(label: string): string {
  return label.replace(/^\[(.*)\]:\d+$/, '$1').replace(/:\d+$/, '');
}

function toFailure(label: string, e: unknown): Failure {
  if (e instanceof PinctlError) return { label, code: e.code, message: e.message, hint: e.hint };
  return { label, code: 'NETWORK', message: `${label}: ${describeError(e)}` };
}

export async function runBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

