/**
 * `pinctl bundle create | sign | verify | inspect`: signed bundles (docs/SPEC.md) from the command
 * line, for offline signing, rotations signed by several keys, and checking what a client would
 * accept.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliIO } from '../io.js';
import { readSource, writeOutput } from '../files.js';
import { printError, printJson, style } from '../style.js';
import { InputError, PinctlError } from '../../src/errors.js';
import { Envelope, parseEnvelope, serializeEnvelope } from '../../src/bundle/envelope.js';
import { AudienceError, PayloadError, PayloadTypeError, RollbackError, SignatureError } from '../../src/bundle/errors.js';
import { TrustedKeyset, signingKeys } from '../../src/bundle/keys.js';
import { pae } from '../../src/bundle/pae.js';
import { decodePayload, payloadHeader } from '../../src/bundle/payload.js';
import { Signer, signEnvelope } from '../../src/bundle/sign.js';
import { TrustedStore } from '../../src/bundle/trusted-store.js';
import { verifySignature, keyIdOf } from '../../src/bundle/ed25519.js';
import { BundleType, PAYLOAD_TYPES, Payload, typeOfPayloadType } from '../../src/bundle/types.js';
import { readPrivateKeyFile, readPublicKeyFile } from '../../src/service/keys.js';
import { Common, describePayload, keysetPayload, parseAudience, parsePinsJson, parseVersion, pinsPayload, signPayload, trustRootsFromCertificates, trustRootsPayload } from '../../src/service/payloads.js';
import { parseExpiresIn, validity } from '../../src/service/time.js';
import { writeFileAtomic } from '../../src/durable-write.js';
import { verifyWithRootKeys } from './bundle-verify-roles.js';

const TYPES: readonly BundleType[] = ['pins', 'trust-roots', 'keyset'];

async function guarded(io: CliIO, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    printError(io, e);
    return e instanceof PinctlError ? e.exitCode : 2;
  }
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('utf8');
}

export function readSigners(paths: string[], io: CliIO): Signer[] {
  if (paths.length === 0) throw new InputError('USAGE', '--key: expected at least one private key file', { hint: 'make one with: pinctl keys generate --out DIR' });
  const signers = paths.map((p) => readPrivateKeyFile(resolve(io.cwd, p), p));
  const ids = signers.map((s) => s.keyid);
  const dup = ids.findIndex((id, i) => ids.indexOf(id) !== i);
  if (dup !== -1) throw new InputError('USAGE', `--key ${paths[dup]}: key ${ids[dup]} is given twice`);
  return signers;
}

/** Writes to --out (atomically: the file may be the input) or stdout. */
function emit(io: CliIO, bytes: Uint8Array, out: string | undefined): void {
  if (out === undefined || out === '-') {
    io.stdout.write(text(bytes));
    return;
  }
  const full = resolve(io.cwd, out);
  try {
    writeFileAtomic(full, bytes);
  } catch (e) {
    writeOutput(full, text(bytes), '--out'); // reports the failure in the CLI's words
  }
}

// ---- create ----------------------------------------------------------------------------------

export interface BundleCreateOptions {
  pins?: string;
  trustRoots?: string;
  keyset?: boolean | string[];
  keysetKeys: string[];
  threshold?: string;
  key: string[];
  version: string;
  expiresIn: string;
  audience: string;
  out?: string;
}

