/**
 * Every conformance case of fixtures/bundles/vectors.json and every Ed25519 vector of
 * shared/vectors/ed25519, run on pinctl/sdk/core. No file access and no node: import: vitest
 * feeds it files read from disk, the Hermes harness the same files bundled in at build time.
 */
import { TrustedStore, rootKeyset, verifySignature } from '../../src/sdk/core/index.js';
import { fromHex, utf8Decode } from '../../src/bundle/bytes.js';
import { givenOf, runCase, type Case, type ConformanceTarget, type Manifest } from '../bundle/conformance-cases.js';

export interface VectorInput {
  manifest: Manifest;
  /** vector directory file name → bytes */
  files: Record<string, Uint8Array>;
  wycheproof: { testGroups: { publicKey: { pk: string }; tests: { tcId: number; msg: string; sig: string; result: string }[] }[] };
  speccheck: { message: string; pub_key: string; signature: string }[];
}

export interface VectorOutcome {
  passed: number;
  failed: number;
  failures: string[];
  counts: { manifest: number; wycheproof: number; speccheck: number };
}

function coreTarget(input: VectorInput, c: Case): ConformanceTarget {
  const given = givenOf(input.manifest, c);
  const keys = given.trustedKeys.map((k) => utf8Decode(file(input, input.manifest.keys[k]!.publicKeyPem)));
  const store = new TrustedStore({ audience: given.audience, keyset: rootKeyset(keys, given.threshold), skewMs: given.skewMs, maxBytes: given.maxBytes });
  return {
    verify: (type, bytes, now) => {
      const r = store.verify(type, bytes, now);
      return { status: r.status, version: r.bundle.payload.version };
    },
    rotate: (bytes) => ({ version: store.rotate(bytes).version }),
    applied: (type) => store.current(type)?.payload.version ?? null,
    keysetVersion: () => store.keyset.version,
  };
}

function file(input: VectorInput, name: string): Uint8Array {
  const f = input.files[name];
  if (!f) throw new Error(`vector file ${name} is missing from the input`);
  return f;
}

export function runVectors(input: VectorInput): VectorOutcome {
  const failures: string[] = [];
  let passed = 0;
  const record = (name: string, wrong: string[]) => {
    if (wrong.length === 0) passed++;
    else failures.push(`${name}: ${wrong.join('; ')}`);
  };
  for (const c of input.manifest.cases) {
    let wrong: string[];
    try {
      wrong = runCase(input.manifest, c, coreTarget(input, c), (name) => file(input, name));
    } catch (e) {
      wrong = [`threw ${e instanceof Error ? e.message : String(e)}`];
    }
    record(`manifest ${c.name}`, wrong);
  }
  let wycheproof = 0;
  for (const g of input.wycheproof.testGroups) {
    for (const t of g.tests) {
      wycheproof++;
      const got = verifySignature(fromHex(g.publicKey.pk), fromHex(t.msg), fromHex(t.sig));
      record(`wycheproof tcId ${t.tcId}`, got === (t.result === 'valid') ? [] : [`expected ${t.result}, got ${got ? 'valid' : 'invalid'}`]);
    }
  }
  // "Taming the many EdDSAs": a libsodium-strict verifier accepts case 3 only.
  input.speccheck.forEach((c, i) => {
    const got = verifySignature(fromHex(c.pub_key), fromHex(c.message), fromHex(c.signature));
    record(`speccheck case ${i}`, got === (i === 3) ? [] : [`expected ${i === 3 ? 'accept' : 'reject'}, got ${got ? 'accept' : 'reject'}`]);
  });
  const counts = { manifest: input.manifest.cases.length, wycheproof, speccheck: input.speccheck.length };
  return { passed, failed: failures.length, failures, counts };
}
