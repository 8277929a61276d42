import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  activeBackend,
  checkPublicKey,
  keyIdOf,
  verifySignature,
  verifySignatureWith,
  type Ed25519Backend,
} from '../../src/bundle/ed25519.js';
import { usePrimitives } from '../../src/bundle/primitives.js';
import { nodePrimitives } from '../../src/bundle/node-primitives.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const vectorDir = join(repoRoot, '..', 'shared', 'vectors', 'ed25519');
// The pure-JS equation every runtime has, and node:crypto's (OpenSSL) installed by the Node SDK:
// both after the same SPEC §2.3 pre-checks, so every vector must give both the same verdict.
const BACKENDS: readonly Ed25519Backend[] = ['noble', 'native'];

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  msg: string;
  sig: string;
  result: 'valid' | 'invalid';
}
interface WycheproofFile {
  numberOfTests: number;
  testGroups: { publicKey: { pk: string }; tests: WycheproofTest[] }[];
}
interface SpeccheckCase {
  message: string;
  pub_key: string;
  signature: string;
}

const wycheproof = JSON.parse(readFileSync(join(vectorDir, 'wycheproof_ed25519_test.json'), 'utf8')) as WycheproofFile;
const wycheproofCases = wycheproof.testGroups.flatMap((g) => g.tests.map((t) => ({ pk: g.publicKey.pk, ...t })));
const speccheck = JSON.parse(readFileSync(join(vectorDir, 'speccheck_cases.json'), 'utf8')) as SpeccheckCase[];

// ---- independent curve arithmetic (BigInt), only to derive the small-order points ----------

