/** Plain-data views of observations and chains for --json output (and, later, the monitor's history). */
import { ChainReport } from './chain.js';
import { DomainObservation } from './plan.js';

export function chainJson(chain: ChainReport) {
  return {
    valid: chain.valid,
    trusted: chain.trusted,
    reordered: chain.reordered,
    problems: chain.problems,
    certificates: chain.entries.map((e) => ({
      position: e.position,
      source: e.source,
      subject: e.cert.subject,
      issuer: e.cert.issuer,
      notBefore: e.cert.notBefore.toISOString(),
      notAfter: e.cert.notAfter.toISOString(),
      keyType: e.cert.keyType,
      keyBits: e.cert.keyBits,
      spkiSha256: e.cert.spkiSha256,
      sha256Fingerprint: e.cert.sha256Fingerprint,
    })),
    unusedCertificates: chain.unused.map((c) => ({ subject: c.subject, sha256Fingerprint: c.sha256Fingerprint })),
  };
}

export function observationJson(obs: DomainObservation) {
  return {
    domain: obs.domain,
    endpoint: obs.endpoint,
    addresses: obs.samples.map((s) => ({ address: s.label, protocol: s.protocol ?? null, chain: chainJson(s.chain) })),
    failures: obs.failures,
  };
}

/** Samples grouped by the keys they serve, so a summary shows each distinct chain once. */
export function distinctChains(obs: DomainObservation): { labels: string[]; chain: ChainReport }[] {
  const groups = new Map<string, { labels: string[]; chain: ChainReport }>();
  for (const s of obs.samples) {
    const key = s.chain.entries.map((e) => e.cert.sha256Fingerprint).join(',');
    const g = groups.get(key) ?? { labels: [], chain: s.chain };
    g.labels.push(s.label);
    groups.set(key, g);
  }
  return [...groups.values()];
}
