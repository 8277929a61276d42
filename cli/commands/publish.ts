/**
 * `pinctl publish --out DIR`: the service's public responses as static files, for any CDN or web
 * server. The bytes come from the data directory of `pinctl serve` (--data) or are signed now
 * (--pins / --trust-roots); either way they are exactly what GET returns at the same path.
 */
import { resolve } from 'node:path';
import { CliIO } from '../io.js';
import { ensureOutputDir, readSource } from '../files.js';
import { printError, printJson, style } from '../style.js';
import { InputError, PinctlError } from '../../src/errors.js';
import { parseEnvelope } from '../../src/bundle/envelope.js';
import { decodePayload } from '../../src/bundle/payload.js';
import { PAYLOAD_TYPES } from '../../src/bundle/types.js';
import { BundleStore } from '../../src/service/store.js';
import { keysDocument, readPublicKeyFile } from '../../src/service/keys.js';
import { Common, parseAudience, parsePinsJson, parseVersion, pinsPayload, signPayload, trustRootsFromCertificates, trustRootsPayload } from '../../src/service/payloads.js';
import { PublicSources, publicPaths } from '../../src/service/routes.js';
import { writeStaticSite } from '../../src/service/static.js';
import { parseExpiresIn, rfc3339, validity } from '../../src/service/time.js';
import { readSigners } from './bundle.js';

export interface PublishOptions {
  out: string;
  data?: string;
  pins?: string;
  trustRoots?: string;
  keysetBundle: string[];
  key: string[];
  publicKey: string[];
  audience?: string;
  version?: string;
  expiresIn: string;
  json?: boolean;
}

export async function publishCommand(opts: PublishOptions, io: CliIO): Promise<number> {
  try {
    return await publish(opts, io);
  } catch (e) {
    printError(io, e);
    return e instanceof PinctlError ? e.exitCode : 2;
  }
}

