/**
 * `pinctl serve`: the signing service on node:http (docs/SPEC.md §6). The only place that listens
 * for SIGINT/SIGTERM: on either it stops accepting, lets in-flight requests finish, closes the
 * store and returns 0.
 */
import { resolve } from 'node:path';
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { CliIO } from '../io.js';
import { printError, style } from '../style.js';
import { InputError, PinctlError, describeError } from '../../src/errors.js';
import { parseDuration } from '../../src/core/target.js';
import { BundleStore } from '../../src/service/store.js';
import { PinService } from '../../src/service/service.js';
import { RunningServer, TlsFiles, createHandler, listen } from '../../src/service/http.js';
import { TokenBucketLimiter, parseRate } from '../../src/service/rate-limit.js';
import { DEFAULT_GUARD_TIMEOUT_MS } from '../../src/service/guard.js';
import { parseAudience } from '../../src/service/payloads.js';
import { parseExpiresIn } from '../../src/service/time.js';
import { readSigners } from './bundle.js';
import { loadCaFile, loadSystemStore } from '../../src/net/trust-store-file.js';
import type { TrustStore } from '../../src/core/trust-store.js';
import { Resigner, startResigner } from '../../src/service/resigner.js';
import { RootRole, embeddedRootRole } from '../../src/bundle/keys.js';
import { readPublicKeyFile } from '../../src/service/keys.js';

export const ADMIN_TOKEN_ENV = 'PINCTL_ADMIN_TOKEN';

export interface ServeOptions {
  listen: string;
  key: string[];
  data: string;
  audience?: string;
  expiresIn: string;
  guardTimeout?: string;
  reportsRate: string;
  /** PEM certificate chain and private key: serve HTTPS (both or neither; re-read on SIGHUP). */
  tlsCert?: string;
  tlsKey?: string;
  /** Trust store published trust roots must be anchors of (default: the system store). */
  caFile?: string;
  /** SPEC §7.7: the current keyset signed offline by the root keys; it must name a --key. */
  rootKeyset?: string;
  /** SPEC §7: the current root public keys; keysets posted to the admin API are verified against them. */
  rootKey?: string[];
  rootThreshold?: string;
}

/** Where shutdown requests come from: process signals by default, injectable for tests. */
export type SignalSource = (onSignal: (name: string) => void) => () => void;

export const processSignals: SignalSource = (onSignal) => {
  const handler = (name: NodeJS.Signals) => onSignal(name);
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
};

/** SIGHUP: re-read the TLS certificate and key (process signals by default, injectable for tests). */
export const processReloads: SignalSource = (onSignal) => {
  const handler = (name: NodeJS.Signals) => onSignal(name);
  process.on('SIGHUP', handler);
  return () => process.off('SIGHUP', handler);
};

/** Loopback listeners only: 127.0.0.0/8, ::1, localhost. Anything else is reachable from the network. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * Reads and checks a certificate chain and key (PEM): both must load and belong together, so a
 * bad pair is refused at start-up (exit 2) or, on SIGHUP, leaves the served pair in place.
 */
export function readTlsFiles(certFile: string, keyFile: string, cwd: string): TlsFiles {
  const read = (file: string, flag: string) => {
    try {
      return new Uint8Array(readFileSync(resolve(cwd, file)));
    } catch (e) {
      throw new InputError('INPUT_NOT_FOUND', `${flag} ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? describeError(e)})`, { hint: 'give the PEM certificate chain (--tls-cert) and its private key (--tls-key)' });
    }
  };
  const files = { cert: read(certFile, '--tls-cert'), key: read(keyFile, '--tls-key') };
  try {
    createSecureContext({ cert: Buffer.from(files.cert), key: Buffer.from(files.key) });
  } catch (e) {
    throw new InputError('USAGE', `--tls-cert ${certFile} / --tls-key ${keyFile}: expected a PEM certificate chain and its private key (${describeError(e)})`, {
      hint: 'the key must be the one the first certificate was issued for (openssl x509 -noout -pubkey -in CERT; openssl pkey -pubout -in KEY)',
    });
  }
  return files;
}

