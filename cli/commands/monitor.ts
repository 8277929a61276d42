/**
 * `pinctl monitor once|run|status|history`. Wired into cli/run.ts with
 * `registerMonitor(program, io, (code) => (exitCode = code))`. Exit codes: 0 healthy, 1 an open
 * finding of warning severity or worse, 2 a bad config or state (nothing probed).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { byEndpoint } from '../../monitor/findings.js';
import { findingJson as projectedJson, viewOf } from '../../monitor/projection.js';
import { CliIO } from '../io.js';
import { printError, printJson, style, Style } from '../style.js';
import { InputError, PinctlError } from '../../src/errors.js';
import { registerMonitorSetup } from './monitor-setup.js';
// Types only: the monitor's modules (js-yaml, node-cron, libsql, nodemailer: ~0.1 s to load) are
// imported when a monitor command runs, never at pinctl start-up.
import type { EndpointConfig, MonitorConfig } from '../../monitor/config.js';
import type { CycleResult, Helped } from '../../monitor/cycle.js';
import type { HistoryEvent, MonitorState } from '../../monitor/state.js';
import type { EndpointRow } from '../../monitor/status.js';
import type { Observation, Severity, StoredFinding } from '../../monitor/types.js';
import type { Runner } from '../../monitor/runner.js';
import type { LogEntry, WatchView } from '../views/monitor-watch.js';

async function loadMonitor() {
  const [config, cycle, store, sweep, status, findings, served, statusPage, shared] = await Promise.all([
    import('../../monitor/config.js'),
    import('../../monitor/cycle.js'),
    import('../../monitor/open-state.js'),
    import('../../monitor/sweep.js'),
    import('../../monitor/status.js'),
    import('../../monitor/findings.js'),
    import('../../monitor/served-bundles.js'),
    import('../../monitor/status-page/source.js'),
    import('../../monitor/shared-sweep.js'),
  ]);
  return {
    loadConfig: config.loadConfig,
    runOrHelp: cycle.runOrHelp,
    shareOptions: shared.shareOptions,
    healthy: cycle.healthy,
    openState: store.openState,
    trustStores: sweep.trustStores,
    endpointRows: status.endpointRows,
    rowLabel: status.rowLabel,
    freshness: status.freshness,
    alertChannels: status.alertChannels,
    cn: findings.cn,
    uncovered: served.uncovered,
    readStatus: statusPage.readStatus,
  };
}
let M: Awaited<ReturnType<typeof loadMonitor>>;
const ready = async () => (M ??= await loadMonitor());

interface ConfigOption {
  config?: string;
}

const DEFAULT_CONFIGS = ['monitor.yaml', 'monitor.yml', 'monitor.json'];

function configPath(opts: ConfigOption, io: CliIO): string {
  if (opts.config) return opts.config;
  const found = DEFAULT_CONFIGS.find((f) => existsSync(resolve(io.cwd, f)));
  if (found) return found;
  throw new InputError('USAGE', `expected --config FILE (no ${DEFAULT_CONFIGS.join(', ')} in ${io.cwd})`, {
    hint: 'start from examples/monitor.yaml',
  });
}

function fail(io: CliIO, e: unknown): number {
  printError(io, e);
  return e instanceof PinctlError ? e.exitCode : 2;
}

export function registerMonitor(program: Command, io: CliIO, setExit: (code: number) => void): void {
  const monitor = program
    .command('monitor')
    .description('watch endpoints on a schedule: whole chains at every address, against the pins apps ship; alerts, history, /metrics')
    .addHelpText(
      'after',
      `
Examples:
  pinctl monitor once --config monitor.yaml      one sweep with alert delivery; exit 0 ok, 1 problems
  pinctl monitor run --config monitor.yaml       long-running: cron schedule, alerts, /metrics (SIGHUP reloads)
  pinctl monitor status --json                   last result per endpoint
  pinctl monitor history api.example.com         what changed, when
  pinctl monitor init --from network_security_config.xml   a starting config from the app's pins
  pinctl monitor test-alert                      one test message per alert channel

See examples/monitor.yaml for the config, monitor/README.md for the design.`,
    );

  monitor
    .command('once')
    .description('one sweep now, including alert delivery; exit 0 when healthy, 1 when a warning or worse is open')
    .option('--config <file>', 'monitor config, YAML or JSON (default: ./monitor.yaml)')
    .option('--json', 'print the sweep, findings and alerts as JSON on stdout')
    .action(async (opts: ConfigOption & { json?: boolean }) => setExit(await onceCommand(opts, io)));

  monitor
    .command('run')
    .description('run on the config schedule until SIGINT/SIGTERM; SIGHUP reloads the config (an invalid one is refused)')
    .option('--config <file>', 'monitor config, YAML or JSON (default: ./monitor.yaml)')
    .option('--watch', 'live table of endpoints on a terminal (plain log lines otherwise)')
    .action(async (opts: ConfigOption & { watch?: boolean }) => setExit(await runCommand(opts, io)));

  monitor
    .command('status')
    .description('the last result per endpoint and the open findings, from the state store (no probing)')
    .option('--config <file>', 'monitor config, YAML or JSON (default: ./monitor.yaml)')
    .option('--json', 'print JSON on stdout')
    .option('--watch', 'keep a live table on a terminal, refreshed every 2 s')
    .action(async (opts: ConfigOption & { json?: boolean; watch?: boolean }) => setExit(await statusCommand(opts, io)));

  monitor
    .command('history')
    .description('what changed for a host (or host:port), oldest first: first sightings, findings opened, changed and resolved')
    .argument('<host>', 'host name or endpoint id host:port')
    .option('--config <file>', 'monitor config, YAML or JSON (default: ./monitor.yaml)')
    .option('--limit <n>', 'newest N events', '200')
    .option('--json', 'print JSON on stdout')
    .action(async (host: string, opts: ConfigOption & { json?: boolean; limit: string }) => setExit(await historyCommand(host, opts, io)));

  registerMonitorSetup(monitor, io, setExit); // init, test-alert
}

/** `readOnly`: status and history send nothing, so alerting secrets may be absent. */
function load(opts: ConfigOption, io: CliIO, readOnly = false): MonitorConfig {
  return M.loadConfig(configPath(opts, io), { env: io.env, cwd: io.cwd, now: io.now(), secrets: readOnly ? 'optional' : 'required' });
}

