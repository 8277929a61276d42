/** Reads pins out of the two plist formats: ATS NSPinnedDomains and TrustKit's TSKConfiguration. */
import { DomainPins, Pin, Warning } from '../core/model.js';
import { InputError } from '../errors.js';
import { PlistDict, PlistValue, isPlistDict, plistLine } from './plist.js';
import { ReadOutput, anyPositionPins, checkDomain, checkPin, foldExpirations, rolePin, where } from './read-common.js';
import { isDate } from './validate.js';

class At {
  constructor(readonly source: string, readonly path: string[], readonly line: number | undefined) {}
  child(key: string, value?: PlistValue): At {
    const line = value !== undefined && typeof value === 'object' ? plistLine(value) ?? this.line : this.line;
    return new At(this.source, [...this.path, key], line);
  }
  toString(): string {
    return `${where(this.source, this.line)}: ${this.path.join(' › ')}`;
  }
  fail(expected: string, found: PlistValue | undefined): never {
    throw new InputError('CONFIG_MALFORMED', `${this}: expected ${expected}, found ${kind(found)}`, {
      hint: `check it with: plutil -lint ${this.source}`,
    });
  }
}

function kind(v: PlistValue | undefined): string {
  if (v === undefined) return 'nothing (the key is missing)';
  if (typeof v === 'string') return `the string "${v.length > 60 ? `${v.slice(0, 60)}…` : v}"`;
  if (typeof v === 'boolean') return `<${v}/>`;
  if (typeof v === 'number') return `the number ${v}`;
  if (v instanceof Date) return 'a <date>';
  if (v instanceof Uint8Array) return 'a <data>';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty <array>' : 'an <array>';
  return 'a <dict>';
}

function dict(v: PlistValue | undefined, at: At): PlistDict {
  if (!isPlistDict(v)) at.fail('a <dict>', v);
  return v;
}

function optBool(v: PlistValue | undefined, at: At): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  return at.fail('<true/> or <false/>', v);
}

/** Where the pinned-domains dict of each format is, or null when the plist has none. */
export function findIos(root: PlistValue): PlistDict | null {
  if (!isPlistDict(root)) return null;
  const ats = root.NSAppTransportSecurity;
  if (isPlistDict(ats) && ats.NSPinnedDomains !== undefined) return ats;
  return root.NSPinnedDomains !== undefined ? root : null;
}

export function findTrustkit(root: PlistValue): PlistDict | null {
  if (!isPlistDict(root)) return null;
  if (isPlistDict(root.TSKConfiguration)) return root.TSKConfiguration;
  return root.TSKPinnedDomains !== undefined ? root : null;
}

/**
 * ATS: leaf identities must match the leaf, CA identities any CA of the chain, and ATS needs a
 * match in each list present. Leaf identities come back as role 'leaf', CA identities as
 * 'intermediate'; with format 'ios' a checker applies exactly that rule. iOS has no expiration.
 */
export function readIos(ats: PlistDict, source: string): ReadOutput {
  const base = new At(source, ['NSPinnedDomains'], plistLine(ats));
  const pinned = dict(ats.NSPinnedDomains, base);
  const seen = new Map<string, string>();
  const domains: DomainPins[] = [];
  for (const [name, cfgValue] of Object.entries(pinned)) {
    const at = base.child(name, cfgValue);
    const cfg = dict(cfgValue, at);
    const domain = checkDomain(name, seen, String(at));
    const includeSubdomains = optBool(cfg.NSIncludesSubdomains, at.child('NSIncludesSubdomains')) ?? false;
    const leaf = identities(cfg.NSPinnedLeafIdentities, at.child('NSPinnedLeafIdentities', cfg.NSPinnedLeafIdentities), domain);
    const ca = identities(cfg.NSPinnedCAIdentities, at.child('NSPinnedCAIdentities', cfg.NSPinnedCAIdentities), domain);
    if (!leaf && !ca) at.fail('NSPinnedLeafIdentities or NSPinnedCAIdentities (ATS requires one)', undefined);
    const pins: Pin[] = [
      ...(leaf ?? []).map((v) => rolePin(v, 'leaf', source)),
      ...(ca ?? []).map((v) => rolePin(v, 'intermediate', source)),
    ];
    domains.push({ domain, includeSubdomains, pins, endpoints: [] });
  }
  return { pinSet: { expiration: null, domains }, warnings: [] };
}

function identities(v: PlistValue | undefined, at: At, domain: string): string[] | null {
  if (v === undefined) return null;
  if (!Array.isArray(v)) return at.fail('an <array> of {SPKI-SHA256-BASE64} dicts', v);
  if (v.length === 0) return at.fail('at least one {SPKI-SHA256-BASE64} dict (ATS needs one to match)', v);
  const out: string[] = [];
  v.forEach((item, i) => {
    const itemAt = at.child(`[${i}]`, item);
    const spki = dict(item, itemAt)['SPKI-SHA256-BASE64'];
    if (typeof spki !== 'string') return itemAt.child('SPKI-SHA256-BASE64').fail('a <string> pin', spki);
    const pin = checkPin(spki, domain, String(itemAt));
    if (!out.includes(pin)) out.push(pin);
  });
  return out;
}

export function readTrustkit(cfg: PlistDict, source: string): ReadOutput {
  const base = new At(source, ['TSKPinnedDomains'], plistLine(cfg));
  const pinned = dict(cfg.TSKPinnedDomains, base);
  const seen = new Map<string, string>();
  const domains: DomainPins[] = [];
  const warnings: Warning[] = [];
  const expirations = new Map<string, string | null>();
  for (const [name, policyValue] of Object.entries(pinned)) {
    const at = base.child(name, policyValue);
    const policy = dict(policyValue, at);
    const domain = checkDomain(name, seen, String(at));
    const includeSubdomains = optBool(policy.TSKIncludeSubdomains, at.child('TSKIncludeSubdomains')) ?? false;
    if (optBool(policy.TSKEnforcePinning, at.child('TSKEnforcePinning')) === false) {
      warnings.push({ code: 'read-not-enforced', severity: 'warning', domain, message: `${at}: TSKEnforcePinning is false, so TrustKit only reports pin failures and lets connections through` });
    }
    const exp = policy.TSKExpirationDate;
    const expiration = exp === undefined ? null : typeof exp === 'string' && isDate(exp) ? exp : at.child('TSKExpirationDate').fail('a <string> date YYYY-MM-DD', exp);
    const hashesAt = at.child('TSKPublicKeyHashes', policy.TSKPublicKeyHashes);
    const hashes = policy.TSKPublicKeyHashes;
    if (!Array.isArray(hashes) || hashes.length === 0) return hashesAt.fail('an <array> of pin <string>s', hashes);
    const values: string[] = [];
    hashes.forEach((h, i) => {
      if (typeof h !== 'string') return hashesAt.child(`[${i}]`).fail('a <string> pin', h);
      const pin = checkPin(h, domain, String(hashesAt.child(`[${i}]`)));
      if (!values.includes(pin)) values.push(pin);
    });
    domains.push({ domain, includeSubdomains, pins: anyPositionPins(values, source), endpoints: [], expiration });
    expirations.set(domain, expiration);
  }
  return { pinSet: { expiration: foldExpirations(expirations, source, warnings), domains }, warnings };
}
