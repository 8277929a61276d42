/**
 * pins.json (format "pinctl.pins.v1"): the lossless form of a PinSet, consumed by the signing
 * service. Writing fixes the key order; reading validates every field and names its path, because
 * whatever this accepts ends up signed and shipped.
 */
import { DomainPins, Endpoint, Pin, PinRole, PinSet } from '../core/model.js';
import { isPin } from '../vocab/pin.js';
import { normalizeHostName } from '../vocab/hostname.js';
import { InputError } from '../errors.js';
import { ROLES, isDate, isHostName } from './validate.js';

export const JSON_FORMAT = 'pinctl.pins.v1';

/** `indent` is the file's own when an existing pins.json is updated in place. */
export function renderJson(pinSet: PinSet, indent: string | number = 2): string {
  const doc = {
    format: JSON_FORMAT,
    expiration: pinSet.expiration,
    domains: pinSet.domains.map((d) => ({
      domain: d.domain.toLowerCase(),
      includeSubdomains: d.includeSubdomains,
      pins: d.pins.map((p) => ({ spkiSha256: p.spkiSha256, role: p.role, subject: p.subject, notAfter: p.notAfter, source: p.source })),
      endpoints: d.endpoints.map((e) => ({ host: e.host, port: e.port, addresses: [...e.addresses] })),
    })),
  };
  return `${JSON.stringify(doc, null, indent)}\n`;
}

type Obj = Record<string, unknown>;

class Found {
  constructor(readonly text: string) {}
}

class Reader {
  constructor(private readonly source: string) {}

  /** `found` is a value to describe, or (as Found) words that already describe it. */
  fail(path: string, expected: string, found: unknown): never {
    const what = found instanceof Found ? found.text : describe(found);
    throw new InputError('CONFIG_MALFORMED', `${this.source}: ${path}: expected ${expected}, found ${what}`, {
      hint: `fix ${path}, or regenerate the file with pinctl`,
    });
  }

  object(v: unknown, path: string, keys: readonly string[]): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path || 'the document', 'an object', v);
    const o = v as Obj;
    const at = (k: string) => (path ? `${path}.${k}` : k);
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) this.fail(at(k), `only the fields ${keys.join(', ')}`, new Found(`an unknown field "${k}"`));
    }
    for (const k of keys) {
      if (!Object.prototype.hasOwnProperty.call(o, k)) this.fail(at(k), 'a value', new Found('nothing (the field is missing)'));
    }
    return o;
  }

  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'an array', v);
    return v;
  }

  string(v: unknown, path: string, nullable = false): string {
    if (typeof v === 'string' || (nullable && v === null)) return v as string;
    return this.fail(path, nullable ? 'a string or null' : 'a string', v);
  }

  bool(v: unknown, path: string): boolean {
    if (typeof v !== 'boolean') this.fail(path, 'true or false', v);
    return v;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  return `${typeof v} ${String(v)}`;
}

function jsonSyntaxError(text: string, source: string, e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  const at = /position (\d+)/.exec(msg);
  let where = '';
  if (at) {
    const pos = Number(at[1]);
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    where = ` at line ${line}, column ${pos - before.lastIndexOf('\n')}`;
  }
  throw new InputError('CONFIG_MALFORMED', `${source}: expected JSON, found a syntax error${where}: ${msg.split('\n')[0]}`, {
    hint: 'the file is truncated or was edited by hand; regenerate it with pinctl',
  });
}

export function readJson(text: string, source: string): PinSet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    jsonSyntaxError(text, source, e);
  }
  const r = new Reader(source);
  const root = r.object(doc, '', ['format', 'expiration', 'domains']);
  if (root.format !== JSON_FORMAT) {
    if (typeof root.format === 'string') {
      throw new InputError('CONFIG_UNSUPPORTED', `${source}: format: expected "${JSON_FORMAT}", found ${describe(root.format)}`, {
        hint: 'this pinctl reads only pinctl.pins.v1; upgrade pinctl or regenerate the file',
      });
    }
    r.fail('format', `"${JSON_FORMAT}"`, root.format);
  }
  const expiration = r.string(root.expiration, 'expiration', true);
  if (expiration !== null && !isDate(expiration)) r.fail('expiration', 'a date YYYY-MM-DD or null', expiration);
  const seen = new Set<string>();
  const domains = r.array(root.domains, 'domains').map((dv, i): DomainPins => {
    const at = `domains[${i}]`;
    const d = r.object(dv, at, ['domain', 'includeSubdomains', 'pins', 'endpoints']);
    const domain = r.string(d.domain, `${at}.domain`);
    if (!isHostName(domain) || domain.trim().endsWith('.')) r.fail(`${at}.domain`, 'a host name such as api.example.com (letters, digits, hyphens, dots)', domain);
    if (seen.has(domain.toLowerCase())) r.fail(`${at}.domain`, 'each domain once', new Found(`${domain} a second time`));
    seen.add(domain.toLowerCase());
    const includeSubdomains = r.bool(d.includeSubdomains, `${at}.includeSubdomains`);
    const pinList = r.array(d.pins, `${at}.pins`);
    if (pinList.length === 0) r.fail(`${at}.pins`, 'at least one pin', new Found('an empty array'));
    const pins = pinList.map((pv, j) => readPin(r, pv, `${at}.pins[${j}]`, domain));
    const endpoints = r.array(d.endpoints, `${at}.endpoints`).map((ev, j) => readEndpoint(r, ev, `${at}.endpoints[${j}]`));
    return { domain: normalizeHostName(domain), includeSubdomains, pins, endpoints };
  });
  if (domains.length === 0) r.fail('domains', 'at least one domain', new Found('an empty array'));
  return { expiration, domains };
}

function readPin(r: Reader, v: unknown, at: string, domain: string): Pin {
  const p = r.object(v, at, ['spkiSha256', 'role', 'subject', 'notAfter', 'source']);
  const spki = r.string(p.spkiSha256, `${at}.spkiSha256`);
  if (!isPin(spki)) {
    r.fail(`${at}.spkiSha256`, `a pin for ${domain} (base64 of 32 bytes: 43 characters and "=")`, spki);
  }
  const role = r.string(p.role, `${at}.role`);
  if (!ROLES.includes(role as PinRole)) r.fail(`${at}.role`, `one of ${ROLES.join(', ')}`, role);
  const subject = r.string(p.subject, `${at}.subject`, true);
  const notAfter = r.string(p.notAfter, `${at}.notAfter`, true);
  if (notAfter !== null && (!/^\d{4}-\d{2}-\d{2}T/.test(notAfter) || Number.isNaN(Date.parse(notAfter)))) {
    r.fail(`${at}.notAfter`, 'an ISO 8601 date-time or null', notAfter);
  }
  const source = r.string(p.source, `${at}.source`);
  return { spkiSha256: spki, role: role as PinRole, subject, notAfter, source };
}

function readEndpoint(r: Reader, v: unknown, at: string): Endpoint {
  const e = r.object(v, at, ['host', 'port', 'addresses']);
  const host = r.string(e.host, `${at}.host`);
  if (host === '') r.fail(`${at}.host`, 'a host name', host);
  if (typeof e.port !== 'number' || !Number.isInteger(e.port) || e.port < 1 || e.port > 65535) {
    r.fail(`${at}.port`, 'a port number 1-65535', e.port);
  }
  const addresses = r.array(e.addresses, `${at}.addresses`).map((a, k) => r.string(a, `${at}.addresses[${k}]`));
  return { host, port: e.port, addresses };
}
