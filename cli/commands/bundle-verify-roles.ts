/**
 * `pinctl bundle verify FILE --root-key ROOT.pub ...`: SPEC §7 roles mode, as a fresh client with
 * these root keys would verify. A keyset FILE is checked against the root keys (§7.3); a pins or
 * trust-roots FILE is checked under the newest of the `--keyset` files, each rotated in version
 * order first (§7.3, §7.6), so the operator sees what an app will do before publishing (runbook §7.7).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliIO } from '../io.js';
import { readSource } from '../files.js';
import { printJson, style } from '../style.js';
import { InputError } from '../../src/errors.js';
import { parseEnvelope } from '../../src/bundle/envelope.js';
import { PayloadError, PayloadTypeError } from '../../src/bundle/errors.js';
import { embeddedRootRole, signingKeys } from '../../src/bundle/keys.js';
import { payloadHeader } from '../../src/bundle/payload.js';
import { TrustedStore } from '../../src/bundle/trusted-store.js';
import { BundleType, Payload, typeOfPayloadType } from '../../src/bundle/types.js';
import { keyIdOf } from '../../src/bundle/ed25519.js';
import { readPublicKeyFile } from '../../src/service/keys.js';
import { describePayload } from '../../src/service/payloads.js';

export interface RolesVerifyOptions {
  rootKey: string[];
  keyset: string[];
  threshold?: string;
  trustExpires?: string;
  audience?: string;
  type?: string;
  json?: boolean;
}

interface Source {
  name: string;
  bytes: Uint8Array;
}

const HINT_CHAIN = 'pass the keysets the service published, oldest first: --keyset DIR/history/keyset (a directory) or --keyset v1.json --keyset v2.json';

export async function verifyWithRootKeys(file: string, opts: RolesVerifyOptions, io: CliIO): Promise<number> {
  const root = rootRoleOf(opts, io);
  const src = await readSource(file, io);
  const env = parseEnvelope(src.bytes);
  const type = typeOfPayloadType(env.payloadType);
  if (type === null) throw new PayloadTypeError(`payloadType ${JSON.stringify(env.payloadType)} is not a pinctl bundle type`);
  if (opts.type !== undefined && opts.type !== type) throw new PayloadTypeError(`expected a ${opts.type} bundle, found a ${type} bundle`);
  const audience = opts.audience ?? audienceOf(env.payload);
  const chain = readKeysets(opts.keyset, io);
  if (type !== 'keyset' && chain.length === 0) {
    throw new InputError('USAGE', `${src.name} is a ${type} bundle: in roles mode it is signed by the keys a keyset names; expected --keyset`, { hint: HINT_CHAIN });
  }
  const rotations = type === 'keyset' ? [...chain, src] : chain;
  const first = headerVersion(rotations[0]!);
  const store = new TrustedStore({ audience, root, keysetVersion: first - 1 });
  const now = io.now();
  const versions: number[] = [];
  let payload: Payload | undefined;
  for (const ks of rotations) {
    const r = store.rotate(ks.bytes, now); // SPEC §7.3 (root threshold, v + 1, §7.2, §7.4), then §7.6
    versions.push(r.version);
    payload = r.payload;
  }
  let signedBy: string[];
  if (type === 'keyset') {
    signedBy = [...signingKeys(env, { version: 0, threshold: root.threshold, keys: root.keys })];
  } else {
    payload = store.verify(type, src.bytes, now).bundle.payload;
    signedBy = [...signingKeys(env, store.keyset)];
  }
  report(io, { type, payload: payload!, signedBy, versions, first, opts, audience });
  return 0;
}

function rootRoleOf(opts: RolesVerifyOptions, io: CliIO) {
  if (opts.rootKey.length === 0) throw new InputError('USAGE', '--root-key: expected at least one root public key');
  const keys = opts.rootKey.map((p) => readPublicKeyFile(resolve(io.cwd, p), p));
  const distinct = new Set(keys.map((k) => keyIdOf(k))).size;
  const threshold = opts.threshold === undefined ? 1 : /^\d{1,2}$/.test(opts.threshold) ? Number(opts.threshold) : NaN;
  if (!(threshold >= 1 && threshold <= distinct)) throw new InputError('USAGE', `--threshold ${opts.threshold}: expected 1 to ${distinct} (the distinct --root-key keys)`);
  let expires = Number.POSITIVE_INFINITY;
  if (opts.trustExpires !== undefined) {
    expires = /^\d{4}-\d{2}-\d{2}$/.test(opts.trustExpires) ? Date.parse(`${opts.trustExpires}T00:00:00Z`) : NaN;
    if (Number.isNaN(expires)) throw new InputError('USAGE', `--trust-expires ${opts.trustExpires}: expected a date, YYYY-MM-DD (the app's trustExpires)`);
  }
  return embeddedRootRole(keys, threshold, expires);
}

/** Files in the order given; a directory stands for its *.json files in name order (the service's history/keyset). */
function readKeysets(paths: string[], io: CliIO): Source[] {
  const files: string[] = [];
  for (const p of paths) {
    const abs = resolve(io.cwd, p);
    let isDir = false;
    try {
      isDir = statSync(abs).isDirectory();
    } catch (e) {
      throw new InputError('INPUT_UNREADABLE', `--keyset ${p}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { hint: HINT_CHAIN });
    }
    if (!isDir) files.push(abs);
    else files.push(...readdirSync(abs).filter((n) => n.endsWith('.json')).sort().map((n) => join(abs, n)));
  }
  return files.map((f) => ({ name: f, bytes: readBytes(f) }));
}

function readBytes(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new InputError('INPUT_UNREADABLE', `--keyset ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { hint: HINT_CHAIN });
  }
}

/** The audience to require: --audience, else the file's own (every signature is checked against it after). */
function audienceOf(payload: Uint8Array): string {
  const a = payloadHeader(payload).audience;
  if (typeof a !== 'string' || a === '') throw new PayloadError('payload .audience: expected a non-empty string');
  return a;
}

function headerVersion(src: Source): number {
  const v = payloadHeader(parseEnvelope(src.bytes).payload).version;
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new PayloadError(`${src.name}: payload .version: expected an integer >= 1, found ${JSON.stringify(v)}`);
  return v as number;
}

interface Verdict {
  type: BundleType;
  payload: Payload;
  signedBy: string[];
  versions: number[];
  first: number;
  opts: RolesVerifyOptions;
  audience: string;
}

function report(io: CliIO, v: Verdict): void {
  const { payload, opts } = v;
  const expired = Date.parse(payload.expiresAt) <= io.now().getTime();
  if (opts.json) {
    printJson(io, {
      valid: true,
      mode: 'roles',
      status: 'applied',
      type: v.type,
      version: payload.version,
      audience: v.audience,
      issuedAt: payload.issuedAt,
      expiresAt: payload.expiresAt,
      signedBy: v.signedBy,
      keysets: v.versions,
      ...(v.type === 'keyset' && expired ? { expired: true } : {}),
    });
  } else {
    const by = v.type === 'keyset' ? 'root keys' : 'keyset keys';
    io.stdout.write(`valid: ${describePayload(payload)}; signed by ${by} ${v.signedBy.join(', ')}; keysets v${v.versions.join(', v')}\n`);
  }
  const s = style(io);
  if (opts.audience === undefined) io.stderr.write(`${s.dim('note:')} audience not checked (accepted ${JSON.stringify(v.audience)}); pass --audience APP to require it\n`);
  if (v.first > 1) {
    io.stderr.write(`${s.dim('note:')} started at keyset v${v.first} against the root keys given; a fresh app starts at v1 (pass every keyset to check the whole chain)\n`);
  }
  if (v.type === 'keyset' && expired) io.stderr.write(`${s.dim('note:')} this keyset expired at ${payload.expiresAt}: clients rotate through it but do not use it for bundles\n`);
}
