/**
 * One monitor sweep (`pinctl monitor once`, a whole process: probe, findings, SQLite commit) over
 * 1,000 and 10,000 endpoints served by local TLS servers in another process, against a bare
 * tls.connect loop over the same endpoints with the same concurrency. Peak RSS from the child.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { runBounded } from '../src/net/observe.js';
import { packageRoot } from '../src/package-root.js';

type Line = (label: string, ours: string, base: string, ratio: number, target?: string) => void;

async function bareLoop(ports: number[], n: number, concurrency: number): Promise<number> {
  const t = performance.now();
  await runBounded(Array.from({ length: n }, (_, i) => i), concurrency, (i) =>
    new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: ports[i % ports.length]!, servername: `ep${i}.pinctl.test`, rejectUnauthorized: false }, () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    }),
  );
  return performance.now() - t;
}

export async function benchMonitor(line: Line, ports: number[], sizes: number[]): Promise<void> {
  const root = packageRoot();
  const pki = join(root, 'fixtures', 'pki');
  const pins = JSON.parse(execFileSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'pins', '--json', join(pki, 'chain.pem')], { encoding: 'utf8' })).map((p: { spkiSha256: string }) => p.spkiSha256);
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'pinctl-bench-monitor-'));
    const endpoints = Array.from({ length: n }, (_, i) =>
      `  - { host: ep${i}.pinctl.test, port: ${ports[i % ports.length]}, addresses: [127.0.0.1], caFile: ${join(pki, 'root.pem')}, pins: [${pins.map((p: string) => `"${p}"`).join(', ')}] }`,
    );
    writeFileSync(join(dir, 'monitor.yaml'), `schedule: "0 * * * *"\nstate: ${join(dir, 'state')}\nendpoints:\n${endpoints.join('\n')}\n`);
    // The CLI in a child process that reports its own peak RSS when done.
    const code = `const { run } = await import(${JSON.stringify(join(root, 'dist', 'cli', 'run.js'))});
      const { processIO } = await import(${JSON.stringify(join(root, 'dist', 'cli', 'io.js'))});
      const io = processIO(); io.stdout = { write() {} }; io.stderr = { write() {} };
      const t = performance.now(); const code = await run(['monitor', 'once', '--config', ${JSON.stringify(join(dir, 'monitor.yaml'))}], io);
      process.stdout.write(JSON.stringify({ ms: performance.now() - t, rssKb: process.resourceUsage().maxRSS, code }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', maxBuffer: 1 << 26 }));
    const bare = await bareLoop(ports, n, 64);
    line(
      `monitor sweep, ${n.toLocaleString('en-US')} endpoints`,
      `${(out.ms / 1000).toFixed(2)} s, peak ${Math.round(out.rssKb / 1024)} MB`,
      `bare tls.connect ${(bare / 1000).toFixed(2)} s`,
      out.ms / bare,
      n >= 10_000 ? '<= 1.25x; < 60 s; < 300 MB' : '<= 1.25x',
    );
  }
}
