/**
 * Inputs openssl reads that pins refused or misnamed: OpenSSL's traditional DSA key (PEM and DER),
 * a BER (indefinite-length) PKCS#7 in a DER file, PKCS#12 (refused, with the openssl command), PEM
 * saved as UTF-16. Pins are cross-checked with the openssl CLI.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { OPENSSL_PINS, pkiFile, readPki } from '../helpers/fixtures.js';

const env = { ...process.env, OPENSSL_CONF: '/dev/null' };
const openssl = (args: string[]) => execFileSync('openssl', args, { env, stdio: 'pipe' });
const sha256b64 = (der: Buffer) => execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der, env }).toString('base64');
let dir: string;
let dsaPin: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pinctl-readers-'));
  openssl(['dsaparam', '-genkey', '-out', join(dir, 'dsa-params-and-key.pem'), '1024']);
  openssl(['pkey', '-in', join(dir, 'dsa-params-and-key.pem'), '-traditional', '-out', join(dir, 'dsa.pem')]);
  openssl(['pkey', '-in', join(dir, 'dsa.pem'), '-outform', 'DER', '-out', join(dir, 'dsa.der')]);
  dsaPin = sha256b64(openssl(['pkey', '-in', join(dir, 'dsa.pem'), '-pubout', '-outform', 'DER']));
}, 60_000);

const pinsOf = (stdout: string) => (JSON.parse(stdout) as { spkiSha256: string }[]).map((p) => p.spkiSha256);

describe('readers', () => {
  it('DSA PRIVATE KEY PEM (OpenSSL traditional form): openssl\'s pin', async () => {
    expect(readFileSync(join(dir, 'dsa.pem'), 'utf8')).toContain('-----BEGIN DSA PRIVATE KEY-----');
    const r = await cli(['pins', '--json', join(dir, 'dsa.pem')]);
    expect(r.code, r.stderr).toBe(0);
    expect(pinsOf(r.stdout)).toEqual([dsaPin]);
  });

  it('a DSA private key in DER: openssl\'s pin', async () => {
    const r = await cli(['pins', '--json', join(dir, 'dsa.der')]);
    expect(r.code, r.stderr).toBe(0);
    expect(pinsOf(r.stdout)).toEqual([dsaPin]);
  });

  it('a BER (indefinite-length) PKCS#7 in a DER file: every certificate, openssl\'s pins', async () => {
    // chain.p7c with its ContentInfo and [0] re-written in indefinite form, as Windows exports it.
    const der = readPki('chain.p7c');
    const outer = tlv(der, 0);
    const [oid, explicit] = kids(der, outer);
    const inner = der.subarray(explicit!.content, explicit!.end);
    const ber = Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(oid!.start, oid!.end), Buffer.from([0xa0, 0x80]), inner, Buffer.from([0, 0, 0, 0])]);
    const file = join(dir, 'chain-ber.p7c');
    writeFileSync(file, ber);
    openssl(['pkcs7', '-inform', 'DER', '-in', file, '-print_certs', '-noout']); // openssl reads it
    const r = await cli(['pins', '--json', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(pinsOf(r.stdout)).toEqual(OPENSSL_PINS['chain.p7c']!.map((p) => p.spkiSha256));
  });

  it('PKCS#12: says so and gives the openssl command to extract the certificates', async () => {
    const file = join(dir, 'bundle.p12');
    openssl(['pkcs12', '-export', '-in', pkiFile('leaf.pem'), '-inkey', pkiFile('leaf.key'), '-passout', 'pass:secret', '-out', file]);
    const r = await cli(['pins', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: ${file}: this is a PKCS#12 (.p12/.pfx) bundle`);
    expect(r.stderr).toContain(`hint: extract the certificates first: openssl pkcs12 -in ${file} -nokeys -out certs.pem`);
  });

  it('PEM saved as UTF-16 (with or without a byte-order mark, either byte order): read as PEM', async () => {
    const pem = readPki('chain.pem').toString('utf8');
    const le = Buffer.from(pem, 'utf16le');
    const be = Buffer.from(le).swap16();
    const cases: [string, Buffer][] = [
      ['utf-16le with BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), le])],
      ['utf-16le', le],
      ['utf-16be with BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), be])],
    ];
    for (const [what, bytes] of cases) {
      const r = await cli(['pins', '--json', '-'], { stdin: bytes });
      expect(r.code, `${what}: ${r.stderr}`).toBe(0);
      expect(pinsOf(r.stdout), what).toEqual(OPENSSL_PINS['chain.pem']!.map((p) => p.spkiSha256));
    }
  });
});

function tlv(buf: Buffer, at: number) {
  const first = buf[at + 1]!;
  const n = first < 0x80 ? 0 : first & 0x7f;
  let len = first < 0x80 ? first : 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
  return { start: at, content: at + 2 + n, end: at + 2 + n + len };
}
function kids(buf: Buffer, parent: { content: number; end: number }) {
  const out = [];
  for (let p = parent.content; p < parent.end; p = out[out.length - 1]!.end) out.push(tlv(buf, p));
  return out;
}
