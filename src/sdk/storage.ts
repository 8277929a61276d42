/**
 * The last good bundles on disk (SPEC §4.10). Every write goes to a temporary file that is fsynced
 * and then renamed over the old one, so a crash leaves either the old or the new file, never half.
 */
import { mkdirSync, readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

const TEMP = /^\..+\.tmp$/;

export class BundleStorage {
  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Temporary files are only ever leftovers of an interrupted write.
    for (const f of readdirSync(dir)) if (TEMP.test(f)) tryUnlink(join(dir, f));
  }

  /** Synchronous so a new client has its last good bundle before its first request. */
  read(name: string): Uint8Array | undefined {
    const file = join(this.dir, `${name}.json`);
    try {
      if (statSync(file).size > this.maxBytes) return undefined;
      return new Uint8Array(readFileSync(file));
    } catch {
      return undefined;
    }
  }

  /** SPEC §7.6: a dropped bundle's file goes; a missing one is fine. */
  async remove(name: string): Promise<void> {
    try {
      await unlink(join(this.dir, `${name}.json`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await syncDir(this.dir);
  }

  async write(name: string, bytes: Uint8Array): Promise<void> {
    const file = join(this.dir, `${name}.json`);
    const temp = join(this.dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const fh = await open(temp, 'wx', 0o600);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, file);
    } catch (e) {
      await unlink(temp).catch(() => {});
      throw e;
    }
    await syncDir(this.dir);
  }
}

/** Makes the rename itself durable; some platforms (Windows) cannot open a directory for this. */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF', 'EACCES'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    await fh?.close();
  }
}

function tryUnlink(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* another process may own it; harmless */
  }
}
