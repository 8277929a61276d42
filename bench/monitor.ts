/**
 * Monitor sweeps (`pinctl monitor once`, a whole process: start-up, config, probing, findings,
 * state commit, report) over 1,000, 10,000 and 100,000 endpoints served by local TLS servers in
 * another process (every name resolves through the config's `addresses:`), with the state in
 * SQLite and in PostgreSQL, against bare tls.connect loops over the same endpoints with the same
 * concurrency, measured once per size in the same run: the plain loop (a default secure context per
 * connection) and the fastest one (one shared context, as pinctl's prober does). Peak RSS is each
 * child's own; the database's rows and bytes are deltas over the sweep.
 *
 * Scenarios per size and state: a healthy fleet's first sweep on an empty state, a repeat sweep
 * on that state, and two monitor processes started together on that state (one leads the sweep and
 * the other helps probe it: how many endpoints each probed is printed); at 10,000 also a JSON config and a fleet where every
 * endpoint alerts (every certificate inside the expiry window: 20,000 findings in one commit).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoopTime, bareTlsLoop, bareTlsLoopInChild, startTlsServers } from './tls-load.js';
import { packageRoot } from '../src/package-root.js';
import { BenchState, Footprint, PG_SKIP_REASON, pgState, sqliteState } from './monitor-db.js';

type Line = (label: string, ours: string, base: string, ratio: number, target?: string) => void;

/**
 * A wildcard PKI made with openssl for the bench (valid ~13 months), so every endpoint name has a valid chain.
 * `leaf`: the servers send the leaf alone, signed by the root (the probe's cheap read applies);
 * `intermediate`: leaf + intermediate, as public CAs' chains are served (the probe's detailed read).
 */
function wildcardPki(dir: string, shape: ChainShape): { root: string; chain: string; key: string } {
  const ca = `-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign`;
  const issuer = shape === 'intermediate' ? 'inter' : 'root';
  const sh = `set -e; cd "${dir}"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem -subj "/CN=bench root" -days 400 ${ca} 2>/dev/null
    if [ ${issuer} = inter ]; then
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout inter.key -out inter.csr -subj "/CN=bench intermediate" 2>/dev/null
      printf 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign\n' > inter.ext
      openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -out inter.pem -days 400 -extfile inter.ext 2>/dev/null
    fi
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=*.bench.test" 2>/dev/null
    printf 'subjectAltName=DNS:*.bench.test\nbasicConstraints=CA:false\nextendedKeyUsage=serverAuth\n' > leaf.ext
    openssl x509 -req -in leaf.csr -CA ${issuer}.pem -CAkey ${issuer}.key -CAcreateserial -out leaf.pem -days 400 -extfile leaf.ext 2>/dev/null
    cat leaf.pem ${issuer === 'inter' ? 'inter.pem' : ''} > chain.pem`;
  execFileSync('bash', ['-c', sh]);
  return { root: join(dir, 'root.pem'), chain: join(dir, 'chain.pem'), key: join(dir, 'leaf.key') };
}

interface Scenario {
  /** For `--monitor-scenarios=first,two` (first, repeat, two, json, alerting). */
  id: string;
  label: string;
  n: number;
  format: 'yaml' | 'json';
  /** Run on the state the previous scenario left (a repeat sweep). */
  repeat?: boolean;
  /** Every certificate inside the warning window: two expiry findings per endpoint. */
  alerting?: boolean;
  /** Monitor processes started together on the state. */
  procs: 1 | 2;
}

export interface MonitorBenchOptions {
  /** `--monitor-sizes=1000,10000` (default 1,000, 10,000 and 100,000). */
  sizes: number[];
  /** `--monitor-states=sqlite,postgres` (default both; PostgreSQL skipped, saying why, without a server). */
  backends: ('sqlite' | 'postgres')[];
  /** `--monitor-cpu-prof=DIR`: each monitor process writes a V8 CPU profile there. */
  cpuProfDir?: string;
  /** `--monitor-scenarios=first,repeat,two,json,alerting` (default all). */
  scenarios?: string[];
  /** `--monitor-probe-threads=N`: the config's probeThreads (default: the config's default). */
  probeThreads?: number;
  /** `--monitor-chain=leaf|intermediate`: what the bench's servers send (default leaf). */
  chain?: ChainShape;
}

