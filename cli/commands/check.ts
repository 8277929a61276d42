import { CliIO } from '../io.js';
import { readSource } from '../files.js';
import { netSettings, NetOptions, unusedResolves } from '../net-options.js';
import { printError, printJson, printWarnings, style } from '../style.js';
import { InputError, PinctlError } from '../../src/errors.js';
import { isoDate } from '../../src/core/chain.js';
import { Target } from '../../src/core/target.js';
import { evaluate } from '../../src/core/verdict.js';
import { PinSet, Warning, expirationOf } from '../../src/core/model.js';
import { trustkitDomainWarnings } from '../../src/formats/client-warnings.js';
import { readConfig } from '../../src/formats/read.js';
import { observeTargets } from '../../src/net/observe.js';
import { withProgress } from '../progress.js';

export interface CheckOptions extends NetOptions {
  warnDays?: string;
  json?: boolean;
}

interface AddressResult {
  domain: string;
  address: string;
  pass: boolean;
  reachable: boolean;
  matched: string[];
  reasons: string[];
  notes: string[];
  chain: { position: string; subject: string; spkiSha256: string; notAfter: string; source: string }[];
}

export async function checkCommand(configPath: string, opts: CheckOptions, io: CliIO): Promise<number> {
  try {
    return await check(configPath, opts, io);
  } catch (e) {
    printError(io, e);
    return e instanceof PinctlError ? e.exitCode : 2;
  }
}

