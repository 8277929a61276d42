/** What the probing benchmarks share: TLS servers in their own process, and the bare baseline loop. */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { runBounded } from '../src/net/observe.js';

/**
 * `count` TLS servers on 127.0.0.1 in a child process, so client and server do not share one event
 * loop. cpuMs() is that process's CPU time so far (Linux /proc; NaN elsewhere): on a 2-core machine
 * it tells whether a run was bound by the client or by the servers.
 */
export interface TlsServers {
  ports: number[];
  stop(): void;
  cpuMs(): number;
}

export async function startTlsServers(chain: string, key: string, count: number): Promise<TlsServers> {
  const code = `const tls = require('node:tls'); const fs = require('node:fs');
    const opts = { cert: fs.readFileSync(${JSON.stringify(chain)}), key: fs.readFileSync(${JSON.stringify(key)}) };
    const ports = []; let n = ${count};
    for (let i = 0; i < ${count}; i++) {
      const s = tls.createServer(opts, (c) => c.end()); s.on('tlsClientError', () => {});
      s.listen(0, '127.0.0.1', () => { ports.push(s.address().port); if (--n === 0) process.stdout.write(JSON.stringify(ports) + '\\n'); });
    }`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports: number[] = await new Promise((resolve) => child.stdout!.once('data', (d) => resolve(JSON.parse(String(d)))));
  return { ports, stop: () => child.kill(), cpuMs: () => processCpuMs(child.pid) };
}

function processCpuMs(pid: number | undefined): number {
  try {
    // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): utime and stime in clock ticks.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [utime, stime] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, 13).map(Number);
    return ((utime! + stime!) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/**
 * The baseline: n bare handshakes (no chain work) over the ports, `concurrency` at a time. Plain
 * `tls.connect` builds a default secure context per connection; with `sharedContext` every
 * connection reuses one (as pinctl's prober does), the fastest loop Node allows.
 */
export async function bareTlsLoop(ports: number[], n: number, concurrency: number, servername: (i: number) => string, sharedContext = false): Promise<number> {
  const secureContext = sharedContext ? tls.createSecureContext({ ca: [] }) : undefined;
  const t = performance.now();
  await runBounded(Array.from({ length: n }, (_, i) => i), concurrency, (i) =>
    new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: ports[i % ports.length]!, servername: servername(i), rejectUnauthorized: false, secureContext }, () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    }),
  );
  return performance.now() - t;
}

export interface LoopTime {
  ms: number;
  /** The loop process's CPU time (user + system). */
  cpuMs: number;
}

/**
 * bareTlsLoop in a fresh Node process (as `pinctl monitor once` runs in one), so neither side of
 * the comparison carries the heap of the benchmarks that ran before it in this process.
 */
export function bareTlsLoopInChild(
  ports: number[],
  n: number,
  concurrency: number,
  namePrefix: string,
  nameSuffix: string,
  sharedContext: boolean,
): LoopTime {
  const url = new URL('./tls-load.js', import.meta.url).href;
  const code = `const { bareTlsLoop } = await import(${JSON.stringify(url)});
    const ms = await bareTlsLoop(${JSON.stringify(ports)}, ${n}, ${concurrency}, (i) => ${JSON.stringify(namePrefix)} + i + ${JSON.stringify(nameSuffix)}, ${sharedContext});
    const u = process.resourceUsage();
    process.stdout.write(JSON.stringify({ ms, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  return JSON.parse(out) as LoopTime;
}
