import { resolve } from 'node:path';
import { CliIO } from './io.js';
import { InputError } from '../src/errors.js';
import { ResolveOverride, parseDuration, parseResolve } from '../src/core/target.js';
import { TrustStore } from '../src/core/trust-store.js';
import type { Warning } from '../src/core/model.js';
import { loadCaFile, loadSystemStore } from '../src/net/trust-store-file.js';

export interface NetOptions {
  caFile?: string;
  resolve: string[];
  timeout: string;
  port?: string;
}

export interface NetSettings {
  store: TrustStore;
  overrides: ResolveOverride[];
  timeoutMs: number;
  port: number;
}

/** A --resolve that matches no probed host:port is almost always a typo: say so rather than let DNS answer. */
export function unusedResolves(overrides: ResolveOverride[], targets: { host: string; port: number }[]): Warning[] {
  return overrides
    .filter((o) => !targets.some((t) => t.host === o.host && t.port === o.port))
    .map((o) => ({
      code: 'unused-resolve',
      severity: 'warning' as const,
      message: `--resolve ${o.host}:${o.port}:${o.addresses.join(',')} matched no host:port probed (${targets.map((t) => `${t.host}:${t.port}`).join(', ') || 'none'}); give the port with the host, as curl does`,
    }));
}

export function netSettings(opts: NetOptions, io: CliIO): NetSettings {
  const port = Number(opts.port ?? '443');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InputError('USAGE', `--port ${opts.port}: expected a port from 1 to 65535`);
  return {
    timeoutMs: parseDuration(opts.timeout),
    overrides: opts.resolve.map(parseResolve),
    store: opts.caFile ? loadCaFile(resolve(io.cwd, opts.caFile)) : loadSystemStore(io.env),
    port,
  };
}
