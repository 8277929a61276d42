/**
 * npm run bench: figures, each with a baseline measured in the same run on this machine.
 * Nothing here is asserted; targets from the issue are printed beside the ratios.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseInput } from '../src/core/input.js';
import { clearCertificateCache } from '../src/core/certificate.js';
import { loadCaFile, systemBundlePath } from '../src/net/trust-store-file.js';
import { observeTargets } from '../src/net/observe.js';
import { packageRoot } from '../src/package-root.js';
import type { Target } from '../src/core/target.js';
import { benchBundleVerify } from './bundle.js';
import { bareTlsLoop, startTlsServers } from './tls-load.js';
import { benchServe } from './serve.js';
import { ChainShape, MONITOR_SIZES, benchMonitor } from './monitor.js';
import { benchKotlinSdk } from './android.js';
import { benchSdkCore } from './sdk-core.js';
import { benchSoak } from './soak.js';
import { benchResolve } from './resolve.js';

const ROOT = packageRoot();
const PKI = join(ROOT, 'fixtures', 'pki');
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const ENDPOINTS = Number(args.get('endpoints') ?? 1000);
const CONCURRENCY = Number(args.get('concurrency') ?? 64);
/** Handshakes of the RSS soak (`--soak=6000` for a quick look; the target is stated at 30,000). */
const SOAK = Number(args.get('soak') ?? 30_000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
function line(label: string, ours: string, base: string, ratio: number, target?: string) {
  console.log(`${label.padEnd(34)} ${ours.padEnd(24)} ${base.padEnd(34)} ratio ${fmt(ratio, 2)}x${target ? `  (target ${target})` : ''}`);
}

function benchPinsInProcess(bundle: string): void {
  const bytes = readFileSync(bundle);
  const n = parseInput(bytes, bundle).length;
  const rounds = 10;
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    clearCertificateCache();
    const t = performance.now();
    parseInput(bytes, bundle);
    times.push(performance.now() - t);
  }
  const oursRate = (n / median(times)) * 1000;
  // openssl's pipeline, as the docs give it, over every certificate of the store.
  const script = `tmp=$(mktemp -d); awk -v d="$tmp" '/-----BEGIN CERTIFICATE-----/{n++; f=sprintf("%s/%04d.pem", d, n)} n{print > f}' "$1";
    start=$(date +%s%N); for f in "$tmp"/*.pem; do openssl x509 -in "$f" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64 >/dev/null; done;
    end=$(date +%s%N); rm -rf "$tmp"; echo $(( (end-start)/1000000 ))`;
  const ms = Number(execFileSync('bash', ['-c', script, 'x', bundle], { encoding: 'utf8' }).trim());
  const osslRate = (n / ms) * 1000;
  line(`pins, ${n} system CAs (in process)`, `${fmt(oursRate)} pins/s`, `openssl pipeline ${fmt(osslRate)} pins/s`, oursRate / osslRate);
}

function benchWholeProcess(bundle: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'pinctl-bench-'));
  const bare = join(dir, 'bare.mjs');
  writeFileSync(
    bare,
    `import { X509Certificate, createHash } from 'node:crypto'; import { readFileSync } from 'node:fs';
const pems = readFileSync(process.argv[2], 'utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g);
const out = pems.map((p) => { const x = new X509Certificate(p);
  return { subject: x.subject, issuer: x.issuer, notBefore: x.validFrom, notAfter: x.validTo,
    spkiSha256: createHash('sha256').update(x.publicKey.export({ type: 'spki', format: 'der' })).digest('base64'),
    sha256Fingerprint: x.fingerprint256 }; });
process.stdout.write(JSON.stringify(out, null, 2));\n`,
  );
  const cli = join(ROOT, 'dist', 'cli', 'main.js');
  const time = (argv: string[]) => {
    const t = performance.now();
    execFileSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
    return performance.now() - t;
  };
  const ours: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < 7; i++) {
    ours.push(time([cli, 'pins', '--json', bundle]));
    base.push(time([bare, bundle]));
  }
  line('pins --json, whole process', `${fmt(median(ours))} ms`, `bare node:crypto script ${fmt(median(base))} ms`, median(ours) / median(base), '<= 2x');
}

const bareLoop = (ports: number[], n: number) => bareTlsLoop(ports, n, CONCURRENCY, () => 'api.pinctl.test');

