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
import { existsSync, readFileSync, readdirSync, unlinkSync, writeFileSync, realpathSync } from 'node:fs';
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
    if (opts.lock) store.acquireLock();
    for (const type of BUNDLE_TYPES) store.load(type);
    return store;
  }

  private acquireLock(): void {
    const path = join(this.dir, '.lock');
    const key = realpathSync(this.dir);
    if (locked.has(key)) throw new InputError('USAGE', `--data ${this.dir}: already in use by a server in this process`);
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new InputError('USAGE', `--data ${this.dir}: in use by process ${pid} (${path})`, {
          hint: `two servers on one data directory would hand out the same versions; stop process ${pid}, or remove ${path} if it is not a pinctl serve`,
        });
      }
      writeFileSync(path, `${process.pid}\n`, { mode: 0o600 }); // stale: its process is gone
    }
    this.lockPath = path;
    this.lockKey = key;
    locked.add(key);
  }

  close(): void {
    if (this.lockPath) {
      try {
        unlinkSync(this.lockPath);
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
    // 1. The counter.
    const counter = this.counterPath(type);
    if (existsSync(counter)) {
      try {
        const c = JSON.parse(readFileSync(counter, 'utf8')) as { version?: unknown };
        if (Number.isSafeInteger(c.version) && (c.version as number) >= 0) floor = c.version as number;
        else this.warnings.push(`${counter}: no integer version; using the history instead`);
      } catch {
        this.warnings.push(`${counter}: not JSON; using the history instead`);
      }
    }
    // 2. Every history file name counts, even one whose content is damaged.
    const history: number[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.historyDir(type));
    } catch {
      names = [];
    }
    for (const name of names) {
      const m = /^(\d{1,16})\.json$/.exec(name);
      if (!m) continue;
      const v = Number(m[1]);
      if (Number.isSafeInteger(v) && v >= 1) history.push(v);
    }
    history.sort((a, b) => b - a);
    if (history.length > 0) floor = Math.max(floor, history[0]!);
    // 3. The current file, then the newest readable history entry: the higher version is current.
    let current: StoredBundle | undefined;
    const currentPath = this.currentPath(type);
    if (existsSync(currentPath)) {
      const bytes = new Uint8Array(readFileSync(currentPath));
      const v = storedVersion(type, bytes);
      if (v === null) this.warnings.push(`${currentPath}: not a ${type} envelope; ignored`);
      else {
        current = { type, version: v, bytes };
        floor = Math.max(floor, v);
      }
    }
    for (const v of history) {
      if (current && current.version >= v) break;
      const path = join(this.historyDir(type), historyName(v));
      const bytes = new Uint8Array(readFileSync(path));
      const got = storedVersion(type, bytes);
      if (got === v) {
        current = { type, version: v, bytes };
        break;
      }
      this.warnings.push(`${path}: not a ${type} envelope of version ${v}; skipped`);
    }
    if (type === 'keyset') {
      for (const v of history) {
        const bytes = new Uint8Array(readFileSync(join(this.historyDir(type), historyName(v))));
        if (storedVersion(type, bytes) === v) this.keysets.set(v, bytes);
      }
    }
    this.floors.set(type, floor);
    if (current) this.currents.set(type, current);
  }

  /** Highest version of this type ever reserved or written. */
  floor(type: BundleType): number {
    return this.floors.get(type) ?? 0;
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
    const version = this.floor(type) + 1;
    if (!Number.isSafeInteger(version)) throw new InputError('USAGE', `${type}: version counter exhausted`);
    writeFileAtomic(this.counterPath(type), `${JSON.stringify({ type, version })}\n`);
    this.floors.set(type, version);
    return version;
  }

  /**
   * Write a signed bundle durably: its history file (created, never replaced), then the current
   * file. For pins and trust roots the version must have been reserved; a keyset carries its own
   * version (signed offline), which must be above every stored one.
   */
  commit(type: BundleType, version: number, bytes: Uint8Array): void {
    if (storedVersion(type, bytes) !== version) throw new Error(`store: bytes are not a ${type} envelope of version ${version}`);
    if (type === 'keyset') {
      if (version <= this.floor(type)) throw new InputError('USAGE', `keyset version ${version} is not above the stored version ${this.floor(type)}`);
    } else if (version !== this.floor(type)) {
      throw new Error(`store: ${type} version ${version} was not reserved (floor ${this.floor(type)})`);
    }
    writeFileExclusive(join(this.historyDir(type), historyName(version)), bytes);
    if (type === 'keyset') {
      writeFileAtomic(this.counterPath(type), `${JSON.stringify({ type, version })}\n`);
      this.floors.set(type, version);
      this.keysets.set(version, bytes);
    }
    writeFileAtomic(this.currentPath(type), bytes);
    this.currents.set(type, { type, version, bytes });
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