// ---------------------------------------------------------------------------------------------

export async function onceCommand(opts: ConfigOption & { json?: boolean }, io: CliIO): Promise<number> {
  let cfg: MonitorConfig;
  let store: MonitorState;
  let stores;
  try {
    await ready();
    cfg = load(opts, io);
    stores = M.trustStores(cfg, io.env);
    store = await M.openState(cfg);
  } catch (e) {
    return fail(io, e);
  }
  try {
    // Started while another monitor of this vantage sweeps: it helps probe that sweep and ends.
    const r = await M.runOrHelp(cfg, store, { now: () => io.now(), stores, probe: io.probe, resolve: io.resolve, share: M.shareOptions(io.env) }, 'once');
    if ('helped' in r) return printHelped(io, r, opts.json === true);
    const ok = M.healthy(r.open);
    if (opts.json) {
      printJson(io, {
        healthy: ok,
        sweep: { id: r.sweepId, startedAt: r.sweep.startedAt, finishedAt: r.sweep.finishedAt, durationMs: Math.round(r.sweep.durationMs) },
        observations: r.sweep.observations,
        opened: r.opened.map(findingJson),
        changed: r.changed.map(findingJson),
        recovered: r.resolved.map((f) => ({ ...findingJson(f), kind: 'recovered', of: f.kind })),
        open: r.open.map(findingJson),
        proposals: r.proposals,
        servedBundles: r.servedBundles.map((c) => servedJson(r, c)),
        reports: r.reports.map((c) => ({ from: c.label, read: c.reports.length, error: c.error })),
        shared: { batches: r.shared.batches, probedBy: r.shared.byClaimer },
        alerts: { queued: r.queued, sent: r.delivery.sent.length, failed: r.delivery.failed.map((x) => ({ channel: x.row.channel, error: x.error, retryAt: x.retryAt })) },
      });
    } else {
      printOnce(io, r.config, r);
    }
    return ok ? 0 : 1;
  } catch (e) {
    return fail(io, e);
  } finally {
    await store.close();
  }
}

