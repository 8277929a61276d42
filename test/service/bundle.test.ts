/** `pinctl bundle create | sign | verify | inspect`, and interoperability with openssl both ways. */
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { pkiFile } from '../helpers/fixtures.js';
import { keyPair, NOW, pinsJson, PIN, tempDir } from './helpers.js';

const PINS_TYPE = 'application/vnd.pinctl.pins.v1+json';

function setup() {
  const dir = tempDir();
  const k = keyPair();
  const pins = join(dir, 'pins.json');
  writeFileSync(pins, pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.root, PIN.backup], endpoints: [{ host: 'api.pinctl.test', port: 443, addresses: ['127.0.0.1'] }] }]));
  return { dir, k, pins };
}

async function create(args: string[]) {
  const r = await cli(['bundle', 'create', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** SPEC §1.2, written out independently of src/bundle/pae.ts. */
function paeOf(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type, 'utf8')} ${type} ${body.length} `, 'utf8'), body]);
}

describe('bundle create → verify', () => {
  it('signs a pins bundle that verifies (0), with the payload SPEC §3.1 describes', async () => {
    const { dir, k, pins } = setup();
    const out = await create(['--pins', pins, '--key', k.key, '--version', '7', '--expires-in', '7d', '--audience', 'com.example.app']);
    const env = JSON.parse(out);
    expect(Object.keys(env)).toEqual(['payloadType', 'payload', 'signatures']);
    expect(env.payloadType).toBe(PINS_TYPE);
    expect(env.signatures).toEqual([{ keyid: k.keyid, sig: expect.any(String) }]);
    const payload = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
    expect(payload).toEqual({
      type: 'pins',
      audience: 'com.example.app',
      version: 7,
      issuedAt: '2026-06-01T00:00:00Z',
      expiresAt: '2026-06-08T00:00:00Z',
      domains: [{ domain: 'api.pinctl.test', includeSubdomains: false, pins: [PIN.intermediate, PIN.root, PIN.backup] }],
    });
    const file = join(dir, 'b.json');
    writeFileSync(file, out);
    const v = await cli(['bundle', 'verify', file, '--public-key', k.pubPem, '--audience', 'com.example.app']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^valid: pins v7 for com\.example\.app: 1 domain/);
    // Every public key form works: .pub JSON, PEM.
    expect((await cli(['bundle', 'verify', file, '--public-key', k.pub, '--type', 'pins', '--json'])).code).toBe(0);
  });

  it('accepts 30m and 12h; refuses bad durations, versions and a missing mode (exit 2)', async () => {
    const { k, pins } = setup();
    const p30 = JSON.parse(Buffer.from(JSON.parse(await create(['--pins', pins, '--key', k.key, '--version', '1', '--expires-in', '30m', '--audience', 'a'])).payload, 'base64').toString());
    expect(p30.expiresAt).toBe('2026-06-01T00:30:00Z');
    const p12 = JSON.parse(Buffer.from(JSON.parse(await create(['--pins', pins, '--key', k.key, '--version', '1', '--expires-in', '12h', '--audience', 'a'])).payload, 'base64').toString());
    expect(p12.expiresAt).toBe('2026-06-01T12:00:00Z');
    for (const bad of [
      ['--pins', pins, '--key', k.key, '--version', '1', '--expires-in', '7x', '--audience', 'a'],
      ['--pins', pins, '--key', k.key, '--version', '0', '--audience', 'a'],
      ['--pins', pins, '--key', k.key, '--version', '1.5', '--audience', 'a'],
      ['--key', k.key, '--version', '1', '--audience', 'a'],
      ['--pins', pins, '--trust-roots', pins, '--key', k.key, '--version', '1', '--audience', 'a'],
      ['--pins', pins, '--version', '1', '--audience', 'a'],
    ]) {
      const r = await cli(['bundle', 'create', ...bad]);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error: /m);
      expect(r.stdout).toBe('');
    }
  });

  it('refuses a domain with fewer than two distinct pins, naming it, with a hint to add a backup (exit 2)', async () => {
    const { dir, k } = setup();
    const pins = join(dir, 'one.json');
    writeFileSync(pins, pinsJson([
      { domain: 'ok.pinctl.test', pins: [PIN.intermediate, PIN.backup] },
      { domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.intermediate] },
    ]));
    const r = await cli(['bundle', 'create', '--pins', pins, '--key', k.key, '--version', '1', '--audience', 'a']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*domain api\.pinctl\.test has 1 distinct pin, a signed pin set needs at least two per domain/m);
    expect(r.stderr).toMatch(/^hint: add a backup pin for api\.pinctl\.test/m);
    expect(r.stdout).toBe('');
  });

  it('writes --out instead of stdout', async () => {
    const { dir, k, pins } = setup();
    const out = join(dir, 'out.json');
    const r = await cli(['bundle', 'create', '--pins', pins, '--key', k.key, '--version', '1', '--audience', 'a', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(JSON.parse(readFileSync(out, 'utf8')).payloadType).toBe(PINS_TYPE);
  });

  it('makes a trust-roots bundle from PEM roots, refusing non-roots', async () => {
    const { dir, k } = setup();
    const out = await create(['--trust-roots', pkiFile('roots.pem'), '--key', k.key, '--version', '3', '--audience', 'a']);
    const file = join(dir, 'roots.json');
    writeFileSync(file, out);
    const payload = JSON.parse(Buffer.from(JSON.parse(out).payload, 'base64').toString());
    expect(payload.roots.map((r: { name: string; spkiSha256: string }) => [r.name, r.spkiSha256])).toEqual([
      ['pinctl Test Root CA', PIN.root],
      ['pinctl Test Root CA RSA', expect.any(String)],
    ]);
    expect((await cli(['bundle', 'verify', file, '--public-key', k.pubPem, '--type', 'trust-roots'])).code).toBe(0);
    const bad = await cli(['bundle', 'create', '--trust-roots', pkiFile('chain.pem'), '--key', k.key, '--version', '3', '--audience', 'a']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/expected a root \(self-issued CA\) certificate/);
  });
});

describe('bundle verify verdicts', () => {
  async function signed() {
    const s = setup();
    const out = await create(['--pins', s.pins, '--key', s.k.key, '--version', '5', '--audience', 'app']);
    return { ...s, env: JSON.parse(out), text: out };
  }

  it('exit 1 for a tampered payload, a foreign key, another audience, the wrong type, an expired bundle', async () => {
    const { dir, k, env, text } = await signed();
    const tampered = { ...env, payload: Buffer.from(Buffer.from(env.payload, 'base64').toString().replace('"version":5', '"version":6')).toString('base64') };
    const t = join(dir, 't.json');
    writeFileSync(t, JSON.stringify(tampered));
    let r = await cli(['bundle', 'verify', t, '--public-key', k.pubPem]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: expected valid signatures by 1 of the trusted key/m);

    const good = join(dir, 'g.json');
    writeFileSync(good, text);
    const other = keyPair();
    r = await cli(['bundle', 'verify', good, '--public-key', other.pubPem]);
    expect(r.code).toBe(1);
    r = await cli(['bundle', 'verify', good, '--public-key', k.pubPem, '--audience', 'other.app']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: expected audience "other\.app", found "app"/m);
    r = await cli(['bundle', 'verify', good, '--public-key', k.pubPem, '--type', 'trust-roots']);
    expect(r.code).toBe(1);
    r = await cli(['bundle', 'verify', good, '--public-key', k.pubPem], { now: new Date('2026-07-01T00:00:00Z') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: bundle expired at 2026-06-08/m);
  });

  it('exit 2 for garbage, a missing file, a bad key file', async () => {
    const { dir, k, text } = await signed();
    const garbage = join(dir, 'garbage.json');
    writeFileSync(garbage, 'this is not a bundle\n');
    let r = await cli(['bundle', 'verify', garbage, '--public-key', k.pubPem]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: /m);
    const notEnvelope = join(dir, 'obj.json');
    writeFileSync(notEnvelope, '{"payload": "x"}');
    expect((await cli(['bundle', 'verify', notEnvelope, '--public-key', k.pubPem])).code).toBe(2);
    const good = join(dir, 'g.json');
    writeFileSync(good, text);
    expect((await cli(['bundle', 'verify', join(dir, 'missing.json'), '--public-key', k.pubPem])).code).toBe(2);
    expect((await cli(['bundle', 'verify', good, '--public-key', join(dir, 'missing.pem')])).code).toBe(2);
    expect((await cli(['bundle', 'verify', good, '--public-key', garbage])).code).toBe(2);
    r = await cli(['bundle', 'verify', good, '--public-key', k.key]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected a public key, found a private key/);
  });

  it('--state refuses a rollback and a replayed version, and is updated on success', async () => {
    const { dir, k, pins } = setup();
    const state = join(dir, 'state.json');
    const v = async (version: string) => {
      const f = join(dir, `v${version}-${Math.random()}.json`);
      writeFileSync(f, await create(['--pins', pins, '--key', k.key, '--version', version, '--audience', 'app']));
      return f;
    };
    const v2 = await v('2');
    expect((await cli(['bundle', 'verify', v2, '--public-key', k.pubPem, '--state', state])).code).toBe(0);
    expect(JSON.parse(readFileSync(state, 'utf8')).accepted.pins.app.version).toBe(2);
    // The same bytes again: unchanged, still valid.
    const again = await cli(['bundle', 'verify', v2, '--public-key', k.pubPem, '--state', state]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('unchanged');
    // Same version, other content (signed a second later).
    const replay = await cli(['bundle', 'create', '--pins', pins, '--key', k.key, '--version', '2', '--audience', 'app', '--expires-in', '8d']);
    const rf = join(dir, 'replay.json');
    writeFileSync(rf, replay.stdout);
    let r = await cli(['bundle', 'verify', rf, '--public-key', k.pubPem, '--state', state]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already accepted with other content/);
    const v1 = await v('1');
    r = await cli(['bundle', 'verify', v1, '--public-key', k.pubPem, '--state', state]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: version 1 is older than the accepted version 2/m);
    const v3 = await v('3');
    expect((await cli(['bundle', 'verify', v3, '--public-key', k.pubPem, '--state', state])).code).toBe(0);
    expect(JSON.parse(readFileSync(state, 'utf8')).accepted.pins.app.version).toBe(3);
    writeFileSync(state, 'nope');
    expect((await cli(['bundle', 'verify', v3, '--public-key', k.pubPem, '--state', state])).code).toBe(2);
  });
});

describe('keysets and bundle sign', () => {
  it('a rotation keyset signed by the old and the new key verifies; signed by one only it does not', async () => {
    const { dir } = setup();
    const oldK = keyPair();
    const newK = keyPair();
    const one = await cli(['bundle', 'create', '--keyset', oldK.pub, newK.pubPem, '--key', oldK.key, '--version', '1', '--audience', 'app']);
    expect(one.code).toBe(0);
    const f = join(dir, 'ks.json');
    writeFileSync(f, one.stdout);
    // Signed by old only: the new keyset's own threshold is met by old (it is in the keyset), so valid.
    expect((await cli(['bundle', 'verify', f, '--public-key', oldK.pubPem])).code).toBe(0);

    // Replace old by new: v2 = {new}, must be signed by old (current) and by new (SPEC §5.5).
    const ks2 = await cli(['bundle', 'create', '--keyset-keys', newK.pub, '--key', oldK.key, '--version', '2', '--audience', 'app']);
    expect(ks2.stderr).toMatch(/^warning: 0 of the new keys signed, clients need 1/m);
    const f2 = join(dir, 'ks2.json');
    writeFileSync(f2, ks2.stdout);
    let r = await cli(['bundle', 'verify', f2, '--public-key', oldK.pubPem]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/new keyset/);

    r = await cli(['bundle', 'sign', f2, '--key', newK.key, '--out', f2]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(f2, 'utf8')).signatures.map((s: { keyid: string }) => s.keyid)).toEqual([oldK.keyid, newK.keyid]);
    r = await cli(['bundle', 'verify', f2, '--public-key', oldK.pubPem, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: true, type: 'keyset', version: 2 });

    // Signing twice with one key is refused.
    r = await cli(['bundle', 'sign', f2, '--key', newK.key]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already signed by key/);
    // --state: keysets advance one version at a time.
    const state = join(dir, 'ks-state.json');
    writeFileSync(state, JSON.stringify({ format: 'pinctl.verify-state.v1', accepted: { keyset: { app: { version: 0, payloadSha256: '' } } } }));
    r = await cli(['bundle', 'verify', f2, '--public-key', oldK.pubPem, '--state', state]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/expected exactly 1/);
  });

  it('refuses a keyset with a threshold above its key count', async () => {
    const k = keyPair();
    const r = await cli(['bundle', 'create', '--keyset', k.pub, '--threshold', '2', '--key', k.key, '--version', '1', '--audience', 'app']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--threshold 2: expected an integer from 1 to 1/);
  });
});

describe('bundle inspect', () => {
  it('prints payloadType, key ids and the payload, and says it did not verify', async () => {
    const { dir, k, pins } = setup();
    const f = join(dir, 'b.json');
    writeFileSync(f, await create(['--pins', pins, '--key', k.key, '--version', '4', '--audience', 'app']));
    let r = await cli(['bundle', 'inspect', f]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`payloadType  ${PINS_TYPE} (pins)`);
    expect(r.stdout).toContain(`keyid ${k.keyid}`);
    expect(r.stdout).toContain('"version": 4');
    expect(r.stderr).toMatch(/not verified/);
    r = await cli(['bundle', 'inspect', f, '--json']);
    const o = JSON.parse(r.stdout);
    expect(o).toMatchObject({ verified: false, payloadType: PINS_TYPE, type: 'pins', signatures: [{ keyid: k.keyid }], payload: { version: 4 } });
    writeFileSync(f, '[]');
    expect((await cli(['bundle', 'inspect', f])).code).toBe(2);
  });
});

describe('interoperability with openssl (SPEC §1.2)', () => {
  it('a signature pinctl made verifies with openssl pkeyutl -verify -rawin over an independently built PAE', async () => {
    const { dir, k, pins } = setup();
    const env = JSON.parse(await create(['--pins', pins, '--key', k.key, '--version', '9', '--audience', 'app']));
    const pae = join(dir, 'pae.bin');
    const sig = join(dir, 'sig.bin');
    writeFileSync(pae, paeOf(env.payloadType, Buffer.from(env.payload, 'base64')));
    writeFileSync(sig, Buffer.from(env.signatures[0].sig, 'base64'));
    const ok = spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', k.pubPem, '-rawin', '-in', pae, '-sigfile', sig], { encoding: 'utf8' });
    expect(ok.status, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/Signature Verified Successfully/);
    // One byte of the PAE changed: openssl refuses too.
    const bytes = readFileSync(pae);
    bytes[bytes.length - 2] ^= 1;
    writeFileSync(pae, bytes);
    expect(spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', k.pubPem, '-rawin', '-in', pae, '-sigfile', sig]).status).not.toBe(0);
  });

  it('an envelope signed by openssl pkeyutl -sign -rawin verifies with pinctl bundle verify', async () => {
    const dir = tempDir();
    const key = join(dir, 'key.pem');
    const pub = join(dir, 'pub.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key]);
    execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
    const payload = Buffer.from(
      JSON.stringify({
        type: 'pins',
        audience: 'com.example.app',
        version: 3,
        issuedAt: '2026-05-31T00:00:00Z',
        expiresAt: '2026-06-07T00:00:00Z',
        domains: [{ domain: 'api.pinctl.test', includeSubdomains: true, pins: [PIN.intermediate, PIN.backup] }],
      }),
    );
    const pae = join(dir, 'pae.bin');
    const sig = join(dir, 'sig.bin');
    writeFileSync(pae, paeOf(PINS_TYPE, payload));
    execFileSync('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', key, '-in', pae, '-out', sig]);
    const env = { payloadType: PINS_TYPE, payload: payload.toString('base64'), signatures: [{ keyid: '', sig: readFileSync(sig).toString('base64') }] };
    const f = join(dir, 'env.json');
    writeFileSync(f, JSON.stringify(env));
    const r = await cli(['bundle', 'verify', f, '--public-key', pub, '--audience', 'com.example.app', '--type', 'pins']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^valid: pins v3 for com\.example\.app/);
    // The same signature over another payloadType does not verify (the type is inside the PAE).
    writeFileSync(f, JSON.stringify({ ...env, payloadType: 'application/vnd.pinctl.trust-roots.v1+json' }));
    expect((await cli(['bundle', 'verify', f, '--public-key', pub])).code).toBe(1);
    void NOW;
  });
});