const P = 2n ** 255n - 19n;
const mod = (a: bigint): bigint => ((a % P) + P) % P;
const pow = (b: bigint, e: bigint): bigint => {
  let r = 1n;
  b = mod(b);
  for (; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
  return r;
};
const inv = (a: bigint): bigint => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);
function sqrt(a: bigint): bigint | null {
  a = mod(a);
  let r = pow(a, (P + 3n) / 8n);
  if (mod(r * r - a) !== 0n) r = mod(r * SQRT_M1);
  return mod(r * r - a) === 0n ? r : null;
}
type Pt = { x: bigint; y: bigint };
const onCurve = ({ x, y }: Pt): boolean => mod(-x * x + y * y - 1n - D * x * x * y * y) === 0n;
const add = (p: Pt, q: Pt): Pt => {
  const t = mod(D * p.x * q.x * p.y * q.y);
  return { x: mod((p.x * q.y + q.x * p.y) * inv(1n + t)), y: mod((p.y * q.y + p.x * q.x) * inv(1n - t)) };
};
const isIdentity = (p: Pt): boolean => p.x === 0n && p.y === 1n;
function orderOf(p: Pt): number {
  let q = p;
  for (let n = 1; n <= 8; n++, q = add(q, p)) if (isIdentity(q)) return n;
  return -1;
}
function scalarMult(p: Pt, n: bigint): Pt {
  let r: Pt = { x: 0n, y: 1n };
  for (let q = p; n > 0n; n >>= 1n, q = add(q, q)) if (n & 1n) r = add(r, q);
  return r;
}
const BASE: Pt = (() => {
  const y = mod(4n * inv(5n));
  const x = sqrt((y * y - 1n) * inv(D * y * y + 1n))!;
  return { x: x & 1n ? mod(-x) : x, y }; // RFC 8032 §5.1: the base point has even x
})();
const encodePoint = (p: Pt): Uint8Array => encode(p.y, Number(p.x & 1n) as 0 | 1);
function encode(y: bigint, signBit: 0 | 1): Uint8Array {
  const out = new Uint8Array(32);
  let v = y | (BigInt(signBit) << 255n);
  for (let i = 0; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** The 8 points of order dividing 8: [2]P has y = 0 for the order-8 ones, i.e. x^2 = -y^2. */
function smallOrderPoints(): Pt[] {
  const pts: Pt[] = [
    { x: 0n, y: 1n },
    { x: 0n, y: P - 1n },
    { x: SQRT_M1, y: 0n },
    { x: mod(-SQRT_M1), y: 0n },
  ];
  // x^2 = -y^2 on the curve: d*y^4 + 2*y^2 - 1 = 0  =>  y^2 = (-1 ± sqrt(1 + d)) / d
  const s = sqrt(1n + D)!;
  for (const y2 of [mod((-1n + s) * inv(D)), mod((-1n - s) * inv(D))]) {
    const y = sqrt(y2);
    if (y === null) continue;
    const x = sqrt(-y2)!;
    for (const [px, py] of [[x, y], [mod(-x), y], [x, mod(-y)], [mod(-x), mod(-y)]] as const) pts.push({ x: px, y: py });
  }
  return pts;
}

// ---- helpers ---------------------------------------------------------------------------------

function seededKey(label: string): { priv: KeyObject; pk: Uint8Array } {
  const seed = createHash('sha256').update(`pinctl-ed25519-test:${label}`).digest();
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const priv = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return { priv, pk: rawPublicKey(createPublicKey(priv)) };
}
function rawPublicKey(pub: KeyObject): Uint8Array {
  const jwk = pub.export({ format: 'jwk' });
  return Uint8Array.from(Buffer.from(jwk.x!, 'base64url'));
}
function deterministicBytes(label: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let off = 0, i = 0; off < length; i++) {
    const block = createHash('sha256').update(`${label}:${i}`).digest();
    out.set(block.subarray(0, Math.min(32, length - off)), off);
    off += 32;
  }
  return out;
}
function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const c = Uint8Array.from(b);
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

// ---- tests -----------------------------------------------------------------------------------

describe('vectors', () => {
  it('are present: 151 Wycheproof tests in 78 groups, 12 speccheck cases', () => {
    expect(wycheproof.numberOfTests).toBe(151);
    expect(wycheproof.testGroups).toHaveLength(78);
    expect(wycheproofCases).toHaveLength(151);
    expect(speccheck).toHaveLength(12);
  });
});

describe('Wycheproof ed25519_test.json', () => {
  for (const backend of BACKENDS) {
    it(`every case gives the expected verdict (${backend})`, () => {
      let ran = 0;
      const wrong: string[] = [];
      for (const t of wycheproofCases) {
        const got = verifySignatureWith(backend, hex(t.pk), hex(t.msg), hex(t.sig));
        if (got !== (t.result === 'valid')) wrong.push(`tcId ${t.tcId} (${t.result}, ${t.flags.join()}): ${t.comment}`);
        ran++;
      }
      expect(wrong).toEqual([]);
      expect(ran).toBe(151);
    });
  }

  it('verifySignature (auto backend) agrees on every case', () => {
    const verdicts = wycheproofCases.map((t) => verifySignature(hex(t.pk), hex(t.msg), hex(t.sig)));
    expect(verdicts).toEqual(wycheproofCases.map((t) => t.result === 'valid'));
    expect(verdicts).toHaveLength(151);
  });

  it('raw tweetnacl accepts the S >= L malleability cases that the strict layer rejects', () => {
    const sGeL = wycheproofCases.filter((t) => [63, 64, 65, 66, 85].includes(t.tcId));
    expect(sGeL).toHaveLength(5); // s + L, s + 2L, s + 4L, s + 8L, "S just above the bound"
    for (const t of sGeL) {
      const [pk, msg, sig] = [hex(t.pk), hex(t.msg), hex(t.sig)];
      expect(t.result).toBe('invalid');
      expect(nacl.sign.detached.verify(msg, sig, pk), `tcId ${t.tcId}`).toBe(true);
      expect(verifySignature(pk, msg, sig)).toBe(false);
      for (const b of BACKENDS) expect(verifySignatureWith(b, pk, msg, sig)).toBe(false);
    }
  });
});

describe('speccheck ("Taming the many EdDSAs") cases', () => {
  for (const backend of BACKENDS) {
    it(`strict verify accepts only case 3 (${backend})`, () => {
      const accepted = speccheck.map((c) => verifySignatureWith(backend, hex(c.pub_key), hex(c.message), hex(c.signature)));
      expect(accepted).toHaveLength(12);
      expect(accepted.flatMap((ok, i) => (ok ? [i] : []))).toEqual([3]);
    });
  }

  it('raw tweetnacl accepts cases the strict layer rejects (small-order A/R, S >= L, non-canonical A)', () => {
    const raw = speccheck.map((c) => nacl.sign.detached.verify(hex(c.message), hex(c.signature), hex(c.pub_key)));
    for (const i of [0, 1, 2, 6, 7, 11]) expect(raw[i], `case ${i}`).toBe(true);
    for (const i of [0, 1, 2, 6, 7, 11]) {
      const c = speccheck[i]!;
      expect(verifySignature(hex(c.pub_key), hex(c.message), hex(c.signature)), `case ${i}`).toBe(false);
    }
  });
});

describe('identity-point key', () => {
  const identity = encode(1n, 0);
  const forgery = new Uint8Array(64);
  forgery[0] = 1; // R = identity, S = 0: [0]B == identity + [k]identity for every k
  const messages = [new Uint8Array(0), new TextEncoder().encode('pin bundle v1'), deterministicBytes('any', 1000)];

  it('raw tweetnacl accepts 01 00..00 || 00..00 for arbitrary messages', () => {
    for (const m of messages) expect(nacl.sign.detached.verify(m, forgery, identity)).toBe(true);
  });
  it('with A = identity, (R = [S]B, S) verifies under raw tweetnacl for any S and message; strict rejects', () => {
    // [S]B == R + [k]A holds for every k when A is the identity: only the A check stops this.
    for (const [i, S] of [12345n, 2n ** 200n + 7n, 2n ** 252n].entries()) {
      const sig = new Uint8Array(64);
      sig.set(encodePoint(scalarMult(BASE, S)), 0);
      sig.set(encode(S, 0), 32);
      const m = deterministicBytes(`identity-${i}`, 40);
      expect(nacl.sign.detached.verify(m, sig, identity)).toBe(true);
      expect(verifySignature(identity, m, sig)).toBe(false);
      for (const b of BACKENDS) expect(verifySignatureWith(b, identity, m, sig)).toBe(false);
    }
  });
  it('verifySignature rejects it on both backends', () => {
    for (const m of messages) {
      expect(verifySignature(identity, m, forgery)).toBe(false);
      for (const b of BACKENDS) expect(verifySignatureWith(b, identity, m, forgery)).toBe(false);
    }
  });
});

describe('checkPublicKey', () => {
  const points = smallOrderPoints();

  it('the test curve arithmetic is right: B encodes to 5866..66 and has order L', () => {
    expect(toHex(encodePoint(BASE))).toBe('58' + '66'.repeat(31));
    expect(isIdentity(scalarMult(BASE, 2n ** 252n + 27742317777372353535851937790883648493n))).toBe(true);
  });
  it('derives exactly the 8 small-order points (orders 1, 2, 4, 4, 8, 8, 8, 8)', () => {
    expect(points).toHaveLength(8);
    expect(points.every(onCurve)).toBe(true);
    expect(points.map(orderOf).sort()).toEqual([1, 2, 4, 4, 8, 8, 8, 8]);
    expect(new Set(points.map((p) => `${p.x},${p.y}`)).size).toBe(8);
  });

  it('rejects all 8 small-order points in every encoding (both sign bits, y and y + p)', () => {
    const encodings = new Map<string, Uint8Array>();
    for (const { y } of points) {
      for (const yy of [y, y + P]) {
        if (yy >= 2n ** 255n) continue;
        for (const sign of [0, 1] as const) encodings.set(toHex(encode(yy, sign)), encode(yy, sign));
      }
    }
    // 5 distinct y values x 2 signs, plus y = p, p + 1 (the non-canonical 0 and 1) x 2 signs.
    expect(encodings.size).toBe(14);
    for (const [h, e] of encodings) {
      const r = checkPublicKey(e);
      expect(r.ok, h).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/small-order|not canonically encoded/);
    }
    // The canonical ones are rejected for being small-order, not by accident of another rule.
    for (const p of points) {
      const r = checkPublicKey(encode(p.y, Number(p.x & 1n) as 0 | 1));
      expect(r).toEqual({ ok: false, reason: 'public key is a small-order point' });
    }
  });

  it('rejects every non-canonical encoding (y in [p, 2^255 - 1], both sign bits)', () => {
    let n = 0;
    for (let y = P; y < 2n ** 255n; y++) {
      for (const sign of [0, 1] as const) {
        const r = checkPublicKey(encode(y, sign));
        expect(r).toEqual({ ok: false, reason: 'public key is not canonically encoded (y >= 2^255-19)' });
        n++;
      }
    }
    expect(n).toBe(38);
  });

  it('rejects wrong lengths, non-bytes and encodings that are not curve points', () => {
    expect(checkPublicKey(new Uint8Array(31)).ok).toBe(false);
    expect(checkPublicKey(new Uint8Array(33)).ok).toBe(false);
    expect(checkPublicKey(new Uint8Array(0)).ok).toBe(false);
    expect(checkPublicKey('ab'.repeat(32) as unknown as Uint8Array).ok).toBe(false);
    let y = 2n;
    while (sqrt(mod((y * y - 1n) * inv(D * y * y + 1n))) !== null) y++;
    expect(checkPublicKey(encode(y, 0))).toEqual({ ok: false, reason: 'public key is not a point on Ed25519' });
  });

  it('accepts freshly generated keys and the mixed-order key of speccheck case 3', () => {
    for (let i = 0; i < 8; i++) {
      const { publicKey } = generateKeyPairSync('ed25519');
      expect(checkPublicKey(rawPublicKey(publicKey))).toEqual({ ok: true });
    }
    expect(checkPublicKey(hex(speccheck[3]!.pub_key))).toEqual({ ok: true });
  });
});