/** `monitor once` that helped another monitor's sweep: what it probed; the findings are that monitor's to decide. */
function printHelped(io: CliIO, r: Helped, json: boolean): number {
  const decidedBy = 'another monitor of this vantage (the sweep lead)';
  if (json) printJson(io, { helped: { sweep: r.sweepId, batches: r.batches, endpoints: r.endpoints, decidedBy }, sweep: { id: r.sweepId } });
  else io.stdout.write(`helped sweep ${r.sweepId}: probed ${r.endpoints} endpoint(s) in ${r.batches} batch(es); its findings are decided by ${decidedBy} (see pinctl monitor status)\n`);
  return 0;
}

function servedJson(r: CycleResult, c: CycleResult['servedBundles'][number]) {
  const { url, audience } = c.source;
  return { url, audience, version: c.version, expiresAt: c.expiresAt, keysetVersion: c.keysetVersion, error: c.error, uncovered: M.uncovered(r.config, c) };
}

function servedLines(s: Style, r: CycleResult): string[] {
  return r.servedBundles.map((c) => {
    const held = c.version === null ? 'no bundle verified yet' : `version ${c.version}, expires ${c.expiresAt}`;
    const tag = c.error ? s.red('FAIL') : s.green('OK  ');
    const missing = M.uncovered(r.config, c);
    const note = missing.length ? ` · pins nothing for ${missing.join(', ')}` : '';
    return `  ${tag} ${c.source.url} (${c.source.audience}): ${held}${c.error ? ` · ${c.error.code}: ${c.error.message}` : ''}${note}`;
  });
}

/** --json: the finding's one projection (monitor/projection.ts), as its alerts render it. */
const findingJson = (f: StoredFinding) => projectedJson(viewOf(f));

const sevLabel = (s: Style, sev: Severity) => (sev === 'critical' ? s.red('CRITICAL') : sev === 'warning' ? s.yellow('WARNING ') : s.dim('info    '));

function obsLine(s: Style, o: Observation, ep: EndpointConfig): string {
  const where = o.address || '(dns)';
  if (o.chain.length === 0) return `  ${s.red('FAIL')} ${where}  ${o.error?.reason ?? 'error'} after ${o.attempts} attempt(s): ${o.error?.message ?? ''}`;
  const leaf = o.chain[0]!;
  const tag = o.error ? s.red('FAIL') : s.green('OK  ');
  const pins = ep.pins ? '' : ' · no pins configured';
  return `  ${tag} ${where}  ${o.protocol ?? ''}  ${o.chain.map((c) => `"${M.cn(c.subject)}"`).join(' → ')}  leaf until ${leaf.notAfter.slice(0, 10)}${o.error ? ` · ${o.error.reason}: ${o.error.message}` : ''}${pins}`;
}

/** Collects writes into 64 KiB chunks: one write per line to stdout was ~0.3 s for 10,000 endpoints. */
function chunked(target: { write(s: string): unknown }): { write(s: string): void; flush(): void } {
  let buf = '';
  const flush = () => {
    if (buf) target.write(buf);
    buf = '';
  };
  return {
    write: (s) => {
      buf += s;
      if (buf.length >= 65_536) flush();
    },
    flush,
  };
}