export function bundleCreateCommand(opts: BundleCreateOptions, io: CliIO): Promise<number> {
  return guarded(io, async () => {
    const keysetFiles = [...(Array.isArray(opts.keyset) ? opts.keyset : []), ...opts.keysetKeys];
    const keysetMode = opts.keyset !== undefined || opts.keysetKeys.length > 0;
    const modes = [opts.pins !== undefined, opts.trustRoots !== undefined, keysetMode].filter(Boolean).length;
    if (modes !== 1) {
      throw new InputError('USAGE', `expected exactly one of --pins FILE, --trust-roots FILE or --keyset PUB..., found ${modes === 0 ? 'none' : 'several'}`, {
        hint: 'pinctl bundle create --pins pins.json --key pinctl-signing.key --version 1 --audience com.example.app',
      });
    }
    if (opts.threshold !== undefined && !keysetMode) throw new InputError('USAGE', '--threshold applies to --keyset only');
    const audience = parseAudience(opts.audience);
    const version = parseVersion(opts.version);
    const validityMs = parseExpiresIn(opts.expiresIn);
    const signers = readSigners(opts.key, io);
    const common: Common = { audience, version, ...validity(io.now(), validityMs) };
    let payload: Payload;
    if (opts.pins !== undefined) {
      const src = await readSource(opts.pins, io);
      payload = pinsPayload(parsePinsJson(text(src.bytes), src.name), common, src.name);
    } else if (opts.trustRoots !== undefined) {
      const src = await readSource(opts.trustRoots, io);
      payload = trustRootsPayload(trustRootsFromCertificates(src.bytes, src.name), common, src.name);
    } else {
      if (keysetFiles.length === 0) throw new InputError('USAGE', '--keyset: expected the public keys of the new keyset (--keyset new.pub old.pub, or --keyset-keys FILE repeated)');
      const keys = keysetFiles.map((f) => readPublicKeyFile(resolve(io.cwd, f), f));
      const threshold = opts.threshold === undefined ? 1 : /^\d{1,3}$/.test(opts.threshold) ? Number(opts.threshold) : NaN;
      payload = keysetPayload(keys, threshold, common, '--keyset');
      const newIds = new Set(payload.keys.map((k) => k.keyid));
      const signedByNew = signers.filter((s) => newIds.has(s.keyid)).length;
      if (signedByNew < payload.threshold) {
        io.stderr.write(`${style(io).yellow('warning:')} ${signedByNew} of the new keys signed, clients need ${payload.threshold} (SPEC §5 step 5); add --key NEW.key now or later with pinctl bundle sign (clients with rootKeys, SPEC §7, need the root keys only)\n`);
      }
    }
    const bytes = signPayload(payload, signers);
    emit(io, bytes, opts.out);
    io.stderr.write(`${style(io).dim('note:')} signed ${describePayload(payload)}; key${signers.length > 1 ? 's' : ''} ${signers.map((s) => s.keyid).join(', ')}\n`);
    return 0;
  });
}

// ---- sign ------------------------------------------------------------------------------------

export interface BundleSignOptions {
  key: string[];
  out?: string;
}

export function bundleSignCommand(file: string, opts: BundleSignOptions, io: CliIO): Promise<number> {
  return guarded(io, async () => {
    const src = await readSource(file, io);
    const env = parseEnvelope(src.bytes);
    const type = typeOfPayloadType(env.payloadType);
    if (type === null) throw new InputError('USAGE', `${src.name}: payloadType ${JSON.stringify(env.payloadType)} is not a pinctl bundle type`);
    try {
      decodePayload(env.payload, type);
    } catch (e) {
      if (e instanceof PayloadError) throw new InputError('CONFIG_MALFORMED', `${src.name}: refusing to sign: ${e.message}`);
      throw e;
    }
    const signers = readSigners(opts.key, io);
    const message = pae(env.payloadType, env.payload);
    for (const s of signers) {
      // The keyid is only a hint (SPEC §1.3): a signature by this key under another keyid is a duplicate too.
      if (env.signatures.some((sig) => sig.keyid === s.keyid || verifySignature(s.publicKey, message, sig.sig))) {
        throw new InputError('USAGE', `${src.name}: already signed by key ${s.keyid}`, { hint: 'each key signs once; a second signature by the same key counts once' });
      }
    }
    if (env.signatures.length + signers.length > 16) throw new InputError('USAGE', `${src.name}: a bundle holds at most 16 signatures`);
    const added = signEnvelope(env.payloadType, env.payload, signers).signatures;
    const out: Envelope = { ...env, signatures: [...env.signatures, ...added] };
    emit(io, new Uint8Array(Buffer.from(serializeEnvelope(out), 'utf8')), opts.out);
    io.stderr.write(`${style(io).dim('note:')} added signature${signers.length > 1 ? 's' : ''} by ${signers.map((s) => s.keyid).join(', ')} (${out.signatures.length} in all)\n`);
    return 0;
  });
}

