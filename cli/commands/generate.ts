import { join } from 'node:path';
import { CliIO } from '../io.js';
import { ensureOutputDir, readItems, writeOutput } from '../files.js';
import { netSettings, NetOptions, unusedResolves } from '../net-options.js';
import { printError, printJson, printWarnings, style } from '../style.js';
import { InputError, PinctlError } from '../../src/errors.js';
import { buildChain, isoDate } from '../../src/core/chain.js';
import { shortName } from '../../src/core/certificate.js';
import { BackupKey, DEFAULT_ROLES, DomainObservation, Plan, defaultExpiration, mergeObservations, parseExpiration, planPins } from '../../src/core/plan.js';
import { PinRole, Warning } from '../../src/core/model.js';
import { Target, isHostname, parseTarget } from '../../src/core/target.js';
import { FORMATS, Format, renderConfig } from '../../src/formats/index.js';
import { observeTargets } from '../../src/net/observe.js';
import { createBackupKey } from '../../src/keys/backup-key.js';
import { withProgress } from '../progress.js';
import { distinctChains, observationJson } from '../../src/core/report.js';

export interface GenerateOptions extends NetOptions {
  cert: string[];
  pin: string[];
  backupKey: string[];
  newBackupKey?: string;
  includeSubdomains?: boolean;
  expiration?: string;
  format: string[];
  out?: string;
  insecure?: boolean;
  json?: boolean;
}

const ROLES = ['leaf', 'intermediate', 'root'] as const;

export async function generateCommand(hosts: string[], opts: GenerateOptions, io: CliIO): Promise<number> {
  try {
    return await generate(hosts, opts, io);
  } catch (e) {
    printError(io, e);
    return e instanceof PinctlError ? e.exitCode : 2;
  }
}

function parseRoles(values: string[]): Exclude<PinRole, 'backup'>[] {
  for (const v of values) {
    if (!(ROLES as readonly string[]).includes(v)) throw new InputError('USAGE', `--pin ${v}: expected leaf, intermediate or root`);
  }
  return values.length === 0 ? DEFAULT_ROLES : [...new Set(values)] as Exclude<PinRole, 'backup'>[];
}

function parseFormats(values: string[], toStdout: boolean): Format[] {
  for (const v of values) {
    if (!(FORMATS as readonly string[]).includes(v)) throw new InputError('USAGE', `--format ${v}: expected one of ${FORMATS.join(', ')}`);
  }
  if (values.length > 0) return [...new Set(values)] as Format[];
  return toStdout ? ['json'] : [...FORMATS];
}