function printOnce(io: CliIO, cfg: MonitorConfig, r: CycleResult): void {
  const out = chunked(io.stdout);
  try {
    printOnceTo(out, style(io, io.stdout), cfg, r);
  } finally {
    out.flush();
  }
}

function printOnceTo(out: { write(s: string): void }, s: Style, cfg: MonitorConfig, r: CycleResult): void {
  const observed = byEndpoint(r.sweep.observations); // one index, not a scan per endpoint (10k endpoints)
  for (const ep of cfg.endpoints) {
    out.write(`${s.bold(ep.id)}${ep.sni !== ep.host ? s.dim(` (SNI ${ep.sni})`) : ''}\n`);
    for (const o of observed.get(ep.id) ?? []) out.write(`${obsLine(s, o, ep)}\n`);
  }
  if (r.servedBundles.length > 0) out.write(`\nserved pin bundles (${r.servedBundles.length}):\n${servedLines(s, r).join('\n')}\n`);
  for (const c of r.reports) out.write(`\npin-failure reports from ${c.label}: ${c.error ? s.red(`not read: ${c.error.message}`) : `${c.reports.length} new`}\n`);
  const newIds = new Set(r.opened.map((f) => f.id));
  const changedIds = new Set(r.changed.map((f) => f.id));
  if (r.open.length > 0) {
    out.write(`\nopen findings (${r.open.length}):\n`);
    for (const f of r.open) {
      const tag = newIds.has(f.id) ? ' [new]' : changedIds.has(f.id) ? ' [changed]' : '';
      out.write(`  ${sevLabel(s, f.severity)} ${f.kind}${tag}: ${f.title}\n`);
      if (f.severity !== 'info') {
        out.write(`           ${s.dim(f.explanation)}\n`);
        out.write(`           ${s.dim(`do: ${f.action}`)}\n`);
      }
    }
  }
  if (r.resolved.length > 0) {
    out.write(`\nrecovered (${r.resolved.length}):\n`);
    for (const f of r.resolved) out.write(`  ${s.green('RECOVERED')} ${f.kind}: ${f.title} (${f.resolution})\n`);
  }
  if (r.proposals.length > 0) {
    out.write(`\nproposed pin sets (${r.proposals.length}):\n`);
    for (const p of r.proposals) {
      const o = p.publish;
      const published =
        o === null ? 'not published' : o.result === 'published' ? `published as version ${o.version ?? '?'}` : o.result === 'refused' ? "refused by the service's pre-publish guard (409)" : `publishing failed: ${o.error}`;
      const dropped = p.kind === 'retire-backups' ? `overlap ended, drops the old key(s) ${p.dropped.join(', ')}; ` : '';
      out.write(`  ${p.endpoint}: ${p.file} (${dropped}${p.pins.length} pin(s) + ${p.backups.length} backup(s); ${published})\n`);
    }
  }
  const by = Object.entries(r.shared.byClaimer);
  if (by.length > 1) out.write(`\nsweep ${r.sweepId} shared by ${by.length} monitors: probed by ${by.map(([who, n]) => `${who}: ${n}`).join(', ')} (${r.shared.batches} batches)\n`);
  const failed = r.delivery.failed;
  if (r.queued || r.delivery.sent.length || failed.length) {
    out.write(`\nalerts: ${r.queued} queued, ${r.delivery.sent.length} sent, ${failed.length} failed${failed.length ? ` (${[...new Set(failed.map((x) => `${x.row.channel}: ${x.error}${x.retryAt ? '' : ' (refused: not retried)'}`))].join('; ')}; ${failed.some((x) => x.retryAt) ? 'retried with backoff' : 'not retried'})` : ''}\n`);
  }
  out.write(M.healthy(r.open) ? `${s.green('ok:')} every endpoint is healthy\n` : `${s.red('fail:')} ${r.open.filter((f) => f.severity !== 'info').length} open finding(s) of warning or critical severity\n`);
}