describe('signatures made by node:crypto', () => {
  // Both backends, 2,784 mutants: ~25 s idle on the pure-JS path, minutes on a loaded machine.
  it('verify, and flipping any bit of message, signature or key makes them fail', { timeout: 300_000 }, () => {
    let positives = 0;
    let negatives = 0;
    for (let k = 0; k < 3; k++) {
      const { priv, pk } = seededKey(`key-${k}`);
      const msg = deterministicBytes(`msg-${k}`, 8 + 12 * k);
      const sig = Uint8Array.from(sign(null, msg, priv));
      expect(verifySignature(pk, msg, sig)).toBe(true);
      for (const b of BACKENDS) expect(verifySignatureWith(b, pk, msg, sig)).toBe(true);
      positives++;
      // Every bit of the signature and key, and every bit of the message.
      const mutants: [Uint8Array, Uint8Array, Uint8Array][] = [];
      for (let bit = 0; bit < 512; bit++) mutants.push([pk, msg, flipBit(sig, bit)]);
      for (let bit = 0; bit < 256; bit++) mutants.push([flipBit(pk, bit), msg, sig]);
      for (let bit = 0; bit < msg.length * 8; bit++) mutants.push([pk, flipBit(msg, bit), sig]);
      mutants.forEach(([p, m, s], i) => {
        for (const b of BACKENDS) expect(verifySignatureWith(b, p, m, s), `mutant ${i} ${b}`).toBe(false);
        negatives++;
      });
    }
    expect(positives).toBe(3);
    expect(negatives).toBe(3 * 768 + (8 + 20 + 32) * 8);
  });

  it('verify over random-looking messages of many lengths (both backends)', () => {
    const { priv, pk } = seededKey('lengths');
    for (let len = 0; len < 130; len += 7) {
      const msg = deterministicBytes(`len-${len}`, len);
      const sig = Uint8Array.from(sign(null, msg, priv));
      for (const b of BACKENDS) expect(verifySignatureWith(b, pk, msg, sig), `len ${len} ${b}`).toBe(true);
    }
  });
});