/** "127.0.0.1:8080", "[::1]:8080", ":8080" or "8080" (loopback by default). */
export function parseListen(value: string): { host: string; port: number } {
  const v = value.trim();
  const bad = () => new InputError('USAGE', `--listen ${value}: expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080`);
  let host = '127.0.0.1';
  let portText = v;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(v);
  const v4 = /^([^:\[\]]*):(\d+)$/.exec(v);
  if (v6) {
    if (isIP(v6[1]!) !== 6) throw bad();
    host = v6[1]!;
    portText = v6[2]!;
  } else if (v4) {
    if (v4[1]) host = v4[1];
    portText = v4[2]!;
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad();
  return { host, port: Number(portText) };
}

export interface StartedServe {
  url: string;
  server: RunningServer;
  service: PinService;
  /** Automatic re-signing before half of a bundle's validity is gone. */
  resigner: Resigner;
  /** Re-read --tls-cert/--tls-key for new connections (SIGHUP); a bad pair keeps the served one. */
  reloadTls(): { ok: true } | { ok: false; error: unknown };
  /** Stop the server and release the data directory. */
  stop(): Promise<void>;
}

/** Everything up to listening; the command then waits for a signal. Exposed for tests. */
export async function startServe(opts: ServeOptions, io: CliIO): Promise<StartedServe> {
  const s = style(io);
  const token = io.env[ADMIN_TOKEN_ENV];
  if (token === undefined || token.trim() === '') {
    throw new InputError('USAGE', `${ADMIN_TOKEN_ENV} is not set: the publish routes need an admin token`, {
      hint: `export ${ADMIN_TOKEN_ENV}="$(openssl rand -hex 32)" and send it as Authorization: Bearer TOKEN`,
    });
  }
  if (token.length < 16) io.stderr.write(`${s.yellow('warning:')} ${ADMIN_TOKEN_ENV} is only ${token.length} characters; use at least 32 random ones (openssl rand -hex 32)\n`);
  const { host, port } = parseListen(opts.listen);
  const validityMs = parseExpiresIn(opts.expiresIn);
  const guardTimeoutMs = opts.guardTimeout === undefined ? DEFAULT_GUARD_TIMEOUT_MS : parseDuration(opts.guardTimeout, '--guard-timeout');
  const rate = parseRate(opts.reportsRate);
  if (!rate) throw new InputError('USAGE', `--reports-rate ${opts.reportsRate}: expected N/min, N/s or N/h (e.g. 10/min)`);
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
    throw new InputError('USAGE', `${opts.tlsCert === undefined ? '--tls-key' : '--tls-cert'} given alone: expected both --tls-cert FILE and --tls-key FILE`);
  }
  const tls = opts.tlsCert !== undefined ? readTlsFiles(opts.tlsCert, opts.tlsKey!, io.cwd) : undefined;
  if (!tls && !isLoopbackHost(host)) {
    io.stderr.write(
      `${s.yellow('warning:')} --listen ${opts.listen} is reachable from the network and serves plain HTTP: the admin token and published pins cross it in clear; ` +
        'give --tls-cert FILE --tls-key FILE, or listen on 127.0.0.1 behind a TLS reverse proxy (see the README)\n',
    );
  }
  const signers = readSigners(opts.key, io);
  const root = readRootRole(opts, io);
  // --ca-file is read now (a typo fails the start); the system store when first needed.
  let trustStore: TrustStore | undefined = opts.caFile !== undefined ? loadCaFile(resolve(io.cwd, opts.caFile)) : undefined;
  if (!opts.data) throw new InputError('USAGE', '--data: expected the data directory');

  const store = BundleStore.open(resolve(io.cwd, opts.data), { lock: true });
  try {
    for (const w of store.warnings) io.stderr.write(`${s.yellow('warning:')} ${w}\n`);
    const cfg = store.readConfig();
    let audience: string;
    if (opts.audience !== undefined) {
      audience = parseAudience(opts.audience);
      if (cfg.audience !== undefined && cfg.audience !== audience) {
        throw new InputError('USAGE', `--audience ${audience}: the data directory ${opts.data} belongs to audience ${JSON.stringify(cfg.audience)}`, {
          hint: 'versions are counted per audience: use one data directory per app (or drop --audience to use the stored one)',
        });
      }
      if (cfg.audience === undefined && store.writable) store.writeConfig({ ...cfg, audience });
    } else if (cfg.audience !== undefined) {
      audience = parseAudience(cfg.audience, `${opts.data}/config.json audience`);
    } else {
      throw new InputError('USAGE', `--audience: expected the app the bundles are for, on the first start with ${opts.data}`, {
        hint: 'pinctl serve --audience com.example.app ... (it is kept in DIR/config.json for later starts)',
      });
    }
    const service = new PinService({
      store,
      signers,
      root,
      audience,
      validityMs,
      now: () => io.now(),
      guard: { timeoutMs: guardTimeoutMs, probe: io.probe, resolve: io.resolve },
      trustStore: () => (trustStore ??= loadSystemStore(io.env)),
      log: (line) => io.stderr.write(`${line}\n`),
    });
    if (opts.rootKeyset !== undefined) {
      for (const n of await service.adoptRootKeyset(readRootKeyset(resolve(io.cwd, opts.rootKeyset), opts.rootKeyset), opts.rootKeyset)) io.stderr.write(`${s.dim('note:')} ${n}\n`);
    }
    for (const w of service.startupWarnings()) io.stderr.write(`${s.yellow('warning:')} ${w}\n`);
    if (store.writable) store.writeKeysDocument(service.keys);
    const handler = createHandler({
      service,
      adminToken: token,
      reportLimiter: new TokenBucketLimiter(rate),
      onError: (e) => io.stderr.write(`${s.red('error:')} internal: ${describeError(e)}\n`),
    });
    let server: RunningServer;
    try {
      server = await listen(handler, host, port, { fastPath: (path) => service.entries.get(path), tls });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new InputError('USAGE', `--listen ${opts.listen}: cannot listen (${code})`, {
        hint: code === 'EADDRINUSE' ? 'another process uses that port: pick another, or :0 for any free one' : code === 'EACCES' ? 'ports below 1024 need privileges: use a higher port behind a proxy' : undefined,
      });
    }
    io.stdout.write(`listening on ${server.url}\n`);
    const v = service.versions();
    io.stderr.write(
      `${s.dim('note:')} audience ${audience}; signing key${signers.length > 1 ? 's' : ''} ${signers.map((k) => k.keyid).join(', ')}; data ${opts.data}; ` +
        `published pins ${v.pins ?? '-'}, trust-roots ${v['trust-roots'] ?? '-'}, keyset ${v.keyset ?? '-'}${store.writable ? '' : '; READ-ONLY'}\n`,
    );
    const resigner = startResigner(service, (type, outcome) => {
      const b = outcome.body;
      if (outcome.ok) io.stderr.write(`${s.dim('note:')} re-signed ${type} as v${b.version} (same content), valid until ${b.expiresAt}\n`);
      else io.stderr.write(`${s.red('error:')} re-signing ${type} failed: ${String(outcome.body.error)}; retrying in a minute\n`);
    });
    let stopping: Promise<void> | null = null;
    return {
      url: server.url,
      server,
      service,
      resigner,
      reloadTls: () => {
        if (!tls) return { ok: false, error: new InputError('USAGE', 'nothing to reload: serve runs without --tls-cert/--tls-key') };
        try {
          server.reloadTls(readTlsFiles(opts.tlsCert!, opts.tlsKey!, io.cwd));
          return { ok: true };
        } catch (e) {
          return { ok: false, error: e };
        }
      },
      stop: () =>
        (stopping ??= (resigner.stop(), server.close().finally(() => store.close()))),
    };
  } catch (e) {
    store.close();
    throw e;
  }
}

