/** What generate reads besides endpoints: backup pins by file or value, shipped pins, trust anchors. */
import { basename } from 'node:path';
import { CliIO } from '../io.js';
import { readItems, readSource } from '../files.js';
import { InputError } from '../../src/errors.js';
import { BackupKey, DomainObservation, Plan } from '../../src/core/plan.js';
import { PinSet } from '../../src/core/model.js';
import { TrustStore, isAnchor } from '../../src/core/trust-store.js';
import { TrustAnchor } from '../../src/formats/registry.js';
import { readConfig } from '../../src/formats/read.js';
import { normalizePin, PIN_EXPECTED } from '../../src/vocab/pin.js';
import { ruleFor } from '../../src/vocab/domain-rule.js';

/**
 * --backup-key files and --backup-pin values. A file is named by its base name only: the source
 * of a pin ends up in shipped configs, and an absolute path there tells the world where the spare
 * key is kept (and whose machine made it).
 */
export async function readBackups(files: string[], pins: string[], io: CliIO): Promise<BackupKey[]> {
  const out: BackupKey[] = [];
  for (const f of files) {
    for (const item of await readItems(f, io))
      out.push({ spkiSha256: item.spkiSha256, source: `${basename(f)}${item.index ? ` #${item.index + 1}` : ''}` });
  }
  for (const value of pins) {
    const pin = normalizePin(value);
    if (!pin)
      throw new InputError('USAGE', `--backup-pin ${value}: expected ${PIN_EXPECTED}`, {
        hint: 'pinctl pins KEY.pem prints the pin of a key, CSR or certificate',
      });
    out.push({ spkiSha256: pin, source: '--backup-pin' });
  }
  return out;
}

/** --keep-pins-from CONFIG: the pin set the app ships today. */
export async function readShippedPins(
  path: string | undefined,
  io: CliIO,
): Promise<{ name: string; pinSet: PinSet } | null> {
  if (!path) return null;
  const { name, bytes } = await readSource(path, io);
  return { name: basename(name), pinSet: readConfig(Buffer.from(bytes).toString('utf8'), name).pinSet };
}

/**
 * Every pin the shipped config enforces for a generated domain stays, as a backup: the rule that
 * governs the domain there (its own entry, else the nearest parent with includeSubdomains).
 */
export function keepShippedPins(plan: Plan, shipped: { name: string; pinSet: PinSet }): void {
  for (const d of plan.pinSet.domains) {
    const rule = ruleFor(d.domain, shipped.pinSet.domains);
    if (!rule) continue;
    for (const p of rule.pins) {
      if (!d.pins.some((x) => x.spkiSha256 === p.spkiSha256)) {
        d.pins.push({
          spkiSha256: p.spkiSha256,
          role: 'backup',
          subject: null,
          notAfter: null,
          source: `kept from ${shipped.name} (${rule.domain})`,
        });
      }
    }
    const distinct = new Set(d.pins.map((p) => p.spkiSha256)).size;
    // The plan's lints counted the pins before these were added.
    plan.warnings = plan.warnings.filter(
      (w) => !(w.domain === d.domain && (w.code === 'no-backup' || (w.code === 'too-few-pins' && distinct >= 2))),
    );
  }
}

/** Android raw resource names: lower-case letters, digits and "_", starting with a letter. */
function resourceName(file: string, index: number): string {
  const stem = basename(file)
    .replace(/\.[^.]*$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return `pinctl_${stem || 'anchor'}${index ? `_${index + 1}` : ''}`;
}

function pem(der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** --trust-anchor / --debug-overrides: certificates only (a key cannot anchor a chain). */
export async function readAnchors(files: string[], flag: string, io: CliIO): Promise<TrustAnchor[]> {
  const out: TrustAnchor[] = [];
  for (const f of files) {
    const certs = (await readItems(f, io)).flatMap((i) => (i.cert ? [i.cert] : []));
    if (certs.length === 0)
      throw new InputError('USAGE', `${flag} ${f}: expected a CA certificate (PEM or DER), found no certificate`);
    certs.forEach((c, i) => out.push({ resource: resourceName(f, i), pem: pem(c.der) }));
  }
  return out;
}

/** Domains whose chain ends at a root that is not in the system store (the app must trust it). */
export function privateCaDomains(observations: DomainObservation[], system: TrustStore): string[] {
  const out = new Set<string>();
  for (const o of observations) {
    for (const s of o.samples) {
      const root = s.chain.entries.at(-1)?.cert;
      if (root?.selfIssued && !isAnchor(system, root)) out.add(o.domain);
    }
  }
  return [...out];
}

/** SPKI pin → SHA-256 of the certificate it came from (for formats that pin certificates). */
export function certificateFingerprints(observations: DomainObservation[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of observations)
    for (const s of o.samples) for (const e of s.chain.entries) out.set(e.cert.spkiSha256, e.cert.sha256Fingerprint);
  return out;
}

export function checkReportUris(uris: string[]): string[] {
  for (const u of uris) {
    let ok = false;
    try {
      ok = ['https:', 'http:'].includes(new URL(u).protocol);
    } catch {
      ok = false;
    }
    if (!ok)
      throw new InputError(
        'USAGE',
        `--report-uri ${u}: expected an http(s) URL such as https://reports.example.com/pinning`,
      );
  }
  return uris;
}
