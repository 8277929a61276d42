/**
 * `pinctl bundle verify --root-key`: SPEC §7 on the command line. The keys and bundles are made by
 * `keys generate` and `bundle create`; each verdict is the one SPEC §7 states for the case (the
 * signed-by key ids are cross-checked against `keys generate`'s own output, not recomputed here).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { pinsJson, PIN, tempDir } from './helpers.js';

const APP = 'com.example.app';

async function keys(dir: string, role: 'root' | 'signing', name: string): Promise<{ pub: string; key: string; keyid: string }> {
  const r = await cli(['keys', 'generate', '--role', role, '--out', join(dir, name)]);
  expect(r.code, r.stderr).toBe(0);
  const base = join(dir, name, `pinctl-${role}`);
  return { pub: `${base}.pub.pem`, key: `${base}.key`, keyid: r.stdout.trim() };
}

async function create(dir: string, file: string, args: string[]): Promise<string> {
  const r = await cli(['bundle', 'create', '--audience', APP, '--expires-in', '30d', ...args]);
  expect(r.code, r.stderr).toBe(0);
  const path = join(dir, file);
  writeFileSync(path, r.stdout);
  return path;
}

async function setup() {
  const dir = tempDir();
  const root = await keys(dir, 'root', 'root');
  const stolen = await keys(dir, 'signing', 'stolen');
  const fresh = await keys(dir, 'signing', 'fresh');
  mkdirSync(join(dir, 'history'));
  const ks1 = await create(dir, 'history/000001.json', ['--keyset', stolen.pub, '--key', root.key, '--version', '1']);
  const ks2 = await create(dir, 'history/000002.json', ['--keyset', fresh.pub, '--key', root.key, '--version', '2']);
  const pinsFile = join(dir, 'pins.json');
  writeFileSync(pinsFile, pinsJson([{ domain: 'api.pinctl.test', pins: [PIN.intermediate, PIN.root, PIN.backup], endpoints: [{ host: 'api.pinctl.test', port: 443, addresses: ['127.0.0.1'] }] }]));
  const byFresh = await create(dir, 'pins-fresh.json', ['--pins', pinsFile, '--key', fresh.key, '--version', '3']);
  const byStolen = await create(dir, 'pins-stolen.json', ['--pins', pinsFile, '--key', stolen.key, '--version', '9007199254740991']);
  return { dir, root, stolen, fresh, ks1, ks2, byFresh, byStolen };
}

describe('pinctl bundle verify --root-key (SPEC §7)', () => {
  it('a keyset signed by the root key is valid (0); the JSON names the root key and the chain', async () => {
    const t = await setup();
    const r = await cli(['bundle', 'verify', t.ks1, '--root-key', t.root.pub, '--audience', APP, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: true, mode: 'roles', type: 'keyset', version: 1, signedBy: [t.root.keyid], keysets: [1] });
  });

  it('a keyset signed only by a signing key is refused (1, SignatureError): signing keys cannot name keys (§7.3.2)', async () => {
    const t = await setup();
    const forged = await create(t.dir, 'forged.json', ['--keyset', t.stolen.pub, '--key', t.stolen.key, '--version', '2']);
    const r = await cli(['bundle', 'verify', forged, '--root-key', t.root.pub, '--keyset', t.ks1, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: false, exitCode: 1, error: { code: 'BUNDLE_SIGNATURE' } });
  });

  it('pins under the newest keyset of a history directory: the new key is valid, the stolen key refused after rotation', async () => {
    const t = await setup();
    const ok = await cli(['bundle', 'verify', t.byFresh, '--root-key', t.root.pub, '--keyset', join(t.dir, 'history'), '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, type: 'pins', version: 3, signedBy: [t.fresh.keyid], keysets: [1, 2] });
    const bad = await cli(['bundle', 'verify', t.byStolen, '--root-key', t.root.pub, '--keyset', join(t.dir, 'history')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: /m);
    // Under keyset v1 alone the stolen key was the signing key; the same bytes were valid then.
    const before = await cli(['bundle', 'verify', t.byStolen, '--root-key', t.root.pub, '--keyset', t.ks1]);
    expect(before.code, before.stderr).toBe(0);
  });

  it('a keyset checked alone from v2 says where it started; a gap in the chain is refused', async () => {
    const t = await setup();
    const alone = await cli(['bundle', 'verify', t.ks2, '--root-key', t.root.pub]);
    expect(alone.code, alone.stderr).toBe(0);
    expect(alone.stderr).toMatch(/started at keyset v2/);
    const gap = await cli(['bundle', 'verify', t.byFresh, '--root-key', t.root.pub, '--keyset', t.ks2, '--keyset', t.ks1]);
    expect(gap.code).toBe(1);
    expect(gap.stderr).toMatch(/expected exactly 3/);
  });

  it('usage errors (2): pins without --keyset, both key kinds, a bad --trust-expires; an expired root role is refused (1)', async () => {
    const t = await setup();
    const noChain = await cli(['bundle', 'verify', t.byFresh, '--root-key', t.root.pub]);
    expect(noChain.code).toBe(2);
    expect(noChain.stderr).toMatch(/expected --keyset/);
    expect(noChain.stderr).toMatch(/^hint: /m);
    const both = await cli(['bundle', 'verify', t.ks1, '--root-key', t.root.pub, '--public-key', t.fresh.pub]);
    expect(both.code).toBe(2);
    const date = await cli(['bundle', 'verify', t.ks1, '--root-key', t.root.pub, '--trust-expires', 'next year']);
    expect(date.code).toBe(2);
    const frozen = await cli(['bundle', 'verify', t.ks1, '--root-key', t.root.pub, '--trust-expires', '2020-01-01', '--json']);
    expect(frozen.code).toBe(1);
    expect(JSON.parse(frozen.stdout).error.code).toBe('BUNDLE_TRUST_EXPIRED');
  });
});
