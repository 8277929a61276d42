/**
 * One monitor sweep (`pinctl monitor once`, a whole process: probe, findings, SQLite commit) over
 * 1,000 and 10,000 endpoints served by local TLS servers in another process, against a bare
 * tls.connect loop over the same endpoints with the same concurrency. Peak RSS from the child.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bareTlsLoop, startTlsServers } from './tls-load.js';
import { packageRoot } from '../src/package-root.js';

type Line = (label: string, ours: string, base: string, ratio: number, target?: string) => void;

/** A wildcard PKI made with openssl for the bench, so every endpoint name has a valid chain. */
function wildcardPki(dir: string): { root: string; chain: string; key: string } {
  const sh = `set -e; cd "${dir}"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem -subj "/CN=bench root" -days 30 \
      -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=*.bench.test" 2>/dev/null
    printf 'subjectAltName=DNS:*.bench.test\nbasicConstraints=CA:false\nextendedKeyUsage=serverAuth\n' > leaf.ext
    openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -CAcreateserial -out leaf.pem -days 30 -extfile leaf.ext 2>/dev/null`;
  execFileSync('bash', ['-c', sh]);
  return { root: join(dir, 'root.pem'), chain: join(dir, 'leaf.pem'), key: join(dir, 'leaf.key') };
}

export async function benchMonitor(line: Line, sizes: number[], formats: ('yaml' | 'json')[] = ['yaml']): Promise<void> {
  const root = packageRoot();
  const pkiDir = mkdtempSync(join(tmpdir(), 'pinctl-bench-pki-'));
  const pki = wildcardPki(pkiDir);
  const servers = await startTlsServers(pki.chain, pki.key, 8);
  const ports = servers.ports;
  const pins = JSON.parse(execFileSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'pins', '--json', pki.chain, pki.root], { encoding: 'utf8' })).map((p: { spkiSha256: string }) => p.spkiSha256);
  try {
    for (const [n, format] of sizes.flatMap((n) => formats.map((f) => [n, f] as const))) {
      const dir = mkdtempSync(join(tmpdir(), 'pinctl-bench-monitor-'));
      const endpoints = Array.from({ length: n }, (_, i) =>
        `  - { host: ep${i}.bench.test, port: ${ports[i % ports.length]}, addresses: [127.0.0.1], caFile: ${pki.root}, pins: [${pins.map((p: string) => `"${p}"`).join(', ')}] }`,
      );
      const configFile = join(dir, `monitor.${format}`);
      if (format === 'yaml') writeFileSync(configFile, `schedule: "0 * * * *"\nstate: ${join(dir, 'state')}\nendpoints:\n${endpoints.join('\n')}\n`);
      else
        writeFileSync(
          configFile,
          JSON.stringify({ schedule: '0 * * * *', state: join(dir, 'state'), endpoints: Array.from({ length: n }, (_, i) => ({ host: `ep${i}.bench.test`, port: ports[i % ports.length], addresses: ['127.0.0.1'], caFile: pki.root, pins })) }),
        );
      // The CLI in a child process that reports its own peak RSS when done.
      const code = `const { run } = await import(${JSON.stringify(join(root, 'dist', 'cli', 'run.js'))});
        const { processIO } = await import(${JSON.stringify(join(root, 'dist', 'cli', 'io.js'))});
        const io = processIO(); io.stdout = { write() {} }; let err = ''; io.stderr = { write(x) { err += x; } };
        const t = performance.now(); const code = await run(['monitor', 'once', '--config', ${JSON.stringify(configFile)}], io);
        const ms = performance.now() - t;
        const { Store } = await import(${JSON.stringify(join(root, 'dist', 'monitor', 'store.js'))});
        const store = await Store.open(${JSON.stringify(join(dir, 'state'))}); const sweepMs = (await store.lastSweep())?.durationMs; store.close();
        process.stdout.write(JSON.stringify({ ms, sweepMs, rssKb: process.resourceUsage().maxRSS, code, err: err.slice(0, 2000) }));`;
      const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', maxBuffer: 1 << 26 }));
      // A run that failed or stored no sweep measured nothing: say so instead of printing a time.
      if (out.code === 2 || out.sweepMs === undefined) throw new Error(`pinctl monitor once failed (exit ${out.code}): ${out.err}`);
      const bare = await bareTlsLoop(ports, n, 64, (i) => `ep${i}.bench.test`);
      line(
        `monitor sweep, ${n.toLocaleString('en-US')} endpoints (${format})`,
        `${(out.ms / 1000).toFixed(2)} s, peak ${Math.round(out.rssKb / 1024)} MB`,
        `bare tls.connect ${(bare / 1000).toFixed(2)} s (probing alone, inside the process: ${(out.sweepMs / 1000).toFixed(2)} s = ${(out.sweepMs / bare).toFixed(2)}x)`,
        out.ms / bare,
        n >= 10_000 ? '<= 1.25x; < 60 s; < 300 MB' : '<= 1.25x',
      );
    }
  } finally {
    servers.stop();
  }
}
