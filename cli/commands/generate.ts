import { join, dirname } from 'node:path';
import { CliIO } from '../io.js';
import { ensureOutputDir, readSource, writeOutput } from '../files.js';
import { netSettings, NetOptions, NetSettings, unusedResolves } from '../net-options.js';
import { printError, printJson, printWarnings, style } from '../style.js';
import { InputError, PinctlError } from '../../src/errors.js';
import { buildChain, isoDate } from '../../src/core/chain.js';
import { shortName } from '../../src/core/certificate.js';
import {
  BackupKey,
  DEFAULT_ROLES,
  DomainObservation,
  Plan,
  defaultExpiration,
  mergeObservations,
  parseExpiration,
  planPins,
} from '../../src/core/plan.js';
import { PinRole, Warning } from '../../src/core/model.js';
import { Target, parseTarget } from '../../src/core/target.js';
import {
  TrustAnchor,
  DEFAULT_OUT_FORMATS,
  FORMATS,
  Format,
  RenderOptions,
  formatEntry,
  renderConfig,
} from '../../src/formats/index.js';
import { updateFormatOf } from '../../src/formats/update.js';
import { observeTargets } from '../../src/net/observe.js';
import { loadSystemStore } from '../../src/net/trust-store-file.js';
import { createBackupKey } from '../../src/keys/backup-key.js';
import { hostNameProblem, normalizeHostName } from '../../src/vocab/hostname.js';
import { withProgress } from '../progress.js';
import { distinctChains, observationJson } from '../../src/core/report.js';
import {
  certificateFingerprints,
  checkReportUris,
  keepShippedPins,
  privateCaDomains,
  readAnchors,
  readBackups,
  readShippedPins,
} from './generate-inputs.js';
import { UpdateRun, runUpdate, writeOutputs, writeRawAnchors } from './generate-write.js';

export interface GenerateOptions extends NetOptions {
  cert: string[];
  pin: string[];
  backupKey: string[];
  backupPin: string[];
  keepPinsFrom?: string;
  newBackupKey?: string;
  includeSubdomains?: boolean;
  expiration?: string;
  format: string[];
  out?: string;
  update?: string;
  dryRun?: boolean;
  force?: boolean;
  reportUri: string[];
  reportOnly?: boolean;
  trustAnchor: string[];
  debugOverrides: string[];
  insecure?: boolean;
  json?: boolean;
}

const ROLES = ['leaf', 'intermediate', 'root'] as const;

export async function generateCommand(hosts: string[], opts: GenerateOptions, io: CliIO): Promise<number> {
  try {
    return await generate(
      hosts,
      {
        ...opts,
        backupPin: opts.backupPin ?? [],
        reportUri: opts.reportUri ?? [],
        trustAnchor: opts.trustAnchor ?? [],
        debugOverrides: opts.debugOverrides ?? [],
      },
      io,
    );
  } catch (e) {
    printError(io, e);
    return e instanceof PinctlError ? e.exitCode : 2;
  }
}

function parseRoles(values: string[]): Exclude<PinRole, 'backup'>[] {
  for (const v of values) {
    if (!(ROLES as readonly string[]).includes(v))
      throw new InputError('USAGE', `--pin ${v}: expected leaf, intermediate or root`);
  }
  return values.length === 0 ? DEFAULT_ROLES : ([...new Set(values)] as Exclude<PinRole, 'backup'>[]);
}

function parseFormats(values: string[], toStdout: boolean): Format[] {
  for (const v of values) {
    if (!formatEntry(v)) throw new InputError('USAGE', `--format ${v}: expected one of ${FORMATS.join(', ')}`);
  }
  if (values.length > 0) return [...new Set(values)];
  return toStdout ? ['json'] : [...DEFAULT_OUT_FORMATS];
}

/** --update takes its one format from the file; the flags that only make sense with it are checked here. */
async function chooseFormats(opts: GenerateOptions, io: CliIO): Promise<Format[]> {
  if (opts.dryRun && !opts.update)
    throw new InputError('USAGE', '--dry-run: expected --update FILE with it', {
      hint: 'pinctl generate HOST --update app/src/main/res/xml/network_security_config.xml --dry-run',
    });
  if (!opts.update) return parseFormats(opts.format, !opts.out);
  if (opts.out)
    throw new InputError('USAGE', '--update and --out: expected one of them', {
      hint: '--update edits one existing config in place; --out writes new files',
    });
  if (opts.format.length > 1)
    throw new InputError(
      'USAGE',
      `--update ${opts.update}: expected one format, the file's own; found --format ${opts.format.join(',')}`,
    );
  const { name, bytes } = await readSource(opts.update, io);
  return [updateFormatOf(Buffer.from(bytes).toString('utf8'), name, opts.format[0])];
}

