/**
 * Monitor sweeps (`pinctl monitor once`, a whole process: start-up, config, probing, findings,
 * SQLite commit, report) over 1,000 and 10,000 endpoints served by local TLS servers in another
 * process, against bare tls.connect loops over the same endpoints with the same concurrency: the
 * plain loop (a default secure context per connection) and the fastest one (one shared context,
 * as pinctl's prober does). Peak RSS is the child's own.
 *
 * Scenarios: a healthy fleet (first sweep on an empty state, then a repeat sweep on that state),
 * a JSON config, and a fleet where every endpoint alerts (every certificate inside the expiry
 * window: 20,000 findings opened in one commit).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bareTlsLoop, bareTlsLoopInChild, startTlsServers } from './tls-load.js';
import { packageRoot } from '../src/package-root.js';

type Line = (label: string, ours: string, base: string, ratio: number, target?: string) => void;

/** A wildcard PKI made with openssl for the bench (valid ~13 months), so every endpoint name has a valid chain. */
function wildcardPki(dir: string): { root: string; chain: string; key: string } {
  const sh = `set -e; cd "${dir}"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem -subj "/CN=bench root" -days 400 \
      -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=*.bench.test" 2>/dev/null
    printf 'subjectAltName=DNS:*.bench.test\nbasicConstraints=CA:false\nextendedKeyUsage=serverAuth\n' > leaf.ext
    openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -CAcreateserial -out leaf.pem -days 400 -extfile leaf.ext 2>/dev/null`;
  execFileSync('bash', ['-c', sh]);
  return { root: join(dir, 'root.pem'), chain: join(dir, 'leaf.pem'), key: join(dir, 'leaf.key') };
}

interface Scenario {
  label: string;
  n: number;
  format: 'yaml' | 'json';
  /** Run on the state the previous scenario left (a repeat sweep). */
  repeat?: boolean;
  /** Every certificate inside the warning window: two expiry findings per endpoint. */
  alerting?: boolean;
}

const SCENARIOS: Scenario[] = [
  { label: 'healthy, first sweep', n: 1000, format: 'yaml' },
  { label: 'healthy, first sweep', n: 10_000, format: 'yaml' },
  { label: 'healthy, repeat sweep', n: 10_000, format: 'yaml', repeat: true },
  { label: 'healthy, first sweep', n: 10_000, format: 'json' },
  { label: 'all alerting (20,000 findings)', n: 10_000, format: 'yaml', alerting: true },
];

function writeConfig(s: Scenario, dir: string, state: string, ports: number[], root: string, pins: string[]): string {
  const warn = s.alerting ? [500] : [30, 14, 7];
  const file = join(dir, `monitor.${s.format}`);
  if (s.format === 'yaml') {
    const endpoints = Array.from(
      { length: s.n },
      (_, i) => `  - { host: ep${i}.bench.test, port: ${ports[i % ports.length]}, addresses: [127.0.0.1], caFile: ${root}, pins: [${pins.map((p) => `"${p}"`).join(', ')}] }`,
    );
    writeFileSync(file, `schedule: "0 * * * *"\nstate: ${state}\nexpiryWarningDays: [${warn.join(', ')}]\nendpoints:\n${endpoints.join('\n')}\n`);
  } else {
    const endpoints = Array.from({ length: s.n }, (_, i) => ({ host: `ep${i}.bench.test`, port: ports[i % ports.length], addresses: ['127.0.0.1'], caFile: root, pins }));
    writeFileSync(file, JSON.stringify({ schedule: '0 * * * *', state, expiryWarningDays: warn, endpoints }));
  }
  return file;
}

/** `pinctl monitor once` in a child process that reports its wall time, the sweep's probing time and its peak RSS. */
function monitorOnce(root: string, configFile: string, state: string): { ms: number; sweepMs: number; rssKb: number; code: number; err: string } {
  const code = `const { run } = await import(${JSON.stringify(join(root, 'dist', 'cli', 'run.js'))});
    const { processIO } = await import(${JSON.stringify(join(root, 'dist', 'cli', 'io.js'))});
    const io = processIO(); io.stdout = { write() {} }; let err = ''; io.stderr = { write(x) { err += x; } };
    const t = performance.now(); const code = await run(['monitor', 'once', '--config', ${JSON.stringify(configFile)}], io);
    const ms = performance.now() - t;
    const rssKb = process.resourceUsage().maxRSS;
    const { Store } = await import(${JSON.stringify(join(root, 'dist', 'monitor', 'store.js'))});
    const store = await Store.open(${JSON.stringify(state)}); const sweepMs = (await store.lastSweep())?.durationMs; store.close();
    process.stdout.write(JSON.stringify({ ms, sweepMs, rssKb, code, err: err.slice(0, 2000) }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', maxBuffer: 1 << 26 }));
  // A run that failed or stored no sweep measured nothing: say so instead of printing a time.
  if (out.code === 2 || out.sweepMs === undefined) throw new Error(`pinctl monitor once failed (exit ${out.code}): ${out.err}`);
  return out;
}

export async function benchMonitor(line: Line): Promise<void> {
  const root = packageRoot();
  const pkiDir = mkdtempSync(join(tmpdir(), 'pinctl-bench-pki-'));
  const pki = wildcardPki(pkiDir);
  const servers = await startTlsServers(pki.chain, pki.key, 8);
  const ports = servers.ports;
  const pins = JSON.parse(execFileSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'pins', '--json', pki.chain, pki.root], { encoding: 'utf8' })).map((p: { spkiSha256: string }) => p.spkiSha256);
  const name = (i: number) => `ep${i}.bench.test`;
  try {
    await bareTlsLoop(ports, 500, 64, name); // warm the servers
    let state = '';
    for (const s of SCENARIOS) {
      const dir = mkdtempSync(join(tmpdir(), 'pinctl-bench-monitor-'));
      if (!s.repeat) state = join(dir, 'state');
      const configFile = writeConfig(s, dir, state, ports, pki.root, pins);
      const out = monitorOnce(root, configFile, state);
      // Both baselines right after the run, on the same servers and endpoint names, each in a
      // fresh process like the run itself.
      const plain = bareTlsLoopInChild(ports, s.n, 64, 'ep', '.bench.test', false);
      const shared = bareTlsLoopInChild(ports, s.n, 64, 'ep', '.bench.test', true);
      line(
        `monitor ${s.n.toLocaleString('en-US')} (${s.format}), ${s.label}`,
        `${(out.ms / 1000).toFixed(2)} s, peak ${Math.round(out.rssKb / 1024)} MB`,
        `bare tls.connect ${(plain / 1000).toFixed(2)} s; shared-context loop ${(shared / 1000).toFixed(2)} s = ${(out.ms / shared).toFixed(2)}x; probing alone ${(out.sweepMs / 1000).toFixed(2)} s = ${(out.sweepMs / shared).toFixed(2)}x of it`,
        out.ms / plain,
        s.n >= 10_000 ? '<= 1.25x; < 60 s; < 300 MB' : '<= 1.25x',
      );
    }
  } finally {
    servers.stop();
  }
}
