/** Every case of fixtures/bundles/vectors.json against TrustedStore (the verifier the Node SDK uses). */
import { describe, expect, it } from 'vitest';
import { TrustedStore } from '../../src/bundle/trusted-store.js';
import { embeddedKeyset } from '../../src/bundle/keys.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLES_DIR, ConformanceTarget, givenOf, loadManifest, publicKeyPem, runCase } from './conformance.js';

const manifest = loadManifest();

function target(c: (typeof manifest.cases)[number]): ConformanceTarget {
  const given = givenOf(manifest, c);
  const keys = given.trustedKeys.map((k) => publicKeyPem(manifest, k));
  const store = new TrustedStore({
    audience: given.audience,
    keyset: embeddedKeyset(keys, given.threshold),
    skewMs: given.skewMs,
    maxBytes: given.maxBytes,
  });
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
    expect(runCase(manifest, c, target(c))).toEqual([]);
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
});
