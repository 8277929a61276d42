/** Every case of fixtures/bundles/vectors.json against TrustedStore (the verifier the Node SDK uses). */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLES_DIR, givenOf, loadManifest, publicKeyPem, runCase, storeTarget } from './conformance.js';

const manifest = loadManifest();
const target = (m: typeof manifest, c: (typeof manifest.cases)[number]) => storeTarget(m, c, (k) => publicKeyPem(m, k));

describe('conformance manifest (fixtures/bundles/vectors.json)', () => {
  it('lists every vector file it names, and every error verdict is a SPEC error class', () => {
    const errorNames = new Set(Object.keys(manifest.errors));
    const outcomes = new Set(['applied', 'unchanged', 'rotated']);
    for (const c of manifest.cases) {
      for (const s of c.steps) expect(outcomes.has(s.expect) || errorNames.has(s.expect), `${c.name}: ${s.expect}`).toBe(true);
    }
    expect(manifest.cases.length).toBeGreaterThanOrEqual(40);
  });
  it.each(manifest.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(runCase(manifest, c, target(manifest, c))).toEqual([]);
  });
});

describe('the SPEC §7 (roles) manifest, fixtures/bundles/vectors-roles.json', () => {
  const roles = loadManifest('vectors-roles.json');
  it('names existing vector files and keys, and only SPEC outcomes and error classes', () => {
    const errorNames = new Set(Object.keys(roles.errors));
    for (const c of roles.cases) {
      const g = givenOf(roles, c);
      for (const k of [...(g.rootKeys ?? []), ...g.trustedKeys]) expect(roles.keys[k], `${c.name}: key ${k}`).toBeDefined();
      for (const s of c.steps) {
        expect(existsSync(join(BUNDLES_DIR, roles.directory, s.file)), `${c.name}: ${s.file}`).toBe(true);
        expect(['applied', 'unchanged', 'rotated'].includes(s.expect) || errorNames.has(s.expect), `${c.name}: ${s.expect}`).toBe(true);
      }
    }
    expect(roles.cases.length).toBeGreaterThanOrEqual(18);
  });
  it.each(roles.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(runCase(roles, c, target(roles, c))).toEqual([]);
  });
});