// ---------------------------------------------------------------------------------------------

export async function statusCommand(opts: ConfigOption & { json?: boolean; watch?: boolean }, io: CliIO): Promise<number> {
  let cfg: MonitorConfig;
  let store: MonitorState;
  try {
    await ready();
    cfg = load(opts, io, true);
    store = await M.openState(cfg, { readOnly: true }); // status writes nothing: works on a full disk
  } catch (e) {
    return fail(io, e);
  }
  try {
    const read = async () => {
      const [observations, open, lastChanges, lastSweep, pending] = await Promise.all([
        store.latestObservations(),
        store.openFindings(),
        store.lastChanges(),
        store.lastSweep(),
        store.pendingByChannel(),
      ]);
      const configured = new Set(cfg.endpoints.map((e) => e.id));
      const openHere = open.filter((f) => configured.has(f.endpoint));
      return { rows: M.endpointRows(cfg.endpoints, observations, openHere, lastChanges, io.now(), cfg.vantage), observations, open: openHere, lastSweep, pending };
    };
    if (opts.watch && watchable(io)) {
      const { startMonitorWatch } = await import('../views/monitor-watch.js');
      const quit = quitSignal();
      const view = startMonitorWatch(`pinctl monitor status · ${cfg.file}`, { color: watchColor(io), onQuit: quit.fire });
      // The whole status document: the view's details (enter) show chain, pins and findings.
      const refresh = async () => {
        const now = io.now();
        view.update((await M.readStatus(store, cfg, now, null)).endpoints, now);
      };
      await refresh();
      const t = setInterval(() => void refresh().catch(() => undefined), 2000);
      await untilSignal(process, undefined, quit.promise);
      clearInterval(t);
      view.stop();
      return 0;
    }
    const st = await read();
    const fresh = M.freshness(cfg, st.lastSweep?.finishedAt ?? null, io.now());
    const ok = M.healthy(st.open) && fresh.state === 'fresh';
    if (opts.json) {
      const configured = new Set(cfg.endpoints.map((e) => e.id));
      printJson(io, {
        healthy: ok,
        sweep: { state: fresh.state, ageMs: fresh.ageMs, staleAfterMs: fresh.limitMs, message: fresh.message },
        lastSweep: st.lastSweep,
        endpoints: st.rows,
        observations: st.observations.filter((o) => configured.has(o.endpoint)),
        open: st.open.map(findingJson),
        alertsQueued: Object.fromEntries(st.pending),
        alertChannels: M.alertChannels(cfg.alerts),
      });
    } else {
      const s = style(io, io.stdout);
      if (!st.lastSweep) io.stdout.write(`${s.red('fail:')} no sweep recorded yet in ${cfg.state}: run pinctl monitor once --config ${cfg.file}\n`);
      else io.stdout.write(s.dim(`last sweep ${st.lastSweep.finishedAt} (${Math.round(st.lastSweep.durationMs)} ms), state ${cfg.state}\n`));
      if (fresh.state === 'stale') io.stdout.write(`${s.red('fail:')} stale: ${fresh.message}\n`);
      for (const r of st.rows) io.stdout.write(`${rowLine(s, r)}\n`);
      for (const f of st.open) io.stdout.write(`  ${sevLabel(s, f.severity)} ${f.kind}: ${f.title} ${s.dim(`(since ${f.openedAt})`)}\n`);
      const queued = [...st.pending].map(([c, n]) => `${n} ${c}`);
      if (queued.length) io.stdout.write(`alerts waiting for delivery: ${queued.join(', ')}\n`);
      const channels = M.alertChannels(cfg.alerts).map((c) => c.to);
      io.stdout.write(s.dim(`alert channels: ${channels.length ? channels.join('; ') : 'none configured'}\n`));
    }
    return ok ? 0 : 1;
  } catch (e) {
    return fail(io, e);
  } finally {
    await store.close();
  }
}

