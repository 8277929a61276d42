/**
 * `monitor run`: the long-running monitor. Sweeps run on the config's cron schedule (matched by
 * node-cron, timed by monitor/schedule.ts on the monotonic clock; a sweep still running makes the
 * next one skip; one sweep also runs at start).
 * Alerts are delivered outside the sweep, right after it and by a timer (retries with backoff do
 * not wait for the next sweep): a slow mail server never holds a sweep, and stop() aborts them.
 * The metrics server answers /metrics and /healthz. reload() re-reads the config (SIGHUP): a
 * config that does not validate is reported and the running one is kept.
 */
import { createTask } from 'node-cron';
import { describeError } from '../src/errors.js';
import { Prober } from '../src/net/probe.js';
import { Resolver } from '../src/net/resolve.js';
import { TrustStore } from '../src/core/trust-store.js';
import { MonitorConfig, PageAuth, loadConfig } from './config.js';
import { CycleResult, SweepSkipped, runOrHelp } from './cycle.js';
import { shareOptions } from './shared-sweep.js';
import { ServedBundles } from './served-bundles.js';
import { DeliveryLock, Senders, defaultSenders, deliverDue } from './alerts.js';
import { MetricsServer, renderMetrics, startMetricsServer } from './metrics.js';
import { EndpointRow, endpointRows, freshness, scheduleIntervalMs } from './status.js';
import type { MonitorState } from './state.js';
import { openState, stateLabel } from './open-state.js';
import { trustStores } from './sweep.js';
import { cachedBundleInfo, FetchLike, readStatus } from './status-page/source.js';
import { renderStatusPage } from './status-page/html.js';
import { ScheduleClock, startSchedule, systemClock } from './schedule.js';

export interface RunnerOptions {
  configPath: string;
  env: Record<string, string | undefined>;
  cwd: string;
  now: () => Date;
  probe?: Prober;
  resolve?: Resolver;
  senders?: (cfg: MonitorConfig) => Senders;
  sleep?: (ms: number) => Promise<void>;
  log: (line: string) => void;
  /** After each sweep (and at start): the rows for a dashboard. */
  onUpdate?: (rows: EndpointRow[], last: CycleResult | null) => void;
  /** Interval of the delivery timer; default 5 s. */
  deliveryIntervalMs?: number;
  /** Wall and monotonic clocks and timers of the schedule (tests step the wall clock); default: real ones over `now`. */
  clock?: ScheduleClock;
  /** Run a sweep at start (default true). */
  sweepAtStart?: boolean;
  /** How the status page reads the signing service's bundle (tests); default: global fetch. */
  fetch?: FetchLike;
}

