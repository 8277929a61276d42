/**
 * Soak: RSS of a process that runs N handshakes through pinctl's prober (the monitor's way of
 * reading a chain), after N/6 and after N, against a bare tls.connect loop that reads nothing, in
 * the same run. Each side runs in a fresh Node process against TLS servers in a third one, so the
 * figure is that loop's own memory. The target: RSS after 30,000 handshakes within 10% of
 * RSS after 5,000 (a native leak of ~4 KB a handshake, as getPeerX509Certificate() has in Node 20,
 * shows as +100 MB).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import { runBounded } from '../src/net/observe.js';
import { probeTls } from '../src/net/probe.js';
import { startTlsServers } from './tls-load.js';

type Line = (label: string, ours: string, base: string, ratio: number, target?: string) => void;
type Mode = 'pinctl' | 'bare';

const CONCURRENCY = 16;

/** Runs in the child: n handshakes, RSS (MB) printed after `early` and after n. */
async function soakChild(mode: Mode, ports: number[], n: number, early: number): Promise<void> {
  const context = tls.createSecureContext({ ca: [] });
  const bare = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, servername: 'api.pinctl.test', rejectUnauthorized: false, secureContext: context }, () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    });
  const ours = async (port: number) => {
    const r = await probeTls({ host: 'api.pinctl.test', port, address: '127.0.0.1', timeoutMs: 30_000 });
    if (!r.ok || r.served.length < 2) throw new Error(`soak: probe failed or short chain: ${r.ok ? r.served.length : r.error.message}`);
  };
  const one = mode === 'bare' ? bare : ours;
  const rss: number[] = [];
  for (const [from, to] of [[0, early], [early, n]] as const) {
    await runBounded(Array.from({ length: to - from }, (_, i) => from + i), CONCURRENCY, (i) => one(ports[i % ports.length]!));
    rss.push(process.memoryUsage().rss / 1e6);
  }
  process.stdout.write(JSON.stringify(rss));
}

function inChild(mode: Mode, ports: number[], n: number, early: number): [number, number] {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), 'soak-child', mode, JSON.stringify(ports), String(n), String(early)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out) as [number, number];
}

export async function benchSoak(line: Line, chain: string, key: string, n: number): Promise<void> {
  const early = Math.round(n / 6);
  const servers = await startTlsServers(chain, key, 4);
  try {
    const [o1, o2] = inChild('pinctl', servers.ports, n, early);
    const [b1, b2] = inChild('bare', servers.ports, n, early);
    const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)}%`;
    const f = (x: number) => x.toFixed(0);
    line(
      `probe soak RSS, ${n.toLocaleString('en-US')} handshakes`,
      `${f(o1)} → ${f(o2)} MB (${pct(o1, o2)})`,
      `bare tls.connect ${f(b1)} → ${f(b2)} MB (${pct(b1, b2)}) after ${early.toLocaleString('en-US')} → ${n.toLocaleString('en-US')}`,
      o2 / o1,
      '<= 1.10x',
    );
  } finally {
    servers.stop();
  }
}

if (process.argv[2] === 'soak-child') {
  const [mode, ports, n, early] = process.argv.slice(3);
  await soakChild(mode as Mode, JSON.parse(ports!) as number[], Number(n), Number(early));
}