async function generate(hosts: string[], opts: GenerateOptions, io: CliIO): Promise<number> {
  const now = io.now();
  const s = style(io);
  const roles = parseRoles(opts.pin);
  const formats = parseFormats(opts.format, !opts.out);
  const expiration = opts.expiration ? parseExpiration(opts.expiration, now) : defaultExpiration(now);
  const net = netSettings(opts, io);
  if (hosts.length === 0 && opts.cert.length === 0) {
    throw new InputError('USAGE', 'generate needs a host to probe or --cert FILE', { hint: 'example: pinctl generate api.example.com --format android' });
  }

  const backups: BackupKey[] = [];
  for (const f of opts.backupKey) {
    for (const item of await readItems(f, io)) backups.push({ spkiSha256: item.spkiSha256, source: `${f}${item.index ? ` #${item.index + 1}` : ''}` });
  }

  // Check output directories before any probing or key generation, so a typo fails fast.
  const outDir = opts.out ? ensureOutputDir(opts.out, '--out', io) : null;
  const keyDir = opts.newBackupKey ? ensureOutputDir(opts.newBackupKey, '--new-backup-key', io) : null;

  let observations: DomainObservation[];
  if (opts.cert.length > 0) {
    observations = await fromFiles(hosts, opts, io, net.store, now, net.port);
  } else {
    const targets: Target[] = hosts.map((h) => parseTarget(h, net.port));
    observations = await withProgress(io, `probing ${targets.length} host(s)`, (onProgress) =>
      observeTargets(targets, { store: net.store, now, timeoutMs: net.timeoutMs, overrides: net.overrides, probe: io.probe, resolve: io.resolve, onProgress }),
    );
  }

  if (keyDir && opts.newBackupKey) {
    const domain = observations[0]?.domain ?? 'backup';
    const material = await createBackupKey(domain);
    const name = `backup-${domain.replace(/[^a-z0-9.-]/gi, '_')}-${isoDate(now)}`;
    const shown = join(opts.newBackupKey, name);
    writeOutput(join(keyDir, `${name}.key`), material.privateKeyPem, '--new-backup-key', { mode: 0o600, exclusive: true });
    writeOutput(join(keyDir, `${name}.csr`), material.csrPem, '--new-backup-key', { exclusive: true });
    writeOutput(join(keyDir, `${name}.pub.pem`), material.publicKeyPem, '--new-backup-key', { exclusive: true });
    backups.push({ spkiSha256: material.spkiSha256, source: `${shown}.key` });
    io.stderr.write(`${s.green('created')} backup key ${shown}.key (mode 0600) and CSR ${shown}.csr: keep the key offline until you rotate to it\n`);
  }

  const plan = planPins(observations, { roles, backups, includeSubdomains: Boolean(opts.includeSubdomains), expiration, now, insecure: Boolean(opts.insecure) });
  const outputs = plan.pinSet.domains.length === 0 ? [] : formats.map((f) => ({ format: f, ...renderConfig(f, plan.pinSet) }));
  const warnings: Warning[] = [...unusedResolves(net.overrides, observations.map((o) => o.endpoint)), ...plan.warnings, ...outputs.flatMap((o) => o.warnings)];

  const written: string[] = [];
  if (outDir && opts.out) {
    for (const o of outputs) {
      writeOutput(join(outDir, o.fileName), o.content, '--out');
      written.push(join(opts.out, o.fileName));
    }
  }

  if (opts.json) {
    printJson(io, {
      pinSet: plan.pinSet,
      warnings,
      errors: plan.errors,
      observations: observations.map(observationJson),
      files: outputs.map((o, i) => ({ format: o.format, fileName: o.fileName, path: written[i] ?? null, content: opts.out ? undefined : o.content })),
    });
  } else if (!opts.out) {
    for (const o of outputs) {
      if (outputs.length > 1) io.stdout.write(`==> ${o.fileName} <==\n`);
      io.stdout.write(o.content);
    }
  }
  printSummary(io, observations, plan);
  printWarnings(io, warnings);
  for (const e of plan.errors) printError(io, new InputError('NETWORK', e.message, { hint: e.hint }));
  for (const w of written) io.stderr.write(`${s.green('wrote')} ${w}\n`);
  if (written.length > 0) {
    const first = written.find((w) => /\.(xml|plist|json)$/.test(w) && !/react|okhttp/.test(w));
    if (first) io.stderr.write(`${s.dim('next:')} pinctl check ${first}${opts.caFile ? ` --ca-file ${opts.caFile}` : ''}${opts.resolve.map((r) => ` --resolve ${r}`).join('')}\n`);
  }
  return plan.errors.length > 0 ? 2 : 0;
}

function printSummary(io: CliIO, observations: DomainObservation[], plan: Plan): void {
  const s = style(io);
  for (const obs of mergeObservations(observations)) {
    const domain = plan.pinSet.domains.find((d) => d.domain === obs.domain);
    if (!domain) continue;
    io.stderr.write(`${s.bold(obs.domain)}\n`);
    for (const group of distinctChains(obs)) {
      const verdict = group.chain.valid ? s.green('valid') : s.red(`invalid: ${group.chain.problems.map((p) => p.code).join(', ')}`);
      io.stderr.write(`  ${s.dim(group.labels.join(', '))}: chain ${verdict}\n`);
      for (const e of group.chain.entries) {
        const pinned = domain.pins.some((p) => p.spkiSha256 === e.cert.spkiSha256);
        io.stderr.write(`  ${pinned ? s.green('pinned') : '      '} ${e.position.padEnd(12)} ${e.cert.spkiSha256}  ${shortName(e.cert)}${e.source === 'trust-store' ? s.dim(' (from trust store)') : ''}\n`);
      }
    }
    for (const p of domain.pins.filter((x) => x.role === 'backup')) io.stderr.write(`  ${s.green('pinned')} ${'backup'.padEnd(12)} ${p.spkiSha256}  ${p.source}\n`);
  }
}

/** --cert: the chain comes from files; domains are the hosts given, else the leaf's DNS names. */
async function fromFiles(hosts: string[], opts: GenerateOptions, io: CliIO, store: import('../../src/core/trust-store.js').TrustStore, now: Date, port: number): Promise<DomainObservation[]> {
  const items = [];
  for (const f of opts.cert) items.push(...(await readItems(f, io)));
  const certs = items.flatMap((i) => (i.cert ? [i.cert] : []));
  if (certs.length === 0) throw new InputError('NOTHING_FOUND', `--cert ${opts.cert.join(', ')}: expected certificates, found only keys or requests`);
  const label = opts.cert.join(' + ');
  let names = hosts.map((h) => parseTarget(h, port).host);
  if (names.length === 0) {
    const leaf = buildChain(certs, store, { now }).entries[0]!.cert;
    names = leaf.subjectAltNames.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)).filter((n) => isHostname(n));
    if (names.length === 0) throw new InputError('USAGE', `--cert ${label}: the leaf names no DNS host; give the host names to pin`);
  }
  return names.map((domain) => ({
    domain,
    endpoint: { host: domain, port, addresses: [] },
    samples: [{ label, chain: buildChain(certs, store, { now, hostname: domain }) }],
    failures: [],
  }));
}