export interface Runner {
  config(): MonitorConfig;
  metricsAddress(): { host: string; port: number } | null;
  /** Runs a sweep now unless one is running (then resolves null), then delivers its alerts. */
  sweepNow(): Promise<CycleResult | null>;
  /** Re-reads the config; false (and the old config kept) when the new one is invalid. */
  reload(): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startRunner(opts: RunnerOptions): Promise<Runner> {
  let cfg = loadConfig(opts.configPath, { env: opts.env, cwd: opts.cwd, now: opts.now() });
  let stores = trustStores(cfg, opts.env);
  let store = await openState(cfg);
  let metrics: MetricsServer | null = null;
  let task: { stop(): void } | null = null;
  let running: Promise<CycleResult | null> | null = null;
  let delivering: Promise<void> | null = null;
  let last: CycleResult | null = null;
  let lastError: string | null = null;
  let stopped = false;
  const startedAt = opts.now();
  const clock = opts.clock ?? systemClock(() => opts.now().getTime());
  const startedMono = clock.monoNow();
  let lastSweepMono: number | null = null;
  const reloads = { ok: 0, failed: 0 };
  const lock = new DeliveryLock();
  const senders = () => (opts.senders ? opts.senders(cfg) : defaultSenders(cfg.alerts));
  // One SDK client per served bundle for the life of the process (ETags, rotations carry over).
  const servedByState = new Map<string, ServedBundles>();
  const servedBundles = () => {
    let s = servedByState.get(cfg.localDir);
    if (!s) servedByState.set(cfg.localDir, (s = new ServedBundles({ stateDir: cfg.localDir, now: opts.now, timeoutMs: cfg.timeoutMs })));
    return s;
  };

  const snapshot = async () => {
    const [observations, open, counters, pending, chainChanges, lastSweep] = await Promise.all([
      store.latestObservations(),
      store.openFindings(),
      store.counters(),
      store.pendingByChannel(),
      store.chainChanges(),
      store.lastSweep(),
    ]);
    return { now: opts.now(), endpoints: cfg.endpoints, observations, open, counters, pending, chainChanges, lastSweep, configReloads: reloads };
  };

  const update = async () => {
    if (!opts.onUpdate) return;
    const s = await snapshot();
    const rows = endpointRows(cfg.endpoints, s.observations, s.open, await store.lastChanges(), s.now, cfg.vantage);
    opts.onUpdate(rows, last);
  };

  /** `scheduled`: a tick of the schedule, skipped when another monitor on this state swept this slot. */
  const sweepOnce = async (scheduled = false): Promise<CycleResult | null> => {
    if (running) {
      opts.log('sweep skipped: the previous sweep is still running');
      return null;
    }
    running = (async () => {
      try {
        // Half the schedule's interval: a sweep another monitor on this state made in this slot counts.
        const minSweepGapMs = scheduled ? scheduleIntervalMs(cfg.schedule, cfg.timezone) / 2 : 0;
        // Delivery is not part of the sweep: a slow mail server never keeps the next sweep waiting.
        // A follower of this vantage's lead probes the lead's batches instead of skipping the slot.
        const r = await runOrHelp(cfg, store, { now: opts.now, stores, probe: opts.probe, resolve: opts.resolve, sleep: opts.sleep, senders: senders(), log: opts.log, noDelivery: true, servedBundles: servedBundles(), minSweepGapMs, share: { ...shareOptions(opts.env), signal: stopping.signal } }, 'run');
        lastError = null;
        lastSweepMono = clock.monoNow();
        if ('helped' in r) {
          opts.log(`helped sweep ${r.sweepId}: probed ${r.endpoints} endpoint(s) in ${r.batches} batch(es); decided by another monitor of this vantage`);
          void deliver();
          return null;
        }
        last = r;
        const failures = r.sweep.observations.filter((o) => o.error).length;
        const by = Object.entries(r.shared.byClaimer).map(([who, n]) => `${who}: ${n}`).join(', ');
        opts.log(
          `sweep ${r.sweepId}: ${cfg.endpoints.length} endpoint(s), ${r.sweep.observations.length} address(es), ${failures} failed, ${Math.round(r.sweep.durationMs)} ms; ` +
            `${r.opened.length} new, ${r.changed.length} changed, ${r.resolved.length} resolved, ${r.open.length} open; ${r.queued} alert(s) queued; ` +
            `probed by ${by || 'nobody'} (${r.shared.batches} batch(es))`,
        );
        for (const f of r.opened) opts.log(`  new ${f.severity} ${f.kind}: ${f.title}`);
        for (const f of r.changed) opts.log(`  changed ${f.severity} ${f.kind}: ${f.title}`);
        for (const f of r.resolved) opts.log(`  recovered ${f.kind}: ${f.title} (${f.resolution})`);
        await update();
        void deliver();
        return r;
      } catch (e) {
        if (e instanceof SweepSkipped) {
          opts.log(`sweep skipped: ${e.message}`);
          return null;
        }
        lastError = describeError(e);
        opts.log(`error: sweep failed: ${lastError}`);
        return null;
      }
    })();
    try {
      return await running;
    } finally {
      running = null;
    }
  };

  const stopping = new AbortController();
  const deliver = async () => {
    if (delivering || stopped || lock.busy) return;
    delivering = deliverDue(store, cfg.alerts, senders(), opts.now, opts.log, { lock, signal: stopping.signal })
      .then(() => undefined)
      .catch((e) => opts.log(`error: alert delivery: ${describeError(e)}`));
    await delivering;
    delivering = null;
  };

  // node-cron parses the expression and matches times (with the timezone); the timing is ours
  // (monitor/schedule.ts), on the monotonic clock, so wall-clock steps neither stop nor flood it.
  const onStep = (deltaMs: number) => {
    const days = Math.abs(deltaMs) / 86_400_000;
    const size = days >= 1 ? `${days.toFixed(1)} days` : `${Math.round(Math.abs(deltaMs) / 1000)} s`;
    opts.log(`the wall clock stepped ${deltaMs > 0 ? 'forward' : 'back'} by ${size}: the schedule follows the new time (missed runs are not replayed)`);
    if (deltaMs < 0) void deliver(); // re-bases alert times left in the future by the old clock
  };
  const schedule = () => {
    const matcher = createTask(cfg.schedule, () => undefined, { timezone: cfg.timezone ?? undefined, name: 'pinctl-monitor' });
    task = startSchedule({ matches: (at) => matcher.match(at), fire: () => void sweepOnce(true), clock, onStep });
  };

  const bundleInfo = cachedBundleInfo(() => cfg.dynamicPinning?.service ?? null, opts.now, 60_000, opts.fetch);
  const statusDoc = async () => readStatus(store, cfg, opts.now(), await bundleInfo());
  const bindMetrics = (listen: { host: string; port: number; auth?: PageAuth }): Promise<MetricsServer> =>
    startMetricsServer(listen, {
      metrics: async () => renderMetrics({ ...(await snapshot()), bundle: await bundleInfo() }),
      status: { json: statusDoc, html: async () => renderStatusPage(await statusDoc(), `pinctl monitor · ${cfg.file}`), auth: listen.auth },
      health: async () => {
        const lastSweep = await store.lastSweep();
        // Before the first sweep the process start counts: a monitor that never sweeps goes stale too.
        // Measured on the monotonic clock once this process has swept (a wall-clock step cannot make
        // it negative or hide a stalled monitor); before that, from the stored sweep or the start.
        const monoAge = lastSweepMono !== null ? clock.monoNow() - lastSweepMono : lastSweep ? undefined : clock.monoNow() - startedMono;
        const fresh = freshness(cfg, lastSweep?.finishedAt ?? null, opts.now(), startedAt, monoAge);
        const ok = lastError === null && fresh.state !== 'stale';
        return {
          ok,
          body: {
            status: lastError !== null ? 'error' : fresh.state === 'stale' ? 'stale' : 'ok',
            lastSweep: lastSweep?.finishedAt ?? null,
            ageMs: fresh.ageMs === null ? null : Math.round(fresh.ageMs),
            error: lastError ?? fresh.message,
            staleAfterMs: fresh.limitMs,
            endpoints: cfg.endpoints.length,
            schedule: cfg.schedule,
          },
        };
      },
    });
  const logMetrics = (m: MetricsServer) => {
    const base = `http://${m.host.includes(':') ? `[${m.host}]` : m.host}:${m.port}`;
    opts.log(`metrics on ${base}/metrics, status page on ${base}/`);
  };

  const startMetrics = async () => {
    if (!cfg.metrics) return;
    metrics = await bindMetrics(cfg.metrics);
    logMetrics(metrics);
  };

  try {
    await startMetrics();
  } catch (e) {
    store.close();
    throw e;
  }
  schedule();
  const timer = setInterval(() => void deliver(), opts.deliveryIntervalMs ?? 5000);
  timer.unref();
  opts.log(`monitoring ${cfg.endpoints.length} endpoint(s) on schedule "${cfg.schedule}"${cfg.timezone ? ` (${cfg.timezone})` : ''}; state in ${stateLabel(cfg.state)}`);
  await update();
  if (opts.sweepAtStart !== false) void sweepOnce();

  return {
    config: () => cfg,
    metricsAddress: () => (metrics ? { host: metrics.host, port: metrics.port } : null),
    async sweepNow() {
      const r = await sweepOnce();
      // The API (tests, one-off triggers) waits for that sweep's alerts; the schedule never does.
      while (delivering) await delivering;
      await deliver();
      return r;
    },
    async reload() {
      // Transactional: everything the new config needs (trust stores, state store, metrics
      // listener) is built first, next to the running ones; the switch happens only when all of it
      // succeeded. On any failure the running config, store and listener are kept untouched.
      let next: MonitorConfig;
      let nextStores: Map<string, TrustStore>;
      let nextStore: MonitorState | null = null;
      let nextMetrics: MetricsServer | null = null;
      const fail = (e: unknown) => {
        reloads.failed++;
        opts.log(`error: reload of ${opts.configPath} failed, keeping the running config: ${describeError(e)}`);
        return false;
      };
      try {
        next = loadConfig(opts.configPath, { env: opts.env, cwd: opts.cwd, now: opts.now() });
        nextStores = trustStores(next, opts.env);
      } catch (e) {
        return fail(e);
      }
      const old = cfg;
      const metricsChanged = JSON.stringify(next.metrics) !== JSON.stringify(old.metrics);
      try {
        if (next.state !== old.state) nextStore = await openState(next);
        // Bound before the old listener closes: a busy port fails here and the old one keeps serving.
        if (metricsChanged && next.metrics) nextMetrics = await bindMetrics(next.metrics);
      } catch (e) {
        nextStore?.close();
        await nextMetrics?.close().catch(() => undefined);
        return fail(e);
      }
      if (stopped) {
        nextStore?.close();
        await nextMetrics?.close().catch(() => undefined);
        return false;
      }
      // Let the sweep or delivery using the old store finish before it closes.
      while (running || delivering) await (running ?? delivering);
      cfg = next;
      stores = nextStores;
      if (nextStore) {
        const oldStore = store;
        store = nextStore;
        oldStore.close();
      }
      if (next.schedule !== old.schedule || next.timezone !== old.timezone) {
        task?.stop();
        schedule();
      }
      if (metricsChanged) {
        const oldMetrics = metrics;
        metrics = nextMetrics;
        await oldMetrics?.close().catch((e) => opts.log(`error: closing the old metrics listener: ${describeError(e)}`));
        if (metrics) logMetrics(metrics);
      }
      reloads.ok++;
      opts.log(`reloaded ${opts.configPath}: ${cfg.endpoints.length} endpoint(s), schedule "${cfg.schedule}"${next.hash === old.hash ? ' (unchanged)' : ''}`);
      await update();
      return true;
    },
    async stop() {
      stopped = true;
      stopping.abort(); // deliveries in flight end now; their rows are retried after a restart
      clearInterval(timer);
      task?.stop();
      if (running) await running;
      if (delivering) await delivering;
      await metrics?.close();
      store.close();
    },
  };
}
