/**
 * Every conformance case of fixtures/bundles/vectors.json and vectors-roles.json (SPEC §7), and every Ed25519 vector of
 * shared/vectors/ed25519, run on pinctl/sdk/core. No file access and no node: import: vitest
 * feeds it files read from disk, the Hermes harness the same files bundled in at build time.
 */
import { verifySignature } from '../../src/sdk/core/index.js';
import { fromHex, utf8Decode } from '../../src/bundle/bytes.js';
import { runCase, storeTarget, type Case, type ConformanceTarget, type Manifest } from '../bundle/conformance-cases.js';

export interface VectorInput {
  manifest: Manifest;
  /** fixtures/bundles/vectors-roles.json (same vector directory) */
  rolesManifest: Manifest;
  /** vector directory file name → bytes */
  files: Record<string, Uint8Array>;
  wycheproof: { testGroups: { publicKey: { pk: string }; tests: { tcId: number; msg: string; sig: string; result: string }[] }[] };
  speccheck: { message: string; pub_key: string; signature: string }[];
}

export interface VectorOutcome {
  passed: number;
  failed: number;
  failures: string[];
  counts: { manifest: number; roles: number; wycheproof: number; speccheck: number };
}

function coreTarget(input: VectorInput, m: Manifest, c: Case): ConformanceTarget {
  return storeTarget(m, c, (k) => utf8Decode(file(input, m.keys[k]!.publicKeyPem)));
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
  for (const [label, m] of [['manifest', input.manifest], ['roles', input.rolesManifest]] as const) {
    for (const c of m.cases) {
      let wrong: string[];
      try {
        wrong = runCase(m, c, coreTarget(input, m, c), (name) => file(input, name));
      } catch (e) {
        wrong = [`threw ${e instanceof Error ? e.message : String(e)}`];
      }
      record(`${label} ${c.name}`, wrong);
    }
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
  const counts = { manifest: input.manifest.cases.length, roles: input.rolesManifest.cases.length, wycheproof, speccheck: input.speccheck.length };
  return { passed, failed: failures.length, failures, counts };
}