function parseHosts(hosts: string[], port: number): Target[] {
  return hosts.map((h) => {
    const t = parseTarget(h, port);
    const problem = hostNameProblem(t.host);
    if (problem)
      throw new InputError('TARGET_INVALID', `${h}: expected a host name or IP address, found ${problem}`, {
        hint: 'the same names are accepted by bundle create, serve and the SDK',
      });
    return { ...t, host: normalizeHostName(t.host) };
  });
}

interface Inputs {
  targets: Target[];
  backups: BackupKey[];
  shipped: Awaited<ReturnType<typeof readShippedPins>>;
  render: RenderOptions;
}

/** Everything generate reads before it probes, so a bad flag or file fails before any network work. */
async function readInputs(hosts: string[], opts: GenerateOptions, port: number, io: CliIO): Promise<Inputs> {
  if (hosts.length === 0 && opts.cert.length === 0) {
    throw new InputError('USAGE', 'generate needs a host to probe or --cert FILE', {
      hint: 'example: pinctl generate api.example.com --format android',
    });
  }
  return {
    targets: parseHosts(hosts, port),
    backups: await readBackups(opts.backupKey, opts.backupPin, io),
    shipped: await readShippedPins(opts.keepPinsFrom, io),
    render: {
      reportUris: checkReportUris(opts.reportUri),
      reportOnly: Boolean(opts.reportOnly),
      trustAnchors: await readAnchors(opts.trustAnchor, '--trust-anchor', io),
      debugOverrides: await readAnchors(opts.debugOverrides, '--debug-overrides', io),
    },
  };
}

async function observe(inputs: Inputs, opts: GenerateOptions, net: NetSettings, now: Date, io: CliIO) {
  if (opts.cert.length > 0) {
    return fromFiles(
      inputs.targets.map((t) => t.host),
      opts,
      io,
      net.store,
      now,
      net.port,
    );
  }
  const targets = inputs.targets;
  return withProgress(io, `probing ${targets.length} host(s)`, (onProgress) =>
    observeTargets(targets, {
      store: net.store,
      now,
      timeoutMs: net.timeoutMs,
      overrides: net.overrides,
      probe: io.probe,
      resolve: io.resolve,
      onProgress,
    }),
  );
}

async function generate(hosts: string[], opts: GenerateOptions, io: CliIO): Promise<number> {
  const now = io.now();
  const roles = parseRoles(opts.pin);
  const formats = await chooseFormats(opts, io);
  const expiration = opts.expiration ? parseExpiration(opts.expiration, now) : defaultExpiration(now);
  const net = netSettings(opts, io);
  const inputs = await readInputs(hosts, opts, net.port, io);
  // Check output directories before any probing or key generation, so a typo fails fast.
  const outDir = opts.out ? ensureOutputDir(opts.out, '--out', io) : null;
  const keyDir = opts.newBackupKey ? ensureOutputDir(opts.newBackupKey, '--new-backup-key', io) : null;

  const observations = await observe(inputs, opts, net, now, io);
  const { backups } = inputs;
  if (keyDir && opts.newBackupKey) backups.push(await newBackupKey(observations, opts.newBackupKey, keyDir, now, io));
  const includeSubdomains = Boolean(opts.includeSubdomains);
  const plan = planPins(observations, {
    roles,
    backups,
    includeSubdomains,
    expiration,
    now,
    insecure: Boolean(opts.insecure),
  });
  if (inputs.shipped) keepShippedPins(plan, inputs.shipped);
  const system = opts.caFile ? loadSystemStore(io.env) : net.store;
  const renderOptions: RenderOptions = {
    ...inputs.render,
    now,
    privateCaDomains: privateCaDomains(observations, system),
    fingerprints: certificateFingerprints(observations),
  };
  const outputs =
    plan.pinSet.domains.length === 0
      ? []
      : formats.map((f) => ({ format: f, ...renderConfig(f, plan.pinSet, renderOptions) }));
  const endpoints = observations.map((o) => o.endpoint);
  const warnings: Warning[] = [
    ...unusedResolves(net.overrides, endpoints),
    ...plan.warnings,
    ...outputs.flatMap((o) => o.warnings),
  ];
  const anchors = [...(renderOptions.trustAnchors ?? []), ...(renderOptions.debugOverrides ?? [])];
  const { written, update } = await writeResults(opts, outDir, outputs, plan, anchors, io);
  report(io, opts, { observations, plan, warnings, outputs, written, update });
  return plan.errors.length > 0 ? 2 : 0;
}