export type ChainShape = 'leaf' | 'intermediate';

export const MONITOR_SIZES = [1000, 10_000, 100_000];

function scenarios(sizes: number[]): Scenario[] {
  const out: Scenario[] = [];
  for (const n of sizes) {
    out.push({ id: 'first', label: 'healthy, first sweep', n, format: 'yaml', procs: 1 });
    out.push({ id: 'repeat', label: 'healthy, repeat sweep', n, format: 'yaml', repeat: true, procs: 1 });
    out.push({ id: 'two', label: 'two processes, one state', n, format: 'yaml', repeat: true, procs: 2 });
    if (n === 10_000) {
      out.push({ id: 'json', label: 'healthy, first sweep', n, format: 'json', procs: 1 });
      out.push({ id: 'alerting', label: 'all alerting (20,000 findings)', n, format: 'yaml', alerting: true, procs: 1 });
    }
  }
  return out;
}

function writeConfig(
  s: Scenario,
  dir: string,
  state: BenchState,
  ports: number[],
  root: string,
  pins: string[],
  probeThreads?: number,
): string {
  const warn = s.alerting ? [500] : [30, 14, 7];
  const file = join(dir, `monitor.${s.format}`);
  if (s.format === 'yaml') {
    const pinList = pins.map((p) => `"${p}"`).join(', ');
    const endpoints = Array.from(
      { length: s.n },
      (_, i) => `  - { host: ep${i}.bench.test, port: ${ports[i % ports.length]}, addresses: [127.0.0.1], caFile: ${root}, pins: [${pinList}] }`,
    );
    const threads = probeThreads ? `\nprobeThreads: ${probeThreads}` : '';
    const top = `schedule: "0 * * * *"\n${state.configLines}\nexpiryWarningDays: [${warn.join(', ')}]${threads}`;
    writeFileSync(file, `${top}\nendpoints:\n${endpoints.join('\n')}\n`);
  } else {
    const endpoints = Array.from({ length: s.n }, (_, i) => ({
      host: `ep${i}.bench.test`,
      port: ports[i % ports.length],
      addresses: ['127.0.0.1'],
      caFile: root,
      pins,
    }));
    const stateKeys = Object.fromEntries(state.configLines.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
    const threads = probeThreads ? { probeThreads } : {};
    const top = { schedule: '0 * * * *', ...stateKeys, expiryWarningDays: warn, ...threads };
    writeFileSync(file, JSON.stringify({ ...top, endpoints }));
  }
  return file;
}

interface RunOut {
  ms: number;
  /** CPU time (user + system) of the process: steadier than wall time on a shared machine. */
  cpuMs: number;
  rssKb: number;
  code: number;
  err: string;
  /** The report's lines on a shared sweep ("helped sweep …", "sweep … shared by … probed by …"). */
  shared: string;
  pid: number;
}

/** Endpoints this process probed: from its helper line, or from its lead's line (by its pid); null: it swept alone. */
export function probedByProcess(o: RunOut): number | null {
  const helped = /helped sweep \S+: probed (\d+) endpoint/.exec(o.shared);
  if (helped) return Number(helped[1]);
  const mine = new RegExp(` pid ${o.pid}: (\\d+)`).exec(o.shared);
  return mine ? Number(mine[1]) : null;
}

/** `pinctl monitor once` in a child process that reports its wall and CPU time, its exit code and its peak RSS. */
function monitorOnce(root: string, configFile: string, cpuProfDir?: string): Promise<RunOut> {
  const code = `const { run } = await import(${JSON.stringify(join(root, 'dist', 'cli', 'run.js'))});
    const { processIO } = await import(${JSON.stringify(join(root, 'dist', 'cli', 'io.js'))});
    // Of the report, only the lines saying who probed what (a shared sweep): its lead's and a helper's.
    let shared = ''; const keep = (x) => { for (const m of String(x).matchAll(/^(helped sweep .*|sweep \\S+ shared by .*)$/gm)) shared += m[0] + '\\n'; };
    const io = processIO(); io.stdout = { write: keep }; let err = ''; io.stderr = { write(x) { err += x; } };
    const t = performance.now(); const code = await run(['monitor', 'once', '--config', ${JSON.stringify(configFile)}], io);
    const ms = performance.now() - t; const u = process.resourceUsage();
    const cpuMs = (u.userCPUTime + u.systemCPUTime) / 1000;
    process.stdout.write(JSON.stringify({ ms, cpuMs, rssKb: u.maxRSS, code, err: err.slice(0, 2000), shared, pid: process.pid }));`;
  const prof = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = spawn(process.execPath, [...prof, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => {
      try {
        resolve(JSON.parse(out) as RunOut);
      } catch {
        reject(new Error(`pinctl monitor once: the bench child exited ${status} without a result`));
      }
    });
  });
}