export function rowLine(s: Style, r: EndpointRow): string {
  const status = r.status === 'ok' ? s.green('ok      ') : r.status === 'critical' ? s.red('critical') : r.status === 'warning' ? s.yellow('warning ') : s.dim(r.status.padEnd(8));
  const pins = r.pinMatch === null ? 'pins –' : r.pinMatch ? 'pins match' : 'PINS FAIL';
  const expiry = r.daysToExpiry === null ? 'expiry –' : `expires in ${r.daysToExpiry}d`;
  return `${status} ${M.rowLabel(r).padEnd(30)} ${`${r.answering}/${r.addresses} up`.padEnd(8)} ${pins.padEnd(10)} ${expiry.padEnd(16)} ${r.distinctChains > 1 ? `${r.distinctChains} chains ` : ''}${r.lastChange ? s.dim(`changed ${r.lastChange}`) : ''}`;
}

// ---------------------------------------------------------------------------------------------

export async function historyCommand(host: string, opts: ConfigOption & { json?: boolean; limit: string }, io: CliIO): Promise<number> {
  let store: MonitorState;
  const limit = Number(opts.limit);
  try {
    if (!/^\d+$/.test(opts.limit) || limit < 1) throw new InputError('USAGE', `--limit ${opts.limit}: expected a whole number of events`);
    await ready();
    const cfg = load(opts, io, true);
    store = await M.openState(cfg);
  } catch (e) {
    return fail(io, e);
  }
  try {
    const key = host.toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    const events = await store.history(key, limit);
    if (opts.json) printJson(io, { host: key, events });
    else {
      const s = style(io, io.stdout);
      if (events.length === 0) io.stdout.write(`no history for ${key} (is it the host or host:port of a configured endpoint, and has a sweep run?)\n`);
      for (const e of events) io.stdout.write(`${historyLine(s, e)}\n`);
    }
    return 0;
  } catch (e) {
    return fail(io, e);
  } finally {
    await store.close();
  }
}

function historyLine(s: Style, e: HistoryEvent): string {
  const sev = e.severity as Severity | null;
  const type = e.type === 'resolved' ? s.green('resolved') : e.type === 'opened' ? (sev === 'info' ? s.dim('opened  ') : sev === 'critical' ? s.red('opened  ') : s.yellow('opened  ')) : e.type.padEnd(8);
  let summary = e.summary.replace(new RegExp(`^${escapeRe(e.endpoint)}\\s*`), '');
  if (e.address && summary.startsWith(`${e.address}: `)) summary = summary.slice(e.address.length + 2);
  return `${e.at}  ${type} ${e.kind ? `${e.kind} ` : ''}${e.severity && e.type !== 'resolved' ? s.dim(`(${e.severity}) `) : ''}${e.endpoint}${e.address ? ` ${e.address}` : ''}: ${summary}`;
}

const escapeRe = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------------------------------------------------------------------------------------------

function interactive(io: CliIO): boolean {
  return Boolean(io.stdout.isTTY) && !io.env.CI && io.stdout === process.stdout;
}

/**
 * --watch redraws in place: it needs a terminal that moves the cursor. TERM=dumb has none, so the
 * command says so and prints plain lines instead.
 */
function watchable(io: CliIO): boolean {
  if (!interactive(io)) return false;
  if (io.env.TERM === 'dumb') {
    io.stderr.write('note: TERM=dumb: --watch needs a terminal that can move the cursor; printing plain lines instead\n');
    return false;
  }
  return true;
}

/** Colour in the --watch view: never with NO_COLOR (no-color.org) or on a dumb terminal. */
const watchColor = (io: CliIO) => !io.env.NO_COLOR && io.env.TERM !== 'dumb';

/** `q` in the --watch view: resolves like SIGINT. */
function quitSignal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((r) => (fire = r));
  return { promise, fire };
}

