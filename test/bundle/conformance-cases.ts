/**
 * The conformance manifest's cases run against any verifier (fixtures/bundles/vectors.json).
 * No file access, no node: import: the same runner runs under vitest and inside the Hermes
 * harness, where the vectors are bundled in at build time.
 */
import { TrustedStore } from '../../src/bundle/trusted-store.js';
import { embeddedKeyset, embeddedRootRole } from '../../src/bundle/keys.js';

export type BundleKind = 'pins' | 'trust-roots';
export interface Step {
  op: 'verify' | 'rotate';
  type?: BundleKind;
  file: string;
  expect: string;
  now?: string;
  version?: number;
  keysetVersion?: number;
}
export interface Given {
  /** 'keys': SPEC 1.0, the app embeds `trustedKeys`; 'roles': SPEC §7, the app embeds `rootKeys`. */
  mode?: 'keys' | 'roles';
  rootKeys?: string[];
  /** SPEC §7.1: RFC 3339; the embedded root role is not trusted from then on. */
  trustExpires?: string;
  audience: string;
  now: string;
  trustedKeys: string[];
  threshold: number;
  keysetVersion: number;
  skewMs: number;
  maxBytes: number;
}
export interface Case {
  name: string;
  spec: string;
  why?: string;
  given?: Partial<Given>;
  steps: Step[];
  after?: { pins?: number | null; 'trust-roots'?: number | null; keysetVersion?: number };
}
export interface Manifest {
  directory: string;
  keys: Record<string, { publicKeyPem: string; publicKeyRaw: string; keyid: string }>;
  defaults: Given;
  errors: Record<string, { code: string; spec: string }>;
  cases: Case[];
}

/** What a verifier exposes to the runner: one instance per case, started from `given`. */
export interface ConformanceTarget {
  verify(type: BundleKind, bytes: Uint8Array, now: Date): { status: string; version: number };
  rotate(bytes: Uint8Array, now: Date): { version: number };
  applied(type: BundleKind): number | null;
  keysetVersion(): number;
}

export function givenOf(m: Manifest, c: Case): Given {
  return { ...m.defaults, ...c.given };
}

/** The error class name a thrown value stands for, by its `name` or constructor name. */
function errorName(e: unknown): string {
  if (e instanceof Error) return e.constructor.name !== 'Error' ? e.constructor.name : e.name;
  return String(e);
}

/** Runs one case; returns a list of mismatches (empty when the implementation agrees). */
export function runCase(m: Manifest, c: Case, target: ConformanceTarget, readVector: (file: string) => Uint8Array): string[] {
  const given = givenOf(m, c);
  const wrong: string[] = [];
  c.steps.forEach((step, i) => {
    const at = `step ${i + 1} (${step.op} ${step.file})`;
    const bytes = readVector(step.file);
    let outcome: string;
    let version: number | undefined;
    try {
      if (step.op === 'rotate') {
        version = target.rotate(bytes, new Date(step.now ?? given.now)).version;
        outcome = 'rotated';
      } else {
        const r = target.verify(step.type!, bytes, new Date(step.now ?? given.now));
        outcome = r.status;
        version = r.version;
      }
    } catch (e) {
      outcome = errorName(e);
    }
    if (outcome !== step.expect) wrong.push(`${at}: expected ${step.expect}, got ${outcome}`);
    const wantVersion = step.op === 'rotate' ? step.keysetVersion : step.version;
    if (outcome === step.expect && wantVersion !== undefined && version !== wantVersion) {
      wrong.push(`${at}: expected version ${wantVersion}, got ${version}`);
    }
  });
  const after = c.after ?? {};
  for (const type of ['pins', 'trust-roots'] as const) {
    if (after[type] !== undefined && target.applied(type) !== after[type]) {
      wrong.push(`after: ${type} in force: expected ${after[type]}, got ${target.applied(type)}`);
    }
  }
  if (after.keysetVersion !== undefined && target.keysetVersion() !== after.keysetVersion) {
    wrong.push(`after: keyset version: expected ${after.keysetVersion}, got ${target.keysetVersion()}`);
  }
  return wrong;
}

/**
 * A TrustedStore started from a case's `given`: roles mode (SPEC §7: rootKeys, threshold as the root
 * threshold, trustExpires) or keys mode (SPEC 1.0: trustedKeys). `pemOf` reads a key's PEM.
 */
export function storeTarget(m: Manifest, c: Case, pemOf: (key: string) => string): ConformanceTarget {
  const given = givenOf(m, c);
  const common = { audience: given.audience, skewMs: given.skewMs, maxBytes: given.maxBytes };
  const store =
    given.mode === 'roles'
      ? new TrustedStore({ ...common, root: embeddedRootRole(given.rootKeys!.map(pemOf), given.threshold, Date.parse(given.trustExpires!)) })
      : new TrustedStore({ ...common, keyset: { ...embeddedKeyset(given.trustedKeys.map(pemOf), given.threshold), version: given.keysetVersion } });
  return {
    verify: (type, bytes, now) => {
      const r = store.verify(type, bytes, now);
      return { status: r.status, version: r.bundle.payload.version };
    },
    rotate: (bytes, now) => ({ version: store.rotate(bytes, now).version }),
    applied: (type) => store.current(type)?.payload.version ?? null,
    keysetVersion: () => store.keyset.version,
  };
}
