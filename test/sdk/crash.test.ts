/** A crash while saving a bundle: the last good file must survive (SPEC §4.10's rename). */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PinClient, PinctlError } from '../../src/sdk/index.js';
import type { Signer } from '../../src/bundle/sign.js';
import { AUDIENCE, NOW, PIN, b64, domain, newSigner, pinsPayload, sign, startService, tempDir, type Service } from './helpers.js';

const crash = vi.hoisted(() => ({ onRename: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fsp,
    rename: async (from: string, to: string) => {
      if (crash.onRename) throw Object.assign(new Error('simulated crash before rename'), { code: 'EIO' });
      return fsp.rename(from, to);
    },
  };
});

let svc: Service;
let dir: string;
let signer: Signer;
beforeEach(async () => {
  svc = await startService();
  dir = tempDir();
  signer = newSigner();
  crash.onRename = false;
});
afterEach(async () => {
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = () => new PinClient({ url: svc.url, publicKeys: [b64(signer.publicKey)], audience: AUDIENCE, storageDir: dir, now: () => NOW });
const pins = (version: number) => sign(pinsPayload({ version, domains: [domain('api.example.com', version === 1 ? [PIN.leaf, PIN.backup] : [PIN.leafNew, PIN.backup])] }), [signer]);

describe('saving the last good bundle', () => {
  it('survives a crash between writing the temporary file and the rename', async () => {
    svc.routes.set('/v1/bundles/pins', { body: pins(1) });
    await client().refresh();
    svc.routes.set('/v1/bundles/pins', { body: pins(2) });

    crash.onRename = true;
    const c = client();
    const err = await c.refresh().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PinctlError);
    expect(err).toMatchObject({ code: 'OUTPUT_UNWRITABLE' });
    expect(c.version).toBe(2); // verified, in force until restart

    // What a crash leaves: a truncated temporary file next to the intact last good one.
    writeFileSync(join(dir, '.pins.0123456789ab.tmp'), pins(2).subarray(0, 40));
    expect(readFileSync(join(dir, 'pins.json'))).toEqual(pins(1));
    const restarted = client();
    expect(restarted.version).toBe(1);
    expect(restarted.pinsFor('api.example.com')).toEqual([PIN.leaf, PIN.backup]);
    expect(readdirSync(dir)).toEqual(['pins.json']);

    crash.onRename = false;
    await expect(restarted.refresh()).resolves.toMatchObject({ pins: 'applied', version: 2 });
    expect(client().version).toBe(2);
  });

  it('retries a failed save on the next refresh even when the bundle is unchanged', async () => {
    svc.routes.set('/v1/bundles/pins', { body: pins(1) });
    crash.onRename = true;
    const c = client();
    await expect(c.refresh()).rejects.toMatchObject({ code: 'OUTPUT_UNWRITABLE' });
    crash.onRename = false;
    await expect(c.refresh()).resolves.toMatchObject({ pins: 'unchanged' });
    expect(client().version).toBe(1);
  });

  it('ignores a stored bundle that was tampered with', async () => {
    svc.routes.set('/v1/bundles/pins', { body: pins(1) });
    await client().refresh();
    const file = join(dir, 'pins.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/"sig": "(.)/, (_m, c: string) => `"sig": "${c === 'A' ? 'B' : 'A'}`));
    const c = client();
    expect(c.version).toBe(0);
    expect(c.status().restoreErrors).toEqual([expect.stringMatching(/^pins: expected valid signatures/)]);
  });
});
