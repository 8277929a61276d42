/** Issue 9 item 7: the SDK's storage directory and files, with real files (symlinks, modes, deletions). */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PinClient, StorageUnsafeError } from '../../src/sdk/index.js';
import { BundleStorage } from '../../src/sdk/storage.js';
import type { Signer } from '../../src/bundle/sign.js';
import { AUDIENCE, NOW, PIN, b64, domain, keysetPayload, newSigner, pinsPayload, sign, startService, tempDir, type Service } from './helpers.js';

const DOMAINS = [domain('api.example.com', [PIN.leaf, PIN.backup])];
const ATTACK = [domain('api.example.com', [PIN.intermediate, PIN.root])];
const BASELINE = { 'api.example.com': { pins: [PIN.leafNew, PIN.backup] } };
let dir: string;

beforeEach(() => {
  dir = tempDir();
});
afterEach(() => {
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

describe('the storage directory', () => {
  it('group or world writable is refused with a typed error and a hint', () => {
    for (const mode of [0o770, 0o702, 0o777]) {
      chmodSync(dir, mode);
      const err = (() => {
        try {
          new BundleStorage(dir, 1024);
        } catch (e) {
          return e;
        }
      })();
      expect(err, mode.toString(8)).toBeInstanceOf(StorageUnsafeError);
      expect((err as StorageUnsafeError).code).toBe('STORAGE_UNSAFE');
      expect((err as StorageUnsafeError).message).toContain(`found mode ${mode.toString(8)}`);
      expect((err as StorageUnsafeError).hint).toBe(`run: chmod 700 ${dir}`);
    }
    chmodSync(dir, 0o755);
    expect(() => new BundleStorage(dir, 1024)).not.toThrow();
  });

  it('a symbolic link instead of the directory is refused', () => {
    const link = `${dir}-link`;
    symlinkSync(dir, link);
    try {
      expect(() => new BundleStorage(link, 1024)).toThrow(/expected a directory, found a symbolic link/);
    } finally {
      unlinkSync(link);
    }
  });

  it.runIf(process.getuid?.() === 0)('a directory owned by another user is refused (needs root to chown)', () => {
    chownSync(dir, 1, 1);
    expect(() => new BundleStorage(dir, 1024)).toThrow(/owned by this process's user \(uid 0\), found uid 1/);
    chownSync(dir, 0, 0);
  });

  it('a new nested directory is created 0700', () => {
    const nested = join(dir, 'a', 'b');
    new BundleStorage(nested, 1024);
    expect(execFileSync('stat', ['-c', '%a', nested], { encoding: 'utf8' }).trim()).toBe('700');
  });
});

describe('stored files', () => {
  const content = new Uint8Array(Buffer.from('{"x":1}'));
  it('reads a regular file, up to maxBytes', () => {
    writeFileSync(join(dir, 'pins.json'), content);
    expect(new BundleStorage(dir, 7).read('pins')).toEqual(content);
    expect(new BundleStorage(dir, 6).read('pins')).toBeUndefined();
  });
  it('never follows a symbolic link, never reads a directory or a FIFO', () => {
    writeFileSync(join(dir, 'elsewhere'), content);
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'pins.json'));
    mkdirSync(join(dir, 'trust-roots.json'));
    execFileSync('mkfifo', [join(dir, 'keyset-1.json')]);
    const s = new BundleStorage(dir, 1024);
    expect(s.read('pins')).toBeUndefined();
    expect(s.read('trust-roots')).toBeUndefined();
    expect(s.read('keyset-1')).toBeUndefined(); // returns at once: opened non-blocking
  });
});

describe('deleted files fall back to the baseline, never to a bundle of a retired key', () => {
  let svc: Service;
  let root: Signer, stolen: Signer, fresh: Signer;
  beforeEach(async () => {
    svc = await startService();
    [root, stolen, fresh] = [newSigner(), newSigner(), newSigner()];
  });
  afterEach(() => svc.close());
  const client = () => new PinClient({ url: svc.url, rootKeys: [b64(root.publicKey)], trustExpires: '2027-06-01', audience: AUDIENCE, storageDir: dir, baseline: BASELINE, now: () => NOW });
  const keyset = (v: number, k: Signer) => sign(keysetPayload({ version: v, keys: [k.publicKey] }), [root]);

  async function recovered(): Promise<Buffer> {
    svc.routes.set('/v1/keyset/1', { body: keyset(1, stolen) });
    svc.routes.set('/v1/bundles/pins', { body: sign(pinsPayload({ version: Number.MAX_SAFE_INTEGER, domains: ATTACK, expiresAt: '2027-01-01T00:00:00Z' }), [stolen]) });
    await client().refresh();
    const attackerFile = readFileSync(join(dir, 'pins.json'));
    svc.routes.set('/v1/keyset/2', { body: keyset(2, fresh) });
    svc.routes.set('/v1/bundles/pins', { body: sign(pinsPayload({ version: 10, domains: DOMAINS }), [fresh]) });
    await expect(client().refresh()).resolves.toMatchObject({ version: 10, keysetVersion: 2 });
    return attackerFile;
  }

  it('every file deleted: the baseline pins', async () => {
    await recovered();
    for (const f of ['pins.json', 'keyset-1.json', 'keyset-2.json']) rmSync(join(dir, f));
    const c = client();
    expect(c.status()).toMatchObject({ pins: null, keysetVersion: 0 });
    expect(c.pinsFor('api.example.com')).toEqual([PIN.leafNew, PIN.backup]);
  });

  it('the recovery keyset deleted: the new pins no longer verify, the baseline applies (not the stolen key)', async () => {
    await recovered();
    rmSync(join(dir, 'keyset-2.json'));
    const c = client();
    expect(c.status()).toMatchObject({ pins: null, keysetVersion: 1 });
    expect(c.pinsFor('api.example.com')).toEqual([PIN.leafNew, PIN.backup]);
  });

  it('the attacker’s old pins file put back: dropped again at start-up and deleted', async () => {
    const attackerFile = await recovered();
    writeFileSync(join(dir, 'pins.json'), attackerFile);
    const c = client();
    expect(c.status()).toMatchObject({ pins: null, keysetVersion: 2 });
    expect(c.pinsFor('api.example.com')).toEqual([PIN.leafNew, PIN.backup]);
    await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(dir, 'pins.json'))).toBe(false);
  });

  it('a symbolic link to the attacker’s pins is not followed', async () => {
    const attackerFile = await recovered();
    rmSync(join(dir, 'pins.json'));
    const outside = `${dir}-attacker.json`;
    writeFileSync(outside, attackerFile);
    symlinkSync(outside, join(dir, 'pins.json'));
    try {
      expect(client().status()).toMatchObject({ pins: null, keysetVersion: 2 });
    } finally {
      rmSync(outside);
    }
  });
});