/** One sweep (or two processes racing for one): times, peak RSS per process, the database's growth. */
async function runScenario(rig: Rig, s: Scenario, configFile: string, state: BenchState) {
  const before = await state.footprint().catch((): Footprint => ({ rows: 0, bytes: 0 }));
  const t = performance.now();
  const serverCpu0 = rig.serverCpuMs();
  const once = () => monitorOnce(rig.root, configFile, rig.opts.cpuProfDir);
  const outs = await Promise.all(Array.from({ length: s.procs }, once));
  const wallMs = performance.now() - t;
  const serverCpuMs = rig.serverCpuMs() - serverCpu0;
  // A process that found the sweep open helps it (exit 0); one that found none open yet is told another sweeps.
  const swept = outs.filter((o) => o.code !== 2);
  const busy = outs.filter((o) => o.code === 2 && /STATE_BUSY|another monitor/.test(o.err));
  // A run that failed or stored no sweep measured nothing: say so instead of printing a time.
  if (swept.length === 0 || swept.length + busy.length !== outs.length) {
    throw new Error(`pinctl monitor once failed: ${outs.map((o) => `exit ${o.code}: ${o.err}`).join(' | ')}`);
  }
  const sweepMs = await state.lastSweepMs();
  if (sweepMs === undefined) throw new Error('pinctl monitor once stored no sweep');
  const after = await state.footprint();
  const grown = { rows: after.rows - before.rows, bytes: after.bytes - before.bytes };
  return { wallMs, outs, serverCpuMs, swept: swept.length, sweepMs, ...grown };
}

interface Baseline {
  plain: LoopTime;
  shared: LoopTime;
}

const MB = 1024 * 1024;
const fmtN = (n: number) => n.toLocaleString('en-US');
const targetOf = (n: number) =>
  n >= 100_000 ? '< 150 s; < 1 GB per process' : n >= 10_000 ? '<= 1.25x; < 60 s; < 300 MB' : '<= 1.25x';
const ALL: MonitorBenchOptions = { sizes: MONITOR_SIZES, backends: ['sqlite', 'postgres'] };
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

interface Rig {
  root: string;
  ports: number[];
  caRoot: string;
  pins: string[];
  line: Line;
  opts: MonitorBenchOptions;
  baselines: Map<number, Baseline>;
  /** CPU time of the TLS servers' process so far. */
  serverCpuMs: () => number;
  /** First-sweep times by "backend size", for PostgreSQL vs SQLite. */
  firstSweep: Map<string, number>;
}

