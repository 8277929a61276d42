/**
 * Reads fixtures/bundles/vectors.json (the conformance manifest every implementation runs) and
 * runs its cases against any verifier that can be driven through `ConformanceTarget`. The verdicts
 * are written by hand in the manifest, never computed by the code under test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUNDLES_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'bundles');

import type { Case, ConformanceTarget, Manifest } from './conformance-cases.js';
import { runCase as runCaseWith } from './conformance-cases.js';

export * from './conformance-cases.js';

/** `vectors.json` (SPEC 1.0 rules) or `vectors-roles.json` (SPEC §7). */
export function loadManifest(file: 'vectors.json' | 'vectors-roles.json' = 'vectors.json'): Manifest {
  return JSON.parse(readFileSync(join(BUNDLES_DIR, file), 'utf8')) as Manifest;
}

export function readVector(m: Manifest, file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(BUNDLES_DIR, m.directory, file)));
}

export function publicKeyPem(m: Manifest, name: string): string {
  const k = m.keys[name];
  if (!k) throw new Error(`manifest names an unknown key ${name}`);
  return readFileSync(join(BUNDLES_DIR, m.directory, k.publicKeyPem), 'utf8');
}

/** Runs one case with the vector files read from fixtures/bundles/vectors/. */
export function runCase(m: Manifest, c: Case, target: ConformanceTarget): string[] {
  return runCaseWith(m, c, target, (file) => readVector(m, file));
}
