/**
 * Endpoint syntax: `host`, `host:port`, `[v6]:port`, a bare IPv6 address, or an https:// URL;
 * `--resolve host:port:address[,address]` in curl's syntax; `--timeout 5`, `5s` or `500ms`.
 */
import { isIP } from 'node:net';
import { InputError } from '../errors.js';

export interface Target {
  /** Host name (lower case) or IP literal without brackets. */
  host: string;
  port: number;
  /** What the user typed, for messages. */
  input: string;
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

export function isHostname(h: string): boolean {
  if (h.length === 0 || h.length > 253) return false;
  return h.replace(/\.$/, '').split('.').every((l) => LABEL.test(l));
}

function parsePort(p: string, input: string): number {
  if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) {
    throw new InputError('TARGET_INVALID', `${input}: expected a port from 1 to 65535, found "${p}"`);
  }
  return Number(p);
}

export function parseTarget(input: string, defaultPort = 443): Target {
  let s = input.trim();
  const url = /^https?:\/\//i.exec(s);
  if (url) {
    try {
      const u = new URL(s);
      s = u.port ? `${u.hostname}:${u.port}` : u.hostname;
    } catch {
      throw new InputError('TARGET_INVALID', `${input}: not a valid URL`);
    }
  }
  let host: string;
  let port = defaultPort;
  const bracket = /^\[([0-9a-fA-F:.%a-zA-Z]+)\](?::(.*))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = parsePort(bracket[2], input);
    if (isIP(host) !== 6) throw new InputError('TARGET_INVALID', `${input}: "${host}" in brackets is not an IPv6 address`);
  } else if (isIP(s) === 6) {
    host = s;
  } else {
    const idx = s.lastIndexOf(':');
    if (idx >= 0) {
      host = s.slice(0, idx);
      port = parsePort(s.slice(idx + 1), input);
    } else {
      host = s;
    }
    host = host.toLowerCase();
    if (!isIP(host) && !isHostname(host)) {
      throw new InputError('TARGET_INVALID', `${input}: expected host, host:port or [IPv6]:port, found "${input}"`, {
        hint: 'examples: api.example.com, api.example.com:8443, [2001:db8::1]:443',
      });
    }
  }
  return { host: host.replace(/\.$/, ''), port, input };
}

export interface ResolveOverride {
  host: string;
  port: number;
  addresses: string[];
}

/** curl's --resolve: HOST:PORT:ADDR[,ADDR]...; IPv6 addresses may be bracketed. */
export function parseResolve(spec: string): ResolveOverride {
  const m = /^([^:\s]+):(\d+):(.+)$/.exec(spec.trim());
  if (!m) {
    throw new InputError('TARGET_INVALID', `--resolve ${spec}: expected HOST:PORT:ADDRESS (curl syntax)`, {
      hint: 'example: --resolve api.example.com:443:127.0.0.1',
    });
  }
  const port = parsePort(m[2]!, `--resolve ${spec}`);
  const addresses = m[3]!.split(',').map((a) => a.trim().replace(/^\[(.*)\]$/, '$1'));
  for (const a of addresses) {
    if (!isIP(a)) throw new InputError('TARGET_INVALID', `--resolve ${spec}: "${a}" is not an IP address`);
  }
  return { host: m[1]!.toLowerCase().replace(/\.$/, ''), port, addresses };
}

/** "5" and "5s" are seconds, "500ms" milliseconds. */
export function parseDuration(value: string, flag = '--timeout'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value.trim());
  if (!m) throw new InputError('USAGE', `${flag} ${value}: expected seconds (5, 2.5s) or milliseconds (500ms)`);
  const ms = Math.round(m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000);
  if (ms < 1 || ms > 600_000) throw new InputError('USAGE', `${flag} ${value}: expected a duration between 1ms and 600s`);
  return ms;
}

export function formatAddress(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}
