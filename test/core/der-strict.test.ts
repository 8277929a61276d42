/**
 * A non-minimal (BER) length inside a SubjectPublicKeyInfo: OpenSSL reads the certificate and pins
 * its re-encoding, so hashing the bytes as sent would give a pin nobody else computes. pinctl must
 * give openssl's pin or refuse clearly; it refuses (the DER reader rejects non-minimal lengths and
 * every SPKI is cross-checked against the platform's re-encoding).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { readPki } from '../helpers/fixtures.js';

/** Just enough TLV walking to rebuild a certificate (written here, not taken from src/core). */
function tlv(buf: Buffer, at: number) {
  const first = buf[at + 1]!;
  const lenBytes = first < 0x80 ? 0 : first & 0x7f;
  let len = first < 0x80 ? first : 0;
  for (let i = 0; i < lenBytes; i++) len = len * 256 + buf[at + 2 + i]!;
  const content = at + 2 + lenBytes;
  return { tag: buf[at]!, content, end: content + len };
}
function encode(tag: number, body: Buffer, padded = false): Buffer {
  const n = body.length;
  let len: Buffer;
  if (padded) len = Buffer.from([0x82, n >> 8, n & 0xff]); // two length bytes even when one suffices
  else if (n < 0x80) len = Buffer.from([n]);
  else if (n < 0x100) len = Buffer.from([0x81, n]);
  else len = Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
function childrenOf(buf: Buffer, parent: { content: number; end: number }) {
  const out = [];
  for (let p = parent.content; p < parent.end; ) {
    const t = tlv(buf, p);
    out.push({ ...t, start: p });
    p = t.end;
  }
  return out;
}

/** leaf.der with the SPKI SEQUENCE's length written in a padded long form. */
function certWithPaddedSpkiLength(): Buffer {
  const der = readPki('leaf.der');
  const cert = tlv(der, 0);
  const [tbs, ...rest] = childrenOf(der, cert);
  const fields = childrenOf(der, tbs!);
  const spkiIndex = fields[0]!.tag === 0xa0 ? 6 : 5;
  const newFields = fields.map((f, i) =>
    i === spkiIndex ? encode(0x30, der.subarray(f.content, f.end), true) : der.subarray(f.start, f.end),
  );
  const newTbs = encode(0x30, Buffer.concat(newFields));
  return encode(0x30, Buffer.concat([newTbs, ...rest.map((r) => der.subarray(r.start, r.end))]));
}

function opensslPinOf(file: string, inform: 'DER' | 'PEM'): string | null {
  try {
    const pub = execFileSync('openssl', ['x509', '-inform', inform, '-in', file, '-noout', '-pubkey'], { stdio: 'pipe', encoding: 'utf8' });
    const der = Buffer.from(pub.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
    return execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64');
  } catch {
    return null;
  }
}

describe('non-minimal DER lengths in a SubjectPublicKeyInfo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pinctl-der-'));

  it('a certificate: openssl reads it and pins its re-encoding; pinctl refuses instead of a different pin', async () => {
    const file = join(dir, 'padded.der');
    writeFileSync(file, certWithPaddedSpkiLength());
    const theirs = opensslPinOf(file, 'DER');
    expect(theirs).not.toBeNull(); // openssl accepts the BER length
    const r = await cli(['pins', '--json', file]);
    const printed = JSON.parse(r.stdout || '[]') as { spkiSha256: string }[];
    // Either openssl's pin or a clear refusal: never a third pin.
    for (const p of printed) expect(p.spkiSha256).toBe(theirs);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*padded\.der: .*non-minimal DER length/m);
    expect(r.stderr).toMatch(/^hint: /m);
  });

  const pemOf = (der: Buffer) => `-----BEGIN PUBLIC KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END PUBLIC KEY-----\n`;

  it('a PUBLIC KEY PEM whose inner AlgorithmIdentifier length is padded: refused by the re-encoding cross-check', async () => {
    const spki = readPki('leaf-pub.der');
    const [alg, bits] = childrenOf(spki, tlv(spki, 0));
    const padded = encode(0x30, Buffer.concat([encode(0x30, spki.subarray(alg!.content, alg!.end), true), spki.subarray(bits!.start, bits!.end)]));
    const r = await cli(['pins', '--json', '-'], { stdin: Buffer.from(pemOf(padded)) });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual([]);
    expect(r.stderr).toMatch(/^error: stdin: PUBLIC KEY at line 1: the SubjectPublicKeyInfo is not in canonical DER/m);
    expect(r.stderr).toMatch(/^hint: /m);
  });

  it('a PUBLIC KEY PEM whose outer length is padded: refused with the reason, not pinned from the padded bytes', async () => {
    const spki = readPki('leaf-pub.der');
    const padded = encode(0x30, spki.subarray(tlv(spki, 0).content), true);
    const r = await cli(['pins', '--json', '-'], { stdin: Buffer.from(pemOf(padded)) });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual([]);
    expect(r.stderr).toMatch(/^error: stdin: PUBLIC KEY at line 1: non-minimal DER length/m);
    expect(r.stderr).toMatch(/^hint: /m);
  });
});
