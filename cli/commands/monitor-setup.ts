/**
 * Getting a monitor going: `pinctl monitor init --from CONFIG` writes a starting config from the
 * pin file an app ships; `pinctl monitor test-alert` sends one test message through each channel.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliIO } from '../io.js';
import { printError, printJson, style } from '../style.js';
import { InputError, PinctlError, describeError } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/durable-write.js';
import { makeDirs } from '../../src/make-dirs.js';

export function registerMonitorSetup(monitor: Command, io: CliIO, setExit: (code: number) => void): void {
  monitor
    .command('init')
    .description('write a starting monitor config from the pin file an app ships (one endpoint per pinned domain)')
    .requiredOption('--from <config>', 'network_security_config.xml, Info.plist, TrustKit plist or pins.json')
    .option('--out <file>', 'where to write it', 'monitor.yaml')
    .option('--force', 'overwrite an existing file')
    .addHelpText('after', '\nExample:\n  pinctl monitor init --from app/src/main/res/xml/network_security_config.xml\n  pinctl monitor once --config monitor.yaml')
    .action(async (opts: InitOptions) => setExit(await initCommand(opts, io)));
  monitor
    .command('test-alert')
    .description('send one test message through every configured alert channel now; exit 1 when one fails')
    .option('--config <file>', 'monitor config, YAML or JSON (default: ./monitor.yaml)')
    .option('--json', 'print the result per channel as JSON on stdout')
    .action(async (opts: { config?: string; json?: boolean }) => setExit(await testAlertCommand(opts, io)));
}

interface InitOptions {
  from: string;
  out: string;
  force?: boolean;
}

function fail(io: CliIO, e: unknown): number {
  printError(io, e);
  return e instanceof PinctlError ? e.exitCode : 2;
}

export async function initCommand(opts: InitOptions, io: CliIO): Promise<number> {
  try {
    const from = resolve(io.cwd, opts.from);
    const out = resolve(io.cwd, opts.out);
    if (existsSync(out) && !opts.force) {
      throw new InputError('OUTPUT_EXISTS', `${opts.out} exists: expected a new file`, { hint: `choose another --out, or pass --force to replace it` });
    }
    let text: string;
    try {
      text = readFileSync(from, 'utf8');
    } catch (e) {
      throw new InputError('INPUT_UNREADABLE', `cannot read ${opts.from} (${(e as NodeJS.ErrnoException).code ?? describeError(e)})`);
    }
    const { readConfig } = await import('../../src/formats/read.js');
    const read = readConfig(text, opts.from);
    const domains = read.pinSet.domains;
    if (domains.length === 0) throw new InputError('NOTHING_FOUND', `${opts.from} (${read.format}) pins no domain`, { hint: 'pass the pin file the app ships' });
    const pinsFrom = relative(dirname(out), from) || from;
    makeDirs(dirname(out));
    writeFileAtomic(out, initYaml(opts.from, read.format, pinsFrom, domains));
    const s = style(io, io.stderr);
    io.stderr.write(`${s.green('wrote')} ${opts.out}: ${domains.length} endpoint(s) from ${opts.from} (${read.format})\n`);
    io.stderr.write(`next: add alert channels, then\n  pinctl monitor test-alert --config ${opts.out}\n  pinctl monitor once --config ${opts.out}\n`);
    return 0;
  } catch (e) {
    return fail(io, e);
  }
}

function initYaml(source: string, format: string, pinsFrom: string, domains: { domain: string; includeSubdomains: boolean }[]): string {
  const q = (v: string) => JSON.stringify(v);
  const endpoints = domains.map((d) => {
    const sub = d.includeSubdomains ? '   # the entry includes subdomains: list the subdomains apps call as more endpoints' : '';
    return `  - host: ${q(d.domain)}${sub}\n    port: 443\n    pinsFrom: ${q(pinsFrom)}\n`;
  });
  return `# pinctl monitor config, written by \`pinctl monitor init --from ${source}\` (${format}).
# Every key is documented in examples/monitor.yaml. The pins are read from the app's file at every
# start and reload (SIGHUP), so the monitor checks what the app ships.
schedule: "*/5 * * * *"
state: ./pinctl-state
expiryWarningDays: [30, 14, 7]
# metrics: { listen: "127.0.0.1:9464" }
# alerts:
#   email: { smtp: "smtp://alerts@mail.example.com:587", passwordFile: ./smtp-password, from: "pinctl@example.com", to: ["ops@example.com"] }
#   webhook: { url: "https://hooks.example.com/pinctl", tokenFile: ./webhook-token, timeout: 10s }
#   slack: { webhookUrlFile: ./slack-webhook-url, channel: "#ops" }
#   pagerduty: { routingKeyFile: ./pagerduty-routing-key, severityMin: critical }
endpoints:
${endpoints.join('')}`;
}

export async function testAlertCommand(opts: { config?: string; json?: boolean }, io: CliIO): Promise<number> {
  try {
    const [{ loadConfig }, { sendTestAlerts }, { configuredChannels, CHANNEL_NAMES }] = await Promise.all([
      import('../../monitor/config.js'),
      import('../../monitor/alerts.js'),
      import('../../monitor/channels/index.js'),
    ]);
    const file = opts.config ?? ['monitor.yaml', 'monitor.yml', 'monitor.json'].find((f) => existsSync(resolve(io.cwd, f)));
    if (!file) throw new InputError('USAGE', 'expected --config FILE', { hint: 'pinctl monitor init --from CONFIG writes one' });
    const cfg = loadConfig(file, { env: io.env, cwd: io.cwd, now: io.now() });
    if (configuredChannels({ ...cfg.alerts }).length === 0) {
      throw new InputError('CONFIG_MALFORMED', `${file}: no alert channel is configured`, { hint: `add one of ${CHANNEL_NAMES.map((n) => `alerts.${n}`).join(', ')} (see examples/monitor.yaml)` });
    }
    const results = await sendTestAlerts(cfg.alerts, { at: io.now().toISOString(), file });
    if (opts.json) printJson(io, { results });
    const s = style(io, io.stderr);
    for (const r of results) io.stderr.write(r.ok ? `${s.green('sent')}   ${r.channel}\n` : `${s.red('failed')} ${r.channel}: ${r.error}\n`);
    return results.every((r) => r.ok) ? 0 : 1;
  } catch (e) {
    return fail(io, e);
  }
}