async function publish(opts: PublishOptions, io: CliIO): Promise<number> {
  const s = style(io);
  const signing = opts.pins !== undefined || opts.trustRoots !== undefined;
  if (opts.data !== undefined && signing) throw new InputError('USAGE', '--data exports what serve published; --pins/--trust-roots sign new bundles: give one or the other');
  if (opts.data === undefined && !signing && opts.keysetBundle.length === 0) {
    throw new InputError('USAGE', 'nothing to publish: expected --data DIR (the data directory of pinctl serve) or --pins FILE / --trust-roots FILE', {
      hint: 'pinctl publish --out site/ --data /var/lib/pinctl --key pinctl-signing.key',
    });
  }
  const src: PublicSources = { keysets: [] };
  let keysFromKeys: Uint8Array | undefined;
  const signers = opts.key.length > 0 ? readSigners(opts.key, io) : [];
  if (signers.length > 0 || opts.publicKey.length > 0) {
    keysFromKeys = keysDocument([...signers.map((k) => k.publicKey), ...opts.publicKey.map((p) => readPublicKeyFile(resolve(io.cwd, p), p))]);
  }

  if (opts.data !== undefined) {
    const store = BundleStore.open(resolve(io.cwd, opts.data), { create: false });
    for (const w of store.warnings) io.stderr.write(`${s.yellow('warning:')} ${w}\n`);
    src.pins = store.current('pins')?.bytes;
    src.trustRoots = store.current('trust-roots')?.bytes;
    src.keysets = store.keysetHistory();
    src.keys = keysFromKeys ?? store.readKeysDocument();
    if (!src.pins && !src.trustRoots && src.keysets.length === 0) {
      throw new InputError('INPUT_NOT_FOUND', `--data ${opts.data}: nothing has been published there yet`, { hint: 'publish with POST /v1/bundles/pins first, or sign here with --pins FILE' });
    }
  } else {
    if (signing && signers.length === 0) throw new InputError('USAGE', '--key: expected the private signing key to sign --pins/--trust-roots with');
    src.keys = keysFromKeys;
    if (signing) {
      const audience = parseAudience(opts.audience);
      if (opts.version === undefined) throw new InputError('USAGE', '--version: expected the version of the new bundles (last published + 1)');
      const common: Common = { audience, version: parseVersion(opts.version), ...validity(io.now(), parseExpiresIn(opts.expiresIn)) };
      if (opts.pins !== undefined) {
        const f = await readSource(opts.pins, io);
        src.pins = signPayload(pinsPayload(parsePinsJson(Buffer.from(f.bytes).toString('utf8'), f.name), common, f.name), signers);
      }
      if (opts.trustRoots !== undefined) {
        const f = await readSource(opts.trustRoots, io);
        src.trustRoots = signPayload(trustRootsPayload(trustRootsFromCertificates(f.bytes, f.name), common, f.name), signers);
      }
    }
  }
  for (const file of opts.keysetBundle) {
    const f = await readSource(file, io);
    const env = parseEnvelope(f.bytes);
    if (env.payloadType !== PAYLOAD_TYPES.keyset) throw new InputError('USAGE', `--keyset-bundle ${file}: expected a keyset bundle, found payloadType ${env.payloadType}`);
    const p = decodePayload(env.payload, 'keyset');
    src.keysets = [...src.keysets.filter((k) => k.version !== p.version), { version: p.version, bytes: f.bytes }];
  }
  if (!src.keys) io.stderr.write(`${s.yellow('warning:')} no /v1/keys written: give --key or --public-key\n`);

  const dir = ensureOutputDir(opts.out, '--out', io);
  const written = writeStaticSite(dir, publicPaths(src));
  const refresh = refreshTime(src);
  if (opts.json) {
    printJson(io, { out: opts.out, files: written, ...(refresh ? { refreshBy: refresh.by, expiresAt: refresh.expiresAt } : {}) });
  } else {
    for (const w of written) io.stdout.write(`${w.path}  ${w.file}  ${w.bytes} bytes  ETag ${w.etag}\n`);
    io.stderr.write(
      (refresh
        ? `${s.dim('note:')} refresh this copy by ${refresh.by} (half of the validity of ${refresh.what}, which expires at ${refresh.expiresAt}): ` +
          'static bundles are not re-signed; run pinctl publish --out again from a running serve --data, or sign anew\n'
        : '') +
      `${s.dim('note:')} serve ${opts.out} with Content-Type: application/json and Cache-Control: public, max-age=60${written.some((w) => w.path === '/v1/keyset') ? '; map /v1/keyset to v1/keyset/index.json' : ''}\n`,
    );
  }
  if (refresh && Date.parse(refresh.expiresAt) <= io.now().getTime()) {
    io.stderr.write(`${s.yellow('warning:')} ${refresh.what} expired at ${refresh.expiresAt}: clients refuse it\n`);
  } else if (refresh && Date.parse(refresh.by) <= io.now().getTime()) {
    io.stderr.write(`${s.yellow('warning:')} ${refresh.what} is past half of its validity (expires ${refresh.expiresAt}): publish a fresher copy soon\n`);
  }
  return 0;
}

/**
 * When a static copy must be replaced: at half of the validity of its soonest-expiring bundle
 * (the time `pinctl serve` would re-sign it). Keysets are signed offline and not counted.
 */
export function refreshTime(src: PublicSources): { by: string; expiresAt: string; what: string } | null {
  let best: { by: number; expiresAt: string; what: string } | null = null;
  for (const [type, bytes] of [['pins', src.pins], ['trust-roots', src.trustRoots]] as const) {
    if (!bytes) continue;
    const p = decodePayload(parseEnvelope(bytes).payload, type);
    const issued = Date.parse(p.issuedAt);
    const by = issued + (Date.parse(p.expiresAt) - issued) / 2;
    if (!best || by < best.by) best = { by, expiresAt: p.expiresAt, what: `${type} v${p.version}` };
  }
  return best ? { by: rfc3339(new Date(best.by)), expiresAt: best.expiresAt, what: best.what } : null;
}
