import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { OPENSSL_PINS, opensslPin, pkiFile, readPki } from '../helpers/fixtures.js';

describe('pinctl pins', () => {
  it('--json prints one object per certificate or key with the openssl pins', async () => {
    const r = await cli(['pins', '--json', pkiFile('fullchain.pem'), pkiFile('backup.key')]);
    expect(r.code).toBe(0);
    const arr = JSON.parse(r.stdout);
    expect(arr.map((o: { spkiSha256: string }) => o.spkiSha256)).toEqual([...OPENSSL_PINS['fullchain.pem']!.map((p) => p.spkiSha256), opensslPin('backup.key')]);
    for (const key of ['subject', 'issuer', 'notBefore', 'notAfter', 'spkiSha256', 'sha256Fingerprint']) expect(arr[0]).toHaveProperty(key);
    expect(arr[0].sha256Fingerprint).toBe(OPENSSL_PINS['fullchain.pem']![0]!.sha256Fingerprint);
    expect(arr[3]).toMatchObject({ kind: 'private-key', subject: null });
    expect(r.stderr).toBe('');
  });
  it('human output names subject, issuer, validity, key and pin', async () => {
    const r = await cli(['pins', pkiFile('leaf.pem')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('CN=api.pinctl.test');
    expect(r.stdout).toContain('2025-06-01 → 2036-01-01');
    expect(r.stdout).toContain('EC P-256');
    expect(r.stdout).toContain(opensslPin('leaf.pem'));
  });
  it('reads stdin with -', async () => {
    const r = await cli(['pins', '--json', '-'], { stdin: readPki('chain.p7b') });
    expect(JSON.parse(r.stdout).map((o: { spkiSha256: string }) => o.spkiSha256)).toEqual(OPENSSL_PINS['chain.p7b']!.map((p) => p.spkiSha256));
  });
  it('a bad file is a one-line error, exit 2, and the other files still print', async () => {
    const r = await cli(['pins', '--json', '/nonexistent/x.pem', pkiFile('leaf.pem')]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: \/nonexistent\/x.pem: cannot read it \(ENOENT\)\nhint: check the path\n$/);
  });
  it('truncated PEM names the file and the problem', async () => {
    const r = await cli(['pins', '-'], { stdin: readPki('leaf.pem').subarray(0, 300) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: stdin: line 1: the CERTIFICATE block has no "-----END CERTIFICATE-----" line/);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  });
  it('usage errors exit 2', async () => {
    expect((await cli(['pins'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli([])).code).toBe(2);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
  });
});