export async function serveCommand(
  opts: ServeOptions,
  io: CliIO,
  signals: SignalSource = processSignals,
  reloads: SignalSource = processReloads,
): Promise<number> {
  let started: StartedServe;
  try {
    started = await startServe(opts, io);
  } catch (e) {
    printError(io, e);
    return e instanceof PinctlError ? e.exitCode : 2;
  }
  const s = style(io);
  const offReload = reloads((n) => {
    const r = started.reloadTls();
    if (r.ok) io.stderr.write(`${s.dim('note:')} ${n}: reloaded ${opts.tlsCert} and ${opts.tlsKey} for new connections\n`);
    else io.stderr.write(`${s.yellow('warning:')} ${n}: TLS not reloaded, still serving the previous certificate: ${describeError(r.error).replace(/\s+/g, ' ')}\n`);
  });
  const name = await new Promise<string>((done) => {
    const off = signals((n) => {
      off();
      done(n);
    });
  });
  offReload();
  io.stderr.write(`${s.dim('note:')} ${name}: shutting down\n`);
  await started.stop();
  return 0;
}

function readRootKeyset(path: string, shown: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new InputError('INPUT_NOT_FOUND', `--root-keyset ${shown}: cannot read (${(e as NodeJS.ErrnoException).code ?? describeError(e)})`, {
      hint: 'give the keyset file pinctl bundle create --keyset ... --key ROOT.key wrote',
    });
  }
}

/** `--root-key PUB... [--root-threshold N]`: the root role the service checks keysets against (SPEC §7.3). */
function readRootRole(opts: ServeOptions, io: CliIO): RootRole | undefined {
  const files = opts.rootKey ?? [];
  if (files.length === 0) {
    if (opts.rootThreshold !== undefined) throw new InputError('USAGE', '--root-threshold: expected with --root-key');
    return undefined;
  }
  const keys = files.map((f) => readPublicKeyFile(resolve(io.cwd, f), f));
  const threshold = opts.rootThreshold === undefined ? 1 : /^\d{1,2}$/.test(opts.rootThreshold) ? Number(opts.rootThreshold) : NaN;
  const distinct = new Set(keys.map((k) => Buffer.from(k).toString('hex'))).size;
  if (!(threshold >= 1 && threshold <= distinct)) {
    throw new InputError('USAGE', `--root-threshold ${opts.rootThreshold}: expected 1 to ${distinct} (the distinct --root-key keys)`);
  }
  // The service does not freeze (SPEC §7.5 is the apps' rule): its root role does not expire.
  return embeddedRootRole(keys, threshold, Number.POSITIVE_INFINITY);
}