describe('robustness', () => {
  it('never throws, whatever the input', () => {
    const { priv, pk } = seededKey('robust');
    const msg = new Uint8Array([1, 2, 3]);
    const sig = Uint8Array.from(sign(null, msg, priv));
    const junk: unknown[] = [undefined, null, 0, 'x', {}, [], new Uint8Array(0), new Uint8Array(63), new Uint8Array(65), new Uint16Array(32), Buffer.alloc(100)];
    for (const j of junk) {
      const u = j as Uint8Array;
      expect(verifySignature(u, msg, sig)).toBe(false);
      expect(verifySignature(pk, u, sig)).toBe(false);
      expect(verifySignature(pk, msg, u)).toBe(false);
      expect(verifySignatureWith('nope' as Ed25519Backend, pk, msg, sig)).toBe(false);
      expect(() => checkPublicKey(u)).not.toThrow();
    }
    // Buffers are Uint8Arrays and work as-is.
    expect(verifySignature(Buffer.from(pk), Buffer.from(msg), Buffer.from(sig))).toBe(true);
  });

  it('verifies with the native backend once installed, pure JS otherwise; an absent or unknown backend verifies nothing', () => {
    const { priv, pk } = seededKey('backends');
    const msg = new Uint8Array([4, 5, 6]);
    const sig = Uint8Array.from(sign(null, msg, priv));
    expect(activeBackend()).toBe('native');
    try {
      usePrimitives({});
      expect(activeBackend()).toBe('noble');
      expect(verifySignature(pk, msg, sig)).toBe(true);
      expect(verifySignatureWith('noble', pk, msg, sig)).toBe(true);
      expect(verifySignatureWith('native', pk, msg, sig)).toBe(false);
    } finally {
      usePrimitives(nodePrimitives);
    }
    expect(verifySignatureWith('native', pk, msg, sig)).toBe(true);
  });
});

describe('keyIdOf', () => {
  it('is the lowercase hex SHA-256 of the raw key, as openssl computes it from the SPKI PEM', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const dir = mkdtempSync(join(tmpdir(), 'pinctl-ed25519-'));
    try {
      const pem = join(dir, 'key.pem');
      writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }));
      const out = execFileSync('sh', ['-c', 'openssl pkey -pubin -in "$1" -outform DER | tail -c 32 | openssl dgst -sha256', 'sh', pem], {
        encoding: 'utf8',
      });
      const expected = /([0-9a-f]{64})\s*$/.exec(out)?.[1];
      expect(expected).toBeDefined();
      const id = keyIdOf(rawPublicKey(publicKey));
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      expect(id).toBe(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hashes exactly the given bytes (usable in messages about rejected keys)', () => {
    const pk = seededKey('keyid').pk;
    expect(keyIdOf(pk)).toBe(createHash('sha256').update(pk).digest('hex'));
    expect(keyIdOf(new Uint8Array(31))).toBe(createHash('sha256').update(new Uint8Array(31)).digest('hex'));
  });
});