async function check(configPath: string, opts: CheckOptions, io: CliIO): Promise<number> {
  const s = style(io);
  const now = io.now();
  let warnDays: number | undefined;
  if (opts.warnDays !== undefined) {
    warnDays = Number(opts.warnDays);
    if (!/^\d+$/.test(opts.warnDays)) throw new InputError('USAGE', `--warn-days ${opts.warnDays}: expected a whole number of days`);
  }
  const { name, bytes } = await readSource(configPath, io);
  const { format, pinSet, warnings } = readConfig(Buffer.from(bytes).toString('utf8'), name);
  printWarnings(io, warnings);
  // A config its client refuses to load pins nothing, whatever the servers send: that fails the check.
  const rejections = clientRejections(format, pinSet);
  printWarnings(io, rejections);
  if (pinSet.domains.length === 0) throw new InputError('NO_PINS', `${name}: the ${format} config pins no domain`);
  const net = netSettings(opts, io);

  const targets: Target[] = [];
  for (const d of pinSet.domains) {
    // Where to probe: --resolve for this name, else --port, else the ports a pinctl JSON pin set
    // recorded when it was generated, else 443.
    const resolved = net.overrides.filter((o) => o.host === d.domain).map((o) => o.port);
    const recorded = d.endpoints.map((e) => e.port);
    const ports = resolved.length > 0 ? resolved : opts.port !== undefined ? [net.port] : recorded.length > 0 ? recorded : [443];
    for (const port of new Set(ports)) targets.push({ host: d.domain, port, input: d.domain });
  }
  printWarnings(io, unusedResolves(net.overrides, targets));
  const observations = await withProgress(io, `checking ${targets.length} endpoint(s)`, (onProgress) =>
    observeTargets(targets, { store: net.store, now, timeoutMs: net.timeoutMs, overrides: net.overrides, probe: io.probe, resolve: io.resolve, onProgress }),
  );

  const results: AddressResult[] = [];
  for (const obs of observations) {
    const domain = pinSet.domains.find((d) => d.domain === obs.domain)!;
    for (const sample of obs.samples) {
      const v = evaluate(domain, sample.chain, { semantics: format === 'ios' ? 'ios' : 'any', expiration: format === 'ios' ? null : expirationOf(pinSet, domain), now, warnDays });
      results.push({
        domain: obs.domain,
        address: sample.label,
        pass: v.pass,
        reachable: true,
        matched: v.matched,
        reasons: v.reasons,
        notes: v.notes,
        chain: sample.chain.entries.map((e) => ({ position: e.position, subject: e.cert.subject, spkiSha256: e.cert.spkiSha256, notAfter: e.cert.notAfter.toISOString(), source: e.source })),
      });
    }
    // An address that cannot be reached fails the domain only when no address answered.
    const noneAnswered = obs.samples.length === 0;
    for (const f of obs.failures) {
      results.push({ domain: obs.domain, address: f.label, pass: !noneAnswered, reachable: false, matched: [], reasons: noneAnswered ? [f.message] : [], notes: noneAnswered ? [] : [`unreachable (${f.message}); other addresses answered`], chain: [] });
    }
  }
  const pass = results.every((r) => r.pass) && rejections.length === 0;

  if (opts.json) printJson(io, { config: name, format, expiration: pinSet.expiration, pass, rejections, results });
  const out = opts.json ? io.stderr : io.stdout;
  const o = style(io, out);
  for (const d of pinSet.domains) {
    out.write(`${o.bold(d.domain)}${d.includeSubdomains ? o.dim(' (and subdomains: only the name itself is probed)') : ''}\n`);
    for (const r of results.filter((x) => x.domain === d.domain)) {
      const tag = !r.reachable && r.pass ? o.yellow('SKIP') : r.pass ? o.green('PASS') : o.red('FAIL');
      const detail = r.pass && r.reachable ? `matched ${r.matched.map((m) => `${m} (${whichCert(r, m)})`).join(', ') || '(pins not enforced)'}` : r.reasons.join('; ');
      out.write(`  ${tag} ${r.address}  ${detail}\n`);
      for (const n of r.notes) out.write(`       ${o.dim(`note: ${n}`)}\n`);
    }
  }
  if (pinSet.expiration) out.write(o.dim(`pin-set expiration: ${pinSet.expiration} (today ${isoDate(now)})\n`));
  if (rejections.length > 0) out.write(`${o.red('fail:')} ${clientName(format)} would refuse this config at start-up (${[...new Set(rejections.map((r) => r.code))].join(', ')}): nothing would be pinned\n`);
  else out.write(pass ? `${o.green('ok:')} every address would pass\n` : `${o.red('fail:')} apps with these pins would fail to connect where marked FAIL\n`);
  const mismatched = [...new Set(results.filter((r) => !r.pass && r.reachable).map((r) => r.domain))];
  const unreachable = [...new Set(results.filter((r) => !r.pass && !r.reachable).map((r) => r.domain))];
  if (mismatched.length > 0) {
    // The exact command that makes new pins for the endpoints just probed, the way they were reached.
    const endpoints = observations.filter((o) => mismatched.includes(o.domain)).map((o) => `${o.domain}${o.endpoint.port === 443 ? '' : `:${o.endpoint.port}`}`);
    const flags = [
      ...opts.resolve.filter((r) => mismatched.some((d) => r.toLowerCase().startsWith(`${d}:`))).map((r) => `--resolve ${r}`),
      ...(opts.caFile ? [`--ca-file ${opts.caFile}`] : []),
    ];
    io.stderr.write(
      `${s.dim('hint:')} if the servers' keys changed on purpose, ship new pins before apps meet them: pinctl generate ${[...new Set(endpoints), ...flags].join(' ')} --format ${format}; if not, something is intercepting these connections\n`,
    );
  }
  if (unreachable.length > 0) {
    io.stderr.write(`${s.dim('hint:')} ${unreachable.join(', ')}: no address answered; check the port (--port) and address (--resolve HOST:PORT:ADDRESS), or raise --timeout\n`);
  }
  return pass ? 0 : 1;
}

/** Warnings for what the config's own client refuses to load (TrustKit's parse_configuration.m). */
function clientRejections(format: string, pinSet: PinSet): Warning[] {
  return format === 'trustkit' ? trustkitDomainWarnings(pinSet, 'TrustKit') : [];
}

function clientName(format: string): string {
  return format === 'trustkit' ? 'TrustKit' : format;
}

function whichCert(r: AddressResult, pin: string): string {
  const e = r.chain.find((c) => c.spkiSha256 === pin);
  return e ? `${e.position} "${e.subject.replace(/^.*CN=([^,]+).*$/, '$1')}"` : '?';
}