/** --update edits the app's file; --out writes new files; Android's anchors go to res/raw/ either way. */
async function writeResults(
  opts: GenerateOptions,
  outDir: string | null,
  outputs: { format: string; fileName: string; content: string }[],
  plan: Plan,
  anchors: TrustAnchor[],
  io: CliIO,
): Promise<{ written: string[]; update: UpdateRun | null }> {
  const first = outputs[0];
  if (opts.update && first) {
    const update = await runUpdate(opts.update, first.format, plan.pinSet, first.content, Boolean(opts.dryRun), io);
    const raw = first.format === 'android' ? writeRawAnchors(dirname(opts.update), anchors, Boolean(opts.dryRun)) : [];
    return { written: raw, update };
  }
  if (!outDir || !opts.out) return { written: [], update: null };
  const written = writeOutputs(outDir, opts.out, outputs, Boolean(opts.force));
  if (outputs.some((o) => o.format === 'android')) written.push(...writeRawAnchors(opts.out, anchors, false));
  return { written, update: null };
}

interface Outcome {
  observations: DomainObservation[];
  plan: Plan;
  warnings: Warning[];
  outputs: { format: string; fileName: string; content: string }[];
  written: string[];
  update: UpdateRun | null;
}

function report(io: CliIO, opts: GenerateOptions, r: Outcome): void {
  const s = style(io);
  if (opts.json) {
    printJson(io, {
      pinSet: r.plan.pinSet,
      warnings: r.warnings,
      errors: r.plan.errors,
      observations: r.observations.map(observationJson),
      files: r.outputs.map((o, i) => ({
        format: o.format,
        fileName: o.fileName,
        path: r.update ? r.update.path : (r.written[i] ?? null),
        content: opts.out || r.update ? undefined : o.content,
      })),
      ...(r.update
        ? {
            update: {
              path: r.update.path,
              written: !opts.dryRun && r.update.diff !== '',
              replaced: r.update.outcome.replaced,
              added: r.update.outcome.added,
              diff: r.update.diff,
            },
          }
        : {}),
    });
  } else if (r.update) {
    io.stdout.write(r.update.diff);
  } else if (!opts.out) {
    for (const o of r.outputs) {
      if (r.outputs.length > 1) io.stdout.write(`==> ${o.fileName} <==\n`);
      io.stdout.write(o.content);
    }
  }
  printSummary(io, r.observations, r.plan);
  printWarnings(io, r.warnings);
  for (const e of r.plan.errors) printError(io, new InputError('NETWORK', e.message, { hint: e.hint }));
  if (r.update) printUpdate(io, opts, r.update);
  for (const w of r.written) io.stderr.write(`${s.green(opts.dryRun ? 'would write' : 'wrote')} ${w}\n`);
  const checkable =
    r.update && !opts.dryRun
      ? r.update.path
      : r.written.find((w) => /\.(xml|plist|json)$/.test(w) && !/react|okhttp/.test(w));
  if (checkable) io.stderr.write(`${s.dim('next:')} ${nextCheck(checkable, opts)}\n`);
}