export async function benchMonitor(line: Line, opts: MonitorBenchOptions = ALL): Promise<void> {
  const root = packageRoot();
  const pki = wildcardPki(mkdtempSync(join(tmpdir(), 'pinctl-bench-pki-')), opts.chain ?? 'leaf');
  // A port per 5,000 endpoints: 100,000 sweeps plus two baseline loops within TIME_WAIT must not run
  // out of local ports towards one server port.
  const servers = await startTlsServers(pki.chain, pki.key, Math.max(8, Math.ceil(Math.max(...opts.sizes) / 5000)));
  const cli = join(root, 'dist', 'cli', 'main.js');
  const pins = (JSON.parse(execFileSync(process.execPath, [cli, 'pins', '--json', pki.chain, pki.root], { encoding: 'utf8' })) as { spkiSha256: string }[]).map((p) => p.spkiSha256);
  const rig: Rig = {
    ...{ root, ports: servers.ports, caRoot: pki.root, pins, line, opts },
    ...{ baselines: new Map(), firstSweep: new Map(), serverCpuMs: servers.cpuMs },
  };
  try {
    await bareTlsLoop(rig.ports, 500, 64, (i) => `ep${i}.bench.test`); // warm the servers
    for (const backend of opts.backends) {
      if (backend === 'postgres' && PG_SKIP_REASON) console.log(`skipped monitor with PostgreSQL: ${PG_SKIP_REASON}`);
      else await benchBackend(rig, backend);
    }
    for (const n of opts.sizes) {
      const sq = rig.firstSweep.get(`sqlite ${n}`);
      const pgMs = rig.firstSweep.get(`postgres ${n}`);
      if (sq && pgMs) line(`monitor ${fmtN(n)}, postgres vs sqlite`, secs(pgMs), `sqlite ${secs(sq)} (first sweep)`, pgMs / sq, '<= 1.2x');
    }
  } finally {
    servers.stop();
  }
}

async function benchBackend(rig: Rig, backend: 'sqlite' | 'postgres'): Promise<void> {
  let state: BenchState | null = null;
  const states: BenchState[] = [];
  try {
    for (const s of scenarios(rig.opts.sizes).filter((x) => !rig.opts.scenarios || rig.opts.scenarios.includes(x.id))) {
      const dir = mkdtempSync(join(tmpdir(), 'pinctl-bench-monitor-'));
      if (!s.repeat || !state) states.push((state = backend === 'postgres' ? await pgState(dir) : sqliteState(dir)));
      const configFile = writeConfig(s, dir, state, rig.ports, rig.caRoot, rig.pins, rig.opts.probeThreads);
      const r = await runScenario(rig, s, configFile, state);
      // Both baselines once per size, right after its first run, each in a fresh process like the run itself.
      const loop = (shared: boolean) => bareTlsLoopInChild(rig.ports, s.n, 64, 'ep', '.bench.test', shared);
      if (!rig.baselines.has(s.n)) rig.baselines.set(s.n, { plain: loop(false), shared: loop(true) });
      const b = rig.baselines.get(s.n)!;
      const rss = r.outs.map((o) => `${Math.round(o.rssKb / 1024)}`).join('/');
      const cpu = r.outs.map((o) => (o.cpuMs / 1000).toFixed(1)).join('/');
      const perProc = r.outs.map((o) => probedByProcess(o) ?? (o.code === 2 ? 'busy' : s.n)).join('/');
      const procs = s.procs > 1 ? ` (endpoints probed per process: ${perProc})` : '';
      rig.line(
        `monitor ${fmtN(s.n)} ${backend} (${s.format}${rig.opts.chain === 'intermediate' ? ', +intermediate' : ''}), ${s.label}`,
        `${secs(r.wallMs)}${procs}, cpu ${cpu} s (servers ${(r.serverCpuMs / 1000).toFixed(1)} s), peak ${rss} MB`,
        `bare tls.connect ${secs(b.plain.ms)}; ` +
          `shared-context loop ${secs(b.shared.ms)} (cpu ${(b.shared.cpuMs / 1000).toFixed(1)} s) = ` +
          `${(r.wallMs / b.shared.ms).toFixed(2)}x; probing alone ${secs(r.sweepMs)}; db +${fmtN(r.rows)} rows, ` +
          `${r.bytes >= 0 ? '+' : ''}${(r.bytes / MB).toFixed(1)} MB`,
        r.wallMs / b.plain.ms,
        targetOf(s.n),
      );
      if (s.id === 'first') rig.firstSweep.set(`${backend} ${s.n}`, r.wallMs);
    }
  } finally {
    for (const st of states) await st.drop().catch(() => undefined);
  }
}