// ---- verify ----------------------------------------------------------------------------------

export interface BundleVerifyOptions {
  publicKey: string[];
  /** SPEC §7 roles mode (cli/commands/bundle-verify-roles.ts). */
  rootKey?: string[];
  keyset?: string[];
  trustExpires?: string;
  threshold?: string;
  audience?: string;
  type?: string;
  state?: string;
  json?: boolean;
}

interface StateRecord {
  version: number;
  payloadSha256: string;
  acceptedAt: string;
}

interface StateFile {
  format: 'pinctl.verify-state.v1';
  accepted: Partial<Record<BundleType, Record<string, StateRecord>>>;
}

const STATE_FORMAT = 'pinctl.verify-state.v1';

function readState(path: string, shown: string): StateFile {
  if (!existsSync(path)) return { format: STATE_FORMAT, accepted: {} };
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code ? 'INPUT_UNREADABLE' : 'CONFIG_MALFORMED', `--state ${shown}: ${code ? `cannot read it (${code})` : 'expected JSON'}`, { hint: 'a file written by pinctl bundle verify --state; remove it to start over' });
  }
  const o = doc as StateFile;
  const ok =
    typeof o === 'object' &&
    o !== null &&
    o.format === STATE_FORMAT &&
    typeof o.accepted === 'object' &&
    o.accepted !== null &&
    Object.values(o.accepted).every(
      (byAudience) =>
        typeof byAudience === 'object' &&
        byAudience !== null &&
        Object.values(byAudience).every((r) => typeof r === 'object' && r !== null && Number.isSafeInteger(r.version) && typeof r.payloadSha256 === 'string'),
    );
  if (!ok) throw new InputError('CONFIG_MALFORMED', `--state ${shown}: expected {"format": "${STATE_FORMAT}", "accepted": {...}}`, { hint: 'a file written by pinctl bundle verify --state; remove it to start over' });
  return o;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** --json is a contract on failure too: {valid: false, exitCode, error} on stdout, the error also on stderr. */
