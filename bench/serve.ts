/**
 * `pinctl serve` throughput for the latest pin bundle (200 and 304) against nginx serving the same
 * bytes as a static file, both with one worker, loaded by wrk from a third process; and publish
 * latency. nginx and wrk come from Debian's packages (installed here when missing and root).
 */
import { execFileSync, spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { packageRoot } from '../src/package-root.js';

type Line = (label: string, ours: string, base: string, ratio: number, target?: string) => void;

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function ensureTools(): boolean {
  if (has('nginx') && has('wrk')) return true;
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk'], { stdio: 'ignore' });
  return r.status === 0 && has('nginx') && has('wrk');
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`bench: ${url} did not come up`);
}

function wrk(url: string, header?: string): number {
  const args = ['-t1', '-c32', '-d4s', ...(header ? ['-H', header] : []), url];
  const out = execFileSync('wrk', args, { encoding: 'utf8' });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`bench: cannot read wrk output:\n${out}`);
  return Number(m[1]);
}

export async function benchServe(line: Line): Promise<void> {
  if (!ensureTools()) {
    console.log('skipped serve benchmark: nginx and wrk are not installed (apt-get install nginx wrk)');
    return;
  }
  const root = packageRoot();
  const cli = join(root, 'dist', 'cli', 'main.js');
  const dir = mkdtempSync(join(tmpdir(), 'pinctl-bench-serve-'));
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  run(['keys', 'generate', '--out', join(dir, 'keys')]);
  const key = join(dir, 'keys', 'pinctl-signing.key');
  const pins = run(['generate', 'api.pinctl.test', '--cert', join(root, 'fixtures', 'pki', 'chain.pem'), '--ca-file', join(root, 'fixtures', 'pki', 'root.pem'), '--backup-key', join(root, 'fixtures', 'pki', 'backup.key'), '--format', 'json']);
  writeFileSync(join(dir, 'pins.json'), pins);

  const port = await freePort();
  const token = 'bench-token';
  const server: ChildProcess = spawn(process.execPath, [cli, 'serve', '--listen', `127.0.0.1:${port}`, '--key', key, '--data', join(dir, 'data'), '--audience', 'com.example.app'], {
    env: { ...process.env, PINCTL_ADMIN_TOKEN: token },
    stdio: 'ignore',
  });
  const nginxDir = join(dir, 'nginx');
  let nginx: ChildProcess | undefined;
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/healthz`);
    const publishMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const r = await fetch(`${base}/v1/bundles/pins?force=1`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: pins });
      if (!r.ok) throw new Error(`bench: publish answered ${r.status}: ${await r.text()}`);
      await r.arrayBuffer();
      publishMs.push(performance.now() - t);
    }
    const bundle = Buffer.from(await (await fetch(`${base}/v1/bundles/pins`)).arrayBuffer());
    const etag = `"${createHash('sha256').update(bundle).digest('hex')}"`;
    const served = (await fetch(`${base}/v1/bundles/pins`)).headers.get('etag') ?? etag;

    // nginx: one worker, the same bytes at the same path, its own ETag for 304s.
    mkdirSync(join(nginxDir, 'www', 'v1', 'bundles'), { recursive: true });
    mkdirSync(join(nginxDir, 'logs'), { recursive: true });
    writeFileSync(join(nginxDir, 'www', 'v1', 'bundles', 'pins'), bundle);
    const nport = await freePort();
    writeFileSync(
      join(nginxDir, 'nginx.conf'),
      `worker_processes 1; daemon off; error_log ${nginxDir}/logs/error.log; pid ${nginxDir}/nginx.pid;
events { worker_connections 1024; }
http { access_log off; default_type application/json;
  server { listen 127.0.0.1:${nport}; root ${nginxDir}/www; location / { add_header Cache-Control "public, max-age=60"; } } }\n`,
    );
    nginx = spawn('nginx', ['-c', join(nginxDir, 'nginx.conf'), '-p', nginxDir], { stdio: 'ignore' });
    const nbase = `http://127.0.0.1:${nport}`;
    await waitFor(`${nbase}/v1/bundles/pins`);
    const nginxEtag = (await fetch(`${nbase}/v1/bundles/pins`)).headers.get('etag')!;

    const ours200 = wrk(`${base}/v1/bundles/pins`);
    const theirs200 = wrk(`${nbase}/v1/bundles/pins`);
    const ours304 = wrk(`${base}/v1/bundles/pins`, `If-None-Match: ${served}`);
    const theirs304 = wrk(`${nbase}/v1/bundles/pins`, `If-None-Match: ${nginxEtag}`);
    const f = (n: number) => `${Math.round(n).toLocaleString('en-US')} req/s`;
    line(`serve latest pin bundle, 200 (${bundle.length} B)`, f(ours200), `nginx static ${f(theirs200)}`, ours200 / theirs200, '>= 0.8x of nginx');
    line('serve latest pin bundle, 304', f(ours304), `nginx static ${f(theirs304)}`, ours304 / theirs304, '>= 0.8x of nginx');
    const sorted = [...publishMs].sort((a, b) => a - b);
    console.log(`${'publish latency (sign + fsync + rename)'.padEnd(34)} median ${sorted[10]!.toFixed(1)} ms, max ${sorted[19]!.toFixed(1)} ms over 20 publishes`);
    void readFileSync;
  } finally {
    server.kill('SIGTERM');
    nginx?.kill('SIGTERM');
  }
}
