/**
 * The last good bundles on disk (SPEC §4.10). Every write goes to a temporary file that is fsynced
 * and then renamed over the old one, so a crash leaves either the old or the new file, never half.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, readdirSync, unlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { StorageUnsafeError } from './errors.js';

const TEMP = /^\..+\.tmp$/;

export class BundleStorage {
  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    checkDirectory(dir);
    // Temporary files are only ever leftovers of an interrupted write.
    for (const f of readdirSync(dir)) if (TEMP.test(f)) tryUnlink(join(dir, f));
  }

  /**
   * Synchronous so a new client has its last good bundle before its first request. Issue 9 item 7:
   * never follows a symbolic link, reads regular files only, and never more than maxBytes.
   */
  read(name: string): Uint8Array | undefined {
    let fd: number;
    try {
      fd = openSync(join(this.dir, `${name}.json`), constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
    } catch {
      return undefined; // missing, or a symbolic link (ELOOP)
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > this.maxBytes) return undefined;
      const buf = new Uint8Array(this.maxBytes + 1);
      let n = 0;
      for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
      return n > this.maxBytes ? undefined : buf.slice(0, n);
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
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

/**
 * Issue 9 item 7: whoever can write the directory can plant a bundle or delete the keyset chain, so
 * it must be a real directory owned by this process's user and writable by nobody else.
 */
function checkDirectory(dir: string): void {
  const st = lstatSync(dir);
  const fix = `chmod 700 ${dir}`;
  if (!st.isDirectory()) {
    throw new StorageUnsafeError(`storageDir ${dir}: expected a directory, found ${st.isSymbolicLink() ? 'a symbolic link' : 'another kind of file'}`, 'give the path of a real directory the app owns (not a symbolic link)');
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new StorageUnsafeError(`storageDir ${dir}: expected a directory owned by this process's user (uid ${uid}), found uid ${st.uid}`, `use a directory of the app's own, or chown it to uid ${uid}`);
  }
  if (process.platform !== 'win32' && (st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw new StorageUnsafeError(`storageDir ${dir}: expected no group or world write permission, found mode ${mode}`, `run: ${fix}`);
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