export async function bundleVerifyCommand(file: string, opts: BundleVerifyOptions, io: CliIO): Promise<number> {
  if (!opts.json) return verifyBundle(file, opts, io);
  try {
    return await verifyBundleOrThrow(file, opts, io);
  } catch (e) {
    const exitCode = e instanceof PinctlError ? e.exitCode : 2;
    const error = e instanceof PinctlError ? e.toJSON() : { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
    printJson(io, { valid: false, exitCode, error });
    printError(io, e);
    return exitCode;
  }
}

function verifyBundle(file: string, opts: BundleVerifyOptions, io: CliIO): Promise<number> {
  return guarded(io, () => verifyBundleOrThrow(file, opts, io));
}

async function verifyBundleOrThrow(file: string, opts: BundleVerifyOptions, io: CliIO): Promise<number> {
  if (opts.rootKey?.length || opts.keyset?.length || opts.trustExpires !== undefined) return verifyRolesMode(file, opts, io);
  {
    // Exit 2 for anything that is not a usable input, before any verdict.
    if (opts.type !== undefined && !(TYPES as readonly string[]).includes(opts.type)) throw new InputError('USAGE', `--type ${opts.type}: expected pins, trust-roots or keyset`);
    if (opts.publicKey.length === 0) throw new InputError('USAGE', '--public-key: expected at least one trusted public key (pinctl-signing.pub.pem)');
    const keys = new Map<string, Uint8Array>();
    for (const p of opts.publicKey) {
      const raw = readPublicKeyFile(resolve(io.cwd, p), p);
      keys.set(keyIdOf(raw), raw);
    }
    const threshold = opts.threshold === undefined ? 1 : /^\d{1,2}$/.test(opts.threshold) ? Number(opts.threshold) : NaN;
    if (!(threshold >= 1 && threshold <= keys.size)) throw new InputError('USAGE', `--threshold ${opts.threshold}: expected 1 to ${keys.size} (the number of --public-key keys)`);
    const statePath = opts.state === undefined ? undefined : resolve(io.cwd, opts.state);
    const state = statePath ? readState(statePath, opts.state!) : undefined;
    const src = await readSource(file, io);
    const env = parseEnvelope(src.bytes);
    const inferred = typeOfPayloadType(env.payloadType);
    const type = (opts.type as BundleType | undefined) ?? inferred;
    if (type === null) throw new PayloadTypeError(`payloadType ${JSON.stringify(env.payloadType)} is not a pinctl bundle type`);
    const keyset: TrustedKeyset = { version: 0, threshold, keys };
    const now = io.now();
    // SPEC §4 steps 3–4 first, so an altered bundle is reported as such whatever else is wrong.
    if (env.payloadType !== PAYLOAD_TYPES[type]) {
      throw new PayloadTypeError(`expected payloadType ${PAYLOAD_TYPES[type]}, found ${inferred ? `a ${inferred} bundle` : JSON.stringify(env.payloadType)}`);
    }
    signingKeysOrThrow(env, keyset);

    // Without --audience, accept the bundle's own (its signature is known good by now).
    let audience = opts.audience;
    if (audience === undefined) {
      const a = payloadHeader(env.payload).audience;
      if (typeof a !== 'string' || a === '') throw new PayloadError('payload .audience: expected a non-empty string');
      audience = a;
    }
    // Own properties only: an audience named "__proto__" or "constructor" must not read the prototype.
    const byType = state && Object.hasOwn(state.accepted, type) ? state.accepted[type] : undefined;
    const record = byType && Object.hasOwn(byType, audience) ? byType[audience] : undefined;

    let version: number;
    let status: 'applied' | 'unchanged' = 'applied';
    let payload: Payload;
    if (type === 'keyset') {
      const h = payloadHeader(env.payload);
      const v = Number.isSafeInteger(h.version) ? (h.version as number) : 1;
      if (record && v === record.version && sha256Hex(env.payload) === record.payloadSha256) {
        status = 'unchanged';
        payload = decodePayload(env.payload, 'keyset');
        if (payload.audience !== audience) throw new AudienceError(`expected audience ${JSON.stringify(audience)}, found ${JSON.stringify(payload.audience)}`);
      } else {
        if (record && v <= record.version) throw new RollbackError(`keyset version ${v} is not above the accepted version ${record.version}`);
        // SPEC §5: one rotation from the accepted version (or, without --state, to this version).
        payload = new TrustedStore({ audience, keyset: { ...keyset, version: record ? record.version : v - 1 } }).rotate(src.bytes).payload;
      }
      version = payload.version;
    } else {
      const result = new TrustedStore({ audience, keyset }).verify(type, src.bytes, now);
      payload = result.bundle.payload;
      version = payload.version;
      if (record) {
        // SPEC §4.7 against the last accepted version.
        if (version < record.version) throw new RollbackError(`version ${version} is older than the accepted version ${record.version}`);
        if (version === record.version) {
          if (sha256Hex(env.payload) !== record.payloadSha256) throw new RollbackError(`version ${version} was already accepted with other content: a replayed or forged version number`);
          status = 'unchanged';
        }
      }
    }
    const signedBy = [...signingKeys(env, keyset)];
    if (statePath && state && status === 'applied') {
      const accepted = { ...state.accepted, [type]: { ...(state.accepted[type] ?? {}), [audience]: { version, payloadSha256: sha256Hex(env.payload), acceptedAt: now.toISOString() } } };
      try {
        writeFileAtomic(statePath, `${JSON.stringify({ format: STATE_FORMAT, accepted }, null, 2)}\n`);
      } catch (e) {
        throw new InputError('OUTPUT_UNWRITABLE', `--state ${opts.state}: cannot write it (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    const expired = Date.parse(payload.expiresAt) <= now.getTime();
    if (opts.json) {
      printJson(io, { valid: true, status, type, version, audience, issuedAt: payload.issuedAt, expiresAt: payload.expiresAt, signedBy, ...(type === 'keyset' && expired ? { expired: true } : {}) });
    } else {
      io.stdout.write(`valid: ${describePayload(payload)}; signed by ${signedBy.join(', ')}${status === 'unchanged' ? ' (already accepted: unchanged)' : ''}\n`);
    }
    const s = style(io);
    if (opts.audience === undefined) io.stderr.write(`${s.dim('note:')} audience not checked (accepted ${JSON.stringify(audience)}); pass --audience APP to require it\n`);
    if (type === 'keyset' && expired) io.stderr.write(`${s.dim('note:')} this keyset expired at ${payload.expiresAt}: clients still rotate through it (SPEC §5.7) but will not use it for bundles\n`);
    return 0;
  }
}

function verifyRolesMode(file: string, opts: BundleVerifyOptions, io: CliIO): Promise<number> {
  if (opts.publicKey.length > 0) {
    throw new InputError('USAGE', '--public-key and --root-key: expected one of them', {
      hint: '--root-key for apps that embed root keys (SPEC §7), --public-key for apps that embed signing keys (SPEC 1.0)',
    });
  }
  if (opts.state !== undefined) throw new InputError('USAGE', '--state: not with --root-key (roles mode checks a keyset chain from v1 each time)');
  return verifyWithRootKeys(file, { ...opts, rootKey: opts.rootKey ?? [], keyset: opts.keyset ?? [] }, io);
}

function signingKeysOrThrow(env: Envelope, keyset: TrustedKeyset): void {
  const signed = signingKeys(env, keyset);
  if (signed.size < keyset.threshold) {
    throw new SignatureError(`expected valid signatures by ${keyset.threshold} of the trusted key(s), found ${signed.size}`, 'the bundle was altered, or signed by a key this client does not trust');
  }
}

// ---- inspect ---------------------------------------------------------------------------------

export interface BundleInspectOptions {
  json?: boolean;
}

export function bundleInspectCommand(file: string, opts: BundleInspectOptions, io: CliIO): Promise<number> {
  return guarded(io, async () => {
    const src = await readSource(file, io);
    const env = parseEnvelope(src.bytes);
    const type = typeOfPayloadType(env.payloadType);
    let payload: unknown = null;
    let payloadText: string | undefined;
    try {
      payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(env.payload));
    } catch {
      payloadText = Buffer.from(env.payload).toString('base64');
    }
    const s = style(io);
    io.stderr.write(`${s.yellow('note:')} not verified: inspect only decodes the bundle; pinctl bundle verify checks its signatures\n`);
    if (opts.json) {
      printJson(io, {
        verified: false,
        payloadType: env.payloadType,
        type,
        signatures: env.signatures.map((sig) => ({ keyid: sig.keyid })),
        payload,
        ...(payloadText !== undefined ? { payloadBase64: payloadText } : {}),
      });
      return 0;
    }
    const o = style(io, io.stdout);
    const lines = [
      `${o.bold('payloadType')}  ${env.payloadType}${type ? ` (${type})` : ' (not a pinctl type)'}`,
      `${o.bold('signatures')}   ${env.signatures.length} (not verified)`,
      ...env.signatures.map((sig) => `  keyid ${sig.keyid || '(empty)'}`),
      `${o.bold('payload')}${payloadText !== undefined ? '      (not UTF-8 JSON; base64)' : ''}`,
      payloadText ?? JSON.stringify(payload, null, 2),
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  });
}