async function pinctlSweep(ports: number[], n: number): Promise<number> {
  const store = loadCaFile(join(PKI, 'root.pem'));
  const targets: Target[] = Array.from({ length: n }, (_, i) => ({ host: 'api.pinctl.test', port: ports[i % ports.length]!, input: '' }));
  const overrides = ports.map((port) => ({ host: 'api.pinctl.test', port, addresses: ['127.0.0.1'] }));
  clearCertificateCache();
  const t = performance.now();
  const obs = await observeTargets(targets, { store, now: new Date(), timeoutMs: 10_000, overrides, concurrency: CONCURRENCY });
  const ms = performance.now() - t;
  const ok = obs.reduce((a, o) => a + o.samples.filter((s) => s.chain.valid).length, 0);
  if (ok !== n) throw new Error(`bench: only ${ok}/${n} endpoints gave a valid chain`);
  return ms;
}

async function benchProbe(): Promise<void> {
  const server = await startTlsServers(join(PKI, 'chain.pem'), join(PKI, 'leaf.key'), 8);
  try {
    await bareLoop(server.ports, 200); // warm both sides
    await pinctlSweep(server.ports, 200);
    const ours: number[] = [];
    const base: number[] = [];
    const shared: number[] = [];
    for (let i = 0; i < 3; i++) {
      base.push(await bareLoop(server.ports, ENDPOINTS));
      shared.push(await bareTlsLoop(server.ports, ENDPOINTS, CONCURRENCY, () => 'api.pinctl.test', true));
      ours.push(await pinctlSweep(server.ports, ENDPOINTS));
    }
    const o = median(ours);
    const b = median(base);
    const sh = median(shared);
    line(
      `probe ${fmt(ENDPOINTS)} endpoints (c=${CONCURRENCY})`,
      `${fmt(o / 1000, 2)} s, ${fmt((ENDPOINTS / o) * 1000)}/s`,
      `bare tls.connect ${fmt(b / 1000, 2)} s, ${fmt((ENDPOINTS / b) * 1000)}/s; shared-context loop ${fmt(sh / 1000, 2)} s = ${fmt(o / sh, 2)}x`,
      o / b,
      '<= 1.5x; 1,000 in < 10 s',
    );
  } finally {
    server.stop();
  }
}

/**
 * `--only=monitor` (or pins, probe, resolve, soak, bundle, serve, sdk-core, android; comma-separated) runs just those sections.
 * Monitor: `--monitor-sizes=1000,10000` (default 1000,10000,100000), `--monitor-states=sqlite,postgres`
 * (PostgreSQL from PINCTL_BENCH_PG or PINCTL_TEST_PG), `--monitor-scenarios=first,repeat,two,json,alerting`,
 * `--monitor-cpu-prof=DIR` (V8 profiles of each monitor process), `--monitor-probe-threads=N` (the config's
 * probeThreads), `--monitor-chain=leaf|intermediate` (what the bench's servers send; default the leaf alone).
 */
const only = args.get('only')?.split(',');
const wanted = (section: string) => !only || only.includes(section);

function sizesArg(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const sizes = v.split(',').map((x) => Number(x.replace(/_/g, '')));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--monitor-sizes: expected whole numbers such as 1000,10000, found ${v}`);
  return sizes;
}

function chainArg(v: string | undefined): ChainShape | undefined {
  if (v === undefined || v === 'leaf' || v === 'intermediate') return v;
  throw new Error(`--monitor-chain: expected leaf or intermediate, found ${v}`);
}

async function main(): Promise<void> {
  console.log(`pinctl bench — node ${process.version}, ${cpus().length} cores, ${new Date().toISOString()}`);
  const bundle = systemBundlePath(process.env);
  if (wanted('pins')) {
    if (!bundle || !existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
      console.log('skipped pins benchmarks: no system CA bundle or no build (run npm run build)');
    } else {
      benchPinsInProcess(bundle);
      benchWholeProcess(bundle);
    }
  }
  if (wanted('probe')) await benchProbe();
  if (wanted('probe') || wanted('resolve')) await benchResolve(line);
  if (wanted('soak')) await benchSoak(line, join(PKI, 'chain.pem'), join(PKI, 'leaf.key'), SOAK);
  if (wanted('monitor') && !args.has('skip-monitor')) {
    await benchMonitor(line, {
      sizes: sizesArg(args.get('monitor-sizes')) ?? MONITOR_SIZES,
      backends: (args.get('monitor-states')?.split(',') ?? ['sqlite', 'postgres']) as ('sqlite' | 'postgres')[],
      cpuProfDir: args.get('monitor-cpu-prof'),
      probeThreads: args.has('monitor-probe-threads') ? Number(args.get('monitor-probe-threads')) : undefined,
      scenarios: args.get('monitor-scenarios')?.split(','),
      chain: chainArg(args.get('monitor-chain')),
    });
  }
  if (wanted('bundle')) benchBundleVerify(line);
  if (wanted('serve')) await benchServe(line);
  if (wanted('sdk-core')) await benchSdkCore(line);
  if (wanted('android')) benchKotlinSdk(ROOT);
}

await main();
