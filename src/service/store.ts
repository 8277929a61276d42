/**
 * The embedded store: plain files in one directory, no database.
 *
 *   DIR/config.json                  {"audience": "com.example.app"}
 *   DIR/keys.json                    the GET /v1/keys document of the running service
 *   DIR/counters/pins.json           {"type": "pins", "version": 7}: highest version ever reserved
 *   DIR/current/pins.json            the envelope GET /v1/bundles/pins serves
 *   DIR/history/pins/000007.json     every published envelope, never overwritten
 *   DIR/history/keyset/000002.json   (GET /v1/keyset/2)
 *   DIR/publish.log, DIR/reports.log JSON lines
 *   DIR/.lock                        pid of the serve process using DIR
 *
 * A version is reserved (counter written durably) before its history file and current file are
 * written, so a crash at any point can burn a version number but never reuse one. On open, the
 * floor of each type is the highest of the counter, every history file name and the current
 * file: losing any one of them (the current file, say) never lowers it.
 */
import { makeDirs } from '../make-dirs.js';
import { closeSync, existsSync, fsyncSync, linkSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, realpathSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { parseEnvelope } from '../bundle/envelope.js';
import { payloadHeader } from '../bundle/payload.js';
import { BundleType, PAYLOAD_TYPES } from '../bundle/types.js';
import { fsyncDir, writeFileAtomic, writeFileExclusive } from '../durable-write.js';

export const BUNDLE_TYPES: readonly BundleType[] = ['pins', 'trust-roots', 'keyset'];

export interface StoredBundle {
  type: BundleType;
  version: number;
  bytes: Uint8Array;
}

export interface StoreConfig {
  audience?: string;
}

export function historyName(version: number): string {
  return `${String(version).padStart(6, '0')}.json`;
}

/** Version of a stored envelope of this type, or null when the bytes are not one. */
export function storedVersion(type: BundleType, bytes: Uint8Array): number | null {
  try {
    const env = parseEnvelope(bytes);
    if (env.payloadType !== PAYLOAD_TYPES[type]) return null;
    const h = payloadHeader(env.payload);
    return h.type === type && Number.isSafeInteger(h.version) && (h.version as number) >= 1 ? (h.version as number) : null;
  } catch {
    return null;
  }
}

const locked = new Set<string>();

/** Write errors that mean "this file system cannot be written now", not "pinctl has a bug". */
export const UNWRITABLE = new Set(['EROFS', 'ENOSPC', 'EDQUOT', 'EACCES', 'EPERM']);

function unlinkQuietly(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Removes `.lock` if its holder is gone, racing other starters safely: only the process that
 * creates `.lock.break.<inode>` may unlink the lock with that inode. Returns false when another
 * process is breaking it.
 */
function breakStaleLock(path: string): boolean {
  let ino: number;
  try {
    ino = statSync(path).ino;
  } catch {
    return true; // already gone: link again
  }
  const marker = `${path}.break.${ino}`;
  try {
    writeFileSync(marker, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
  } catch {
    return false;
  }
  try {
    // Under the marker no one else may unlink the file with this inode, so what is read now is
    // that file: remove it only if its holder is still gone.
    if (statSync(path).ino === ino && !heldByLiveProcess(readFileSync(path, 'utf8'))) unlinkSync(path);
  } catch {
    /* gone meanwhile */
  } finally {
    unlinkQuietly(marker);
  }
  return true;
}

/** A lock's text names a live process other than this one. */
function heldByLiveProcess(text: string): boolean {
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface OpenOptions {
  /** Take DIR/.lock (serve); read-only users (publish --out) do not. */
  lock?: boolean;
  /** Create the directory layout when missing (default true). */
  create?: boolean;
}

export class BundleStore {
  /** Problems found while opening (corrupt files that were skipped), for the caller to print. */
  readonly warnings: string[] = [];
  private readonly floors = new Map<BundleType, number>();
  /** The counter's version was reserved by a publish that failed (it never went live). */
  private readonly floorFailed = new Map<BundleType, boolean>();
  /** Highest history file name per type. */
  private readonly historyTop = new Map<BundleType, number>();
  private readonly currents = new Map<BundleType, StoredBundle>();
  private readonly keysets = new Map<number, Uint8Array>();
  private lockPath: string | null = null;
  private lockKey: string | null = null;

  private constructor(readonly dir: string) {}

  static open(dir: string, opts: OpenOptions = {}): BundleStore {
    const store = new BundleStore(dir);
    if (opts.create !== false) {
      for (const d of [dir, join(dir, 'counters'), join(dir, 'current'), join(dir, 'history'), ...BUNDLE_TYPES.map((t) => join(dir, 'history', t))]) {
        try {
          makeDirs(d, 0o700);
        } catch (e) {
          throw new InputError('OUTPUT_UNWRITABLE', `--data ${dir}: cannot create ${d} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { hint: 'choose a directory you can write to' });
        }
      }
    } else if (!existsSync(dir)) {
      throw new InputError('INPUT_NOT_FOUND', `--data ${dir}: no such directory`, { hint: 'the data directory of pinctl serve' });
    }
    if (opts.lock && store.acquireLock()) {
      for (const f of store.removeStaleTempFiles()) store.warnings.push(`${f}: temporary file left by a stopped process; removed`);
    }
    for (const type of BUNDLE_TYPES) store.load(type);
    return store;
  }

  /**
   * DIR/.lock holds the pid of the one server using DIR. It is created atomically: the pid is
   * written to a temporary file that is then hard-linked to `.lock` (link fails if `.lock`
   * exists), so no process ever reads a half-written lock. A lock whose process is gone is broken
   * by exactly one process: the one that creates `.lock.break.<inode of that lock>` first.
   * Returns false when DIR cannot be written (read-only or full file system): the caller may
   * then serve read-only.
   */
  private acquireLock(): boolean {
    const path = join(this.dir, '.lock');
    const key = realpathSync(this.dir);
    if (locked.has(key)) throw new InputError('USAGE', `--data ${this.dir}: already in use by a server in this process`);
    const tmp = join(this.dir, `.lock.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      writeFileSync(tmp, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
    } catch (e) {
      unlinkQuietly(tmp);
      if (!UNWRITABLE.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
      this.refuseIfHeld(path); // a live server elsewhere still wins over a read-only start
      this.readOnlyReason = (e as NodeJS.ErrnoException).code!;
      this.warnings.push(`--data ${this.dir}: cannot be written (${(e as NodeJS.ErrnoException).code}); serving what is stored, read-only: publishing and reports are refused until restarted on a writable directory`);
      return false;
    }
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(tmp, path);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        this.refuseIfHeld(path);
        if (!breakStaleLock(path) && attempt >= 50) {
          throw new InputError('USAGE', `--data ${this.dir}: the stale lock ${path} is being broken by another process`, { hint: `if no pinctl serve runs on ${this.dir}, remove ${path} and ${path}.break.*` });
        }
        if (attempt > 0) sleepSync(10);
      }
    } finally {
      unlinkQuietly(tmp);
    }
    fsyncDir(this.dir);
    this.lockPath = path;
    this.lockKey = key;
    locked.add(key);
    return true;
  }

  /** Throws when `.lock` names another live process. */
  private refuseIfHeld(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return; // gone meanwhile
    }
    if (heldByLiveProcess(text)) {
      const pid = Number.parseInt(text, 10);
      throw new InputError('USAGE', `--data ${this.dir}: in use by process ${pid} (${path})`, {
        hint: `two servers on one data directory would hand out the same versions; stop process ${pid}, or remove ${path} if it is not a pinctl serve`,
      });
    }
  }

  /** Why DIR could not be locked for writing at start-up (EROFS, ENOSPC...): the store is read-only. */
  readOnlyReason: string | null = null;

  get writable(): boolean {
    return this.readOnlyReason === null;
  }

  /**
   * Temporary files a killed process left behind (durable writes, lock attempts). Only called by
   * the lock holder: no other process writes DIR, so every one of them is stale.
   */
  removeStaleTempFiles(): string[] {
    const removed: string[] = [];
    for (const d of [this.dir, join(this.dir, 'counters'), join(this.dir, 'current')]) {
      let names: string[] = [];
      try {
        names = readdirSync(d);
      } catch {
        continue;
      }
      for (const n of names) {
        const m = /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/.exec(n);
        if (!m) continue;
        // A server starting right now writes its lock attempt here too: leave live processes' files.
        const pid = Number(m[1]);
        if (pid !== process.pid && pidAlive(pid)) continue;
        if (unlinkQuietly(join(d, n))) removed.push(join(d, n));
      }
    }
    return removed;
  }

  close(): void {
    if (this.lockPath) {
      try {
        // Only our own lock: never remove one another process took over.
        if (Number.parseInt(readFileSync(this.lockPath, 'utf8'), 10) === process.pid) unlinkSync(this.lockPath);
      } catch {
        /* already gone */
      }
      locked.delete(this.lockKey!);
      this.lockPath = null;
    }
  }

  private counterPath(type: BundleType): string {
    return join(this.dir, 'counters', `${type}.json`);
  }
  private currentPath(type: BundleType): string {
    return join(this.dir, 'current', `${type}.json`);
  }
  private historyDir(type: BundleType): string {
    return join(this.dir, 'history', type);
  }

  private load(type: BundleType): void {
    let floor = 0;
    // 1. The counter. A keyset's version is chosen offline, not reserved here: its floor is the
    // newest keyset that went live (a crash or a failed publish of the next one must not block it).
    const counter = this.counterPath(type);
    if (type !== 'keyset' && existsSync(counter)) {
      try {
        const c = JSON.parse(readFileSync(counter, 'utf8')) as { version?: unknown };
        if (Number.isSafeInteger(c.version) && (c.version as number) >= 0) floor = c.version as number;
        if ((c as { failed?: unknown }).failed === true) this.floorFailed.set(type, true);
        else this.warnings.push(`${counter}: no integer version; using the history instead`);
      } catch {
        this.warnings.push(`${counter}: not JSON; using the history instead`);
      }
    }
    // 2. Every history file name counts, even one whose content is damaged (not for keysets, above).
    const history = this.historyVersions(type);
    if (history.length > 0) this.historyTop.set(type, history[0]!);
    if (history.length > 0 && type !== 'keyset') floor = Math.max(floor, history[0]!);
    // 3. The current file is what went live: a publish is live once its current file is renamed
    // into place. Newer history entries are publishes that failed or were cut short (never
    // answered 200, never served): they stay unserved. Without a current file (lost), the newest
    // readable history entry is served instead.
    const current = this.readCurrent(type);
    if (current) floor = Math.max(floor, current.version);
    const live = current ?? this.newestReadableHistory(type, history);
    for (const v of history) {
      if (live && v > live.version) this.warnings.push(`${join(this.historyDir(type), historyName(v))}: ${type} v${v} never went live (a publish that failed or was interrupted); not served`);
    }
    if (type === 'keyset') {
      for (const v of history) {
        if (live && v > live.version) continue;
        const bytes = new Uint8Array(readFileSync(join(this.historyDir(type), historyName(v))));
        if (storedVersion(type, bytes) === v) this.keysets.set(v, bytes);
      }
      if (live) floor = Math.max(floor, live.version);
    }
    this.floors.set(type, floor);
    if (live) this.currents.set(type, live);
  }

  /** Version numbers of the history files, newest first. */
  private historyVersions(type: BundleType): number[] {
    let names: string[] = [];
    try {
      names = readdirSync(this.historyDir(type));
    } catch {
      names = [];
    }
    const history: number[] = [];
    for (const name of names) {
      const m = /^(\d{1,16})\.json$/.exec(name);
      if (!m) continue;
      const v = Number(m[1]);
      if (Number.isSafeInteger(v) && v >= 1) history.push(v);
    }
    return history.sort((a, b) => b - a);
  }

  private readCurrent(type: BundleType): StoredBundle | undefined {
    const currentPath = this.currentPath(type);
    if (!existsSync(currentPath)) return undefined;
    const bytes = new Uint8Array(readFileSync(currentPath));
    const v = storedVersion(type, bytes);
    if (v === null) {
      this.warnings.push(`${currentPath}: not a ${type} envelope; ignored`);
      return undefined;
    }
    return { type, version: v, bytes };
  }

  private newestReadableHistory(type: BundleType, history: number[]): StoredBundle | undefined {
    for (const v of history) {
      const path = join(this.historyDir(type), historyName(v));
      const bytes = new Uint8Array(readFileSync(path));
      if (storedVersion(type, bytes) === v) return { type, version: v, bytes };
      this.warnings.push(`${path}: not a ${type} envelope of version ${v}; skipped`);
    }
    return undefined;
  }

  /** Highest version of this type ever reserved or written. */
  floor(type: BundleType): number {
    return this.floors.get(type) ?? 0;
  }

  /**
   * The newest version that may have gone live: the floor, unless the floor's publish failed
   * (then the newest history file or current bundle). A current bundle older than this means
   * lost or damaged files.
   */
  newestIssued(type: BundleType): number {
    if (!this.floorFailed.get(type)) return this.floor(type);
    return Math.max(this.historyTop.get(type) ?? 0, this.current(type)?.version ?? 0);
  }

  /**
   * Records that a reserved version never went live (its publish failed), so that merges and
   * the newest-issued check do not take the gap for lost files. Best effort: on a full or
   * read-only disk the record itself may fail; the version stays spent either way.
   */
  markFailed(type: Exclude<BundleType, 'keyset'>, version: number): void {
    if (version !== this.floor(type)) return;
    this.floorFailed.set(type, true);
    try {
      writeFileAtomic(this.counterPath(type), `${JSON.stringify({ type, version, failed: true })}\n`);
    } catch {
      /* the disk that failed the publish may fail this too */
    }
  }

  current(type: BundleType): StoredBundle | undefined {
    return this.currents.get(type);
  }

  /** Every stored keyset, oldest first (GET /v1/keyset/{version}). */
  keysetHistory(): StoredBundle[] {
    return [...this.keysets].sort((a, b) => a[0] - b[0]).map(([version, bytes]) => ({ type: 'keyset' as const, version, bytes }));
  }

  /**
   * Reserve the next version of a signed type: the counter is written durably first, so the
   * number is spent even if the process dies before the bundle is written.
   */
  reserve(type: Exclude<BundleType, 'keyset'>): number {
    if (!this.writable) throw new InputError('USAGE', `--data ${this.dir} is read-only for this server`);
    const version = this.floor(type) + 1;
    if (!Number.isSafeInteger(version)) throw new InputError('USAGE', `${type}: version counter exhausted`);
    writeFileAtomic(this.counterPath(type), `${JSON.stringify({ type, version })}\n`);
    this.floors.set(type, version);
    this.floorFailed.delete(type);
    return version;
  }

  /**
   * Write a signed bundle durably: its history file (created, never replaced), then `beforeLive`
   * (the publish-log line), then the current file, whose rename is the moment the bundle goes
   * live. For pins and trust roots the version must have been reserved; a keyset carries its own
   * version (signed offline), which must be above the live one. If any step fails, the history
   * file is removed again (best effort; a leftover is ignored on start, see load) and the error
   * is thrown: the version stays spent, nothing went live.
   */
  commit(type: BundleType, version: number, bytes: Uint8Array, beforeLive: () => void = () => {}): void {
    if (storedVersion(type, bytes) !== version) throw new Error(`store: bytes are not a ${type} envelope of version ${version}`);
    if (!this.writable) throw new InputError('USAGE', `--data ${this.dir} is read-only for this server`);
    if (type === 'keyset') {
      if (version <= this.floor(type)) throw new InputError('USAGE', `keyset version ${version} is not above the stored version ${this.floor(type)}`);
    } else if (version !== this.floor(type)) {
      throw new Error(`store: ${type} version ${version} was not reserved (floor ${this.floor(type)})`);
    }
    const history = join(this.historyDir(type), historyName(version));
    if (type === 'keyset' && existsSync(history)) {
      // Left by a crash or a failed publish of this version (it never went live): set it aside.
      renameSync(history, `${history}.not-live-${Date.now()}`);
    }
    writeFileExclusive(history, bytes);
    this.historyTop.set(type, Math.max(this.historyTop.get(type) ?? 0, version));
    try {
      if (type === 'keyset') writeFileAtomic(this.counterPath(type), `${JSON.stringify({ type, version })}\n`);
      beforeLive();
      writeFileAtomic(this.currentPath(type), bytes);
    } catch (e) {
      unlinkQuietly(history);
      this.historyTop.set(type, Math.max(...this.historyVersions(type), 0));
      throw e;
    }
    if (type === 'keyset') {
      this.floors.set(type, version);
      this.keysets.set(version, bytes);
    }
    this.currents.set(type, { type, version, bytes });
  }

  /** Append one line to a log and fsync it (the publish log must hold every version that went live). */
  appendDurably(path: string, line: string): void {
    const created = !existsSync(path);
    const fd = openSync(path, 'a', 0o600);
    try {
      const data = Buffer.from(line, 'utf8');
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (created) fsyncDir(this.dir);
  }

  readConfig(): StoreConfig {
    const path = join(this.dir, 'config.json');
    if (!existsSync(path)) return {};
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      throw new InputError('CONFIG_MALFORMED', `${path}: expected JSON such as {"audience": "com.example.app"}`);
    }
    const o = (doc ?? {}) as Record<string, unknown>;
    if (typeof o !== 'object' || Array.isArray(o) || (o.audience !== undefined && typeof o.audience !== 'string')) {
      throw new InputError('CONFIG_MALFORMED', `${path}: expected {"audience": "..."}`);
    }
    return { audience: o.audience as string | undefined };
  }

  writeConfig(cfg: StoreConfig): void {
    writeFileAtomic(join(this.dir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`, 0o600);
  }

  /** The keys document last written by serve (for publish --out without a key). */
  readKeysDocument(): Uint8Array | undefined {
    const path = join(this.dir, 'keys.json');
    return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
  }

  writeKeysDocument(bytes: Uint8Array): void {
    writeFileAtomic(join(this.dir, 'keys.json'), bytes);
  }

  get publishLogPath(): string {
    return join(this.dir, 'publish.log');
  }

  get reportsLogPath(): string {
    return join(this.dir, 'reports.log');
  }

  /** Flush the directory entries (after appending to a log for the first time). */
  syncDir(): void {
    fsyncDir(this.dir);
  }
}