function printUpdate(io: CliIO, opts: GenerateOptions, u: UpdateRun): void {
  const s = style(io);
  const what = [
    u.outcome.replaced.length ? `replaced ${u.outcome.replaced.join(', ')}` : '',
    u.outcome.added.length ? `added ${u.outcome.added.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  if (u.diff === '') io.stderr.write(`${s.green('unchanged')} ${u.path}: it already holds these pins\n`);
  else if (opts.dryRun) io.stderr.write(`${s.yellow('dry run:')} ${u.path} not written (${what}); the diff is above\n`);
  else io.stderr.write(`${s.green('updated')} ${u.path} (${what}); everything else in it is as it was\n`);
  for (const n of u.outcome.notes) io.stderr.write(`${s.dim('note:')} ${u.path}: ${n}\n`);
}

/** The check command for what was just written, reaching the endpoints the way generate did. */
function nextCheck(path: string, opts: GenerateOptions): string {
  const port = opts.port && opts.port !== '443' ? ` --port ${opts.port}` : '';
  return `pinctl check ${path}${port}${opts.caFile ? ` --ca-file ${opts.caFile}` : ''}${opts.resolve.map((r) => ` --resolve ${r}`).join('')}`;
}

async function newBackupKey(
  observations: DomainObservation[],
  shownDir: string,
  keyDir: string,
  now: Date,
  io: CliIO,
): Promise<BackupKey> {
  const s = style(io);
  const domain = observations[0]?.domain ?? 'backup';
  const material = await createBackupKey(domain);
  const name = `backup-${domain.replace(/[^a-z0-9.-]/gi, '_')}-${isoDate(now)}`;
  const shown = join(shownDir, name);
  writeOutput(join(keyDir, `${name}.key`), material.privateKeyPem, '--new-backup-key', {
    mode: 0o600,
    exclusive: true,
  });
  writeOutput(join(keyDir, `${name}.csr`), material.csrPem, '--new-backup-key', { exclusive: true });
  writeOutput(join(keyDir, `${name}.pub.pem`), material.publicKeyPem, '--new-backup-key', { exclusive: true });
  io.stderr.write(
    `${s.green('created')} backup key ${shown}.key (mode 0600) and CSR ${shown}.csr: keep the key offline until you rotate to it\n`,
  );
  // Only the file's name goes into the configs apps ship, never where it is kept.
  return { spkiSha256: material.spkiSha256, source: `${name}.key` };
}

function printSummary(io: CliIO, observations: DomainObservation[], plan: Plan): void {
  const s = style(io);
  for (const obs of mergeObservations(observations)) {
    const domain = plan.pinSet.domains.find((d) => d.domain === obs.domain);
    if (!domain) continue;
    io.stderr.write(`${s.bold(obs.domain)}\n`);
    for (const group of distinctChains(obs)) {
      const verdict = group.chain.valid
        ? s.green('valid')
        : s.red(`invalid: ${group.chain.problems.map((p) => p.code).join(', ')}`);
      io.stderr.write(`  ${s.dim(group.labels.join(', '))}: chain ${verdict}\n`);
      for (const e of group.chain.entries) {
        const pinned = domain.pins.some((p) => p.spkiSha256 === e.cert.spkiSha256);
        io.stderr.write(
          `  ${pinned ? s.green('pinned') : '      '} ${e.position.padEnd(12)} ${e.cert.spkiSha256}  ${shortName(e.cert)}${e.source === 'trust-store' ? s.dim(' (from trust store)') : ''}\n`,
        );
      }
    }
    for (const p of domain.pins.filter((x) => x.role === 'backup'))
      io.stderr.write(`  ${s.green('pinned')} ${'backup'.padEnd(12)} ${p.spkiSha256}  ${p.source}\n`);
  }
}

/** --cert: the chain comes from files; domains are the hosts given, else the leaf's DNS names. */
async function fromFiles(
  names: string[],
  opts: GenerateOptions,
  io: CliIO,
  store: import('../../src/core/trust-store.js').TrustStore,
  now: Date,
  port: number,
): Promise<DomainObservation[]> {
  const { readItems } = await import('../files.js');
  const items = [];
  for (const f of opts.cert) items.push(...(await readItems(f, io)));
  const certs = items.flatMap((i) => (i.cert ? [i.cert] : []));
  if (certs.length === 0)
    throw new InputError(
      'NOTHING_FOUND',
      `--cert ${opts.cert.join(', ')}: expected certificates, found only keys or requests`,
    );
  const label = opts.cert.join(' + ');
  let domains = names;
  if (domains.length === 0) {
    const leaf = buildChain(certs, store, { now }).entries[0]!.cert;
    domains = leaf.subjectAltNames
      .filter((n) => n.startsWith('DNS:'))
      .map((n) => normalizeHostName(n.slice(4)))
      .filter((n) => hostNameProblem(n) === null);
    if (domains.length === 0)
      throw new InputError('USAGE', `--cert ${label}: the leaf names no DNS host; give the host names to pin`);
  }
  return domains.map((domain) => ({
    domain,
    endpoint: { host: domain, port, addresses: [] },
    samples: [{ label, chain: buildChain(certs, store, { now, hostname: domain }) }],
    failures: [],
  }));
}