/** Where signals come from: the process, or an EventEmitter in tests. */
export interface SignalSource {
  on(event: 'SIGINT' | 'SIGTERM' | 'SIGHUP', fn: () => void): unknown;
  off(event: 'SIGINT' | 'SIGTERM' | 'SIGHUP', fn: () => void): unknown;
}

/** Resolves on SIGINT or SIGTERM (or `quit`, as "q"); calls onHup for each SIGHUP meanwhile. */
function untilSignal(signals: SignalSource, onHup?: () => void, quit?: Promise<void>): Promise<string> {
  return new Promise((resolveSignal) => {
    const hup = () => onHup?.();
    const done = (sig: string) => () => {
      signals.off('SIGINT', int);
      signals.off('SIGTERM', term);
      signals.off('SIGHUP', hup);
      resolveSignal(sig);
    };
    const int = done('SIGINT');
    const term = done('SIGTERM');
    signals.on('SIGINT', int);
    signals.on('SIGTERM', term);
    if (onHup) signals.on('SIGHUP', hup);
    void quit?.then(done('q'));
  });
}

export async function runCommand(opts: ConfigOption & { watch?: boolean }, io: CliIO, signals: SignalSource = process): Promise<number> {
  const { startRunner } = await import('../../monitor/runner.js');
  const quit = quitSignal();
  const view = opts.watch && watchable(io) ? await startRunWatch(opts, io, quit.fire) : null;
  const log = (line: string) => {
    if (view) view.log(line);
    else (line.startsWith('error:') ? io.stderr : io.stdout).write(`${io.now().toISOString()} ${line}\n`);
  };
  let runner: Runner;
  try {
    runner = await startRunner({
      configPath: configPath(opts, io),
      env: io.env,
      cwd: io.cwd,
      now: () => io.now(),
      probe: io.probe,
      resolve: io.resolve,
      log,
      onUpdate: view ? (rows) => view.rows(rows) : undefined,
    });
  } catch (e) {
    view?.stop();
    return fail(io, e);
  }
  view?.attach(runner);
  const sig = await untilSignal(signals, () => void runner.reload().catch((e: unknown) => log(`error: reload failed: ${e instanceof Error ? e.message : String(e)}`)), quit.promise);
  log(`${sig}: stopping`);
  await runner.stop();
  view?.stop();
  return 0;
}

/**
 * The --watch view of `monitor run`: rows from the runner after each sweep, then the details
 * (chain, pins, findings) read from the state store through a second, read-only use of it.
 */
async function startRunWatch(opts: ConfigOption, io: CliIO, onQuit: () => void) {
  await ready();
  const view: WatchView = (await import('../views/monitor-watch.js')).startMonitorWatch(`pinctl monitor run · ${opts.config ?? 'monitor.yaml'}`, { color: watchColor(io), onQuit });
  const entries: LogEntry[] = [];
  let runner: Runner | null = null;
  let reader: { state: string; store: MonitorState } | null = null;
  let stopped = false;
  const details = async () => {
    if (!runner || stopped) return; // the first update comes from inside startRunner
    const cfg = runner.config();
    if (reader?.state !== cfg.state) {
      void reader?.store.close();
      reader = { state: cfg.state, store: await M.openState(cfg) };
    }
    const now = io.now();
    const doc = await M.readStatus(reader.store, cfg, now, null);
    if (!stopped) view.update(doc.endpoints, now);
  };
  const refresh = () => void details().catch((e: unknown) => stopped || log(`error: --watch could not read the state: ${e instanceof Error ? e.message : String(e)}`));
  const log = (text: string) => {
    entries.push({ at: io.now(), text });
    if (entries.length > 500) entries.shift();
    view.log(entries);
  };
  return {
    log,
    rows(rows: EndpointRow[]) {
      view.update(rows, io.now());
      refresh();
    },
    attach(r: Runner) {
      runner = r;
      refresh();
    },
    stop() {
      stopped = true;
      view.stop();
      reader?.store.close();
    },
  };
}
