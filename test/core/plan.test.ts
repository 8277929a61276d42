import { describe, expect, it } from 'vitest';
import { parseInput } from '../../src/core/input.js';
import { buildChain } from '../../src/core/chain.js';
import { makeTrustStore } from '../../src/core/trust-store.js';
import { DomainObservation, planPins } from '../../src/core/plan.js';
import { NOW, opensslPin, readPki } from '../helpers/fixtures.js';

const certs = (f: string) => parseInput(readPki(f), f).map((i) => i.cert!);
const store = makeTrustStore(certs('root.pem'), 'root.pem');
const sample = (label: string, file: string) => ({ label, chain: buildChain(certs(file), store, { now: NOW, hostname: 'api.pinctl.test' }) });
const obs = (...samples: ReturnType<typeof sample>[]): DomainObservation => ({
  domain: 'api.pinctl.test',
  endpoint: { host: 'api.pinctl.test', port: 443, addresses: samples.map((s) => s.label) },
  samples,
  failures: [],
});
const opts = { roles: ['intermediate', 'root'] as ('intermediate' | 'root')[], backups: [], includeSubdomains: false, expiration: '2030-01-01', now: NOW, insecure: false };

describe('planPins', () => {
  it('takes pins from every address and flags disagreement', () => {
    const plan = planPins([obs(sample('192.0.2.1:443', 'chain.pem'), sample('192.0.2.2:443', 'chain-intermediate2.pem'))], opts);
    expect(plan.pinSet.domains[0]!.pins.map((p) => p.spkiSha256)).toEqual([opensslPin('intermediate.pem'), opensslPin('intermediate2.pem'), opensslPin('root.pem')]);
    expect(plan.warnings.map((w) => w.code)).toContain('address-disagreement');
  });
  it('same chain everywhere: no disagreement', () => {
    const plan = planPins([obs(sample('192.0.2.1:443', 'chain.pem'), sample('192.0.2.2:443', 'chain.pem'))], opts);
    expect(plan.warnings.map((w) => w.code)).not.toContain('address-disagreement');
  });
  it('a domain listed twice appears once', () => {
    const plan = planPins([obs(sample('a', 'chain.pem')), obs(sample('b', 'chain.pem'))], opts);
    expect(plan.pinSet.domains).toHaveLength(1);
  });
  it('refuses an invalid chain unless insecure', () => {
    const bad = obs(sample('a', 'leaf-only.pem'));
    expect(planPins([bad], opts).errors[0]!.code).toBe('UNTRUSTED');
    const ins = planPins([bad], { ...opts, insecure: true, roles: ['leaf'] as never });
    expect(ins.errors).toEqual([]);
    expect(ins.warnings.map((w) => w.code)).toEqual(expect.arrayContaining(['insecure', 'leaf-only-chain', 'too-few-pins']));
  });
  it('a requested position the chain lacks is a warning, not a silent gap', () => {
    const plan = planPins([obs(sample('a', 'example-self-signed.pem'))], { ...opts, insecure: true });
    expect(plan.warnings.map((w) => w.code)).toEqual(expect.arrayContaining(['no-intermediate', 'no-root']));
  });
});

describe('host name mismatch', () => {
  it('is a danger warning, not a refusal: the keys are what they are', () => {
    const s = { label: '192.0.2.1:443', chain: buildChain(certs('chain.pem'), store, { now: NOW, hostname: 'other.example' }) };
    const plan = planPins([{ ...obs(s), domain: 'other.example' }], opts);
    expect(plan.errors).toEqual([]);
    expect(plan.warnings.find((w) => w.code === 'hostname-mismatch')?.severity).toBe('danger');
  });
});
