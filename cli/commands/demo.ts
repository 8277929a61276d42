/**
 * `pinctl demo`: the README's first command. No network: a TLS server on 127.0.0.1 serves the
 * fixture PKI, and the real generate and check commands run against it.
 */
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliIO, Output } from '../io.js';
import { run } from '../run.js';
import { style } from '../style.js';
import { packageRoot } from '../../src/package-root.js';

const HOST = 'api.pinctl.test';

export async function demoCommand(io: CliIO): Promise<number> {
  const s = style(io);
  const pki = join(packageRoot(), 'fixtures', 'pki');
  const file = (n: string) => readFileSync(join(pki, n));
  const server = tls.createServer({ cert: file('chain.pem'), key: file('leaf.key') }, (sock) => sock.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const out = mkdtempSync(join(tmpdir(), 'pinctl-demo-'));
  const say = (t: string) => io.stdout.write(`\n${s.bold(t)}\n`);
  const indented: Output = { write: (c: string) => io.stdout.write(c.replace(/^(?=.)/gm, '    ')) };
  const sub: CliIO = { ...io, stdout: indented, stderr: indented };
  const common = ['--resolve', `${HOST}:${port}:127.0.0.1`, '--ca-file', join(pki, 'root.pem')];
  const step = async (args: string[]) => {
    io.stdout.write(s.dim(`  $ pinctl ${args.map((a) => (a.startsWith(pki) ? a.replace(pki, 'fixtures/pki') : a.startsWith(out) ? a.replace(out, 'OUT') : a)).join(' ')}\n`));
    const code = await run(args, sub);
    io.stdout.write(s.dim(`  exit ${code}\n`));
    return code;
  };
  try {
    io.stdout.write(`pinctl demo: a local TLS server for ${HOST} on 127.0.0.1:${port}, chain leaf → intermediate → root from fixtures/pki.\n`);
    say('1. Generate pins (leaf + intermediate, plus an offline backup key) and an Android config:');
    const gen = await step(['generate', `${HOST}:${port}`, ...common, '--pin', 'leaf', '--pin', 'intermediate', '--backup-key', join(pki, 'backup.key'), '--expiration', nextYear(io.now()), '--format', 'android,ios,json', '--out', out]);
    io.stdout.write(readFileSync(join(out, 'network_security_config.xml'), 'utf8').replace(/^/gm, '    '));
    say('2. Check that the live endpoint passes those pins:');
    const ok = await step(['check', join(out, 'network_security_config.xml'), ...common]);
    say('3. The server rotates to a new leaf key: the intermediate pin still matches.');
    server.setSecureContext({ cert: file('chain-new-key.pem'), key: file('leaf-new-key.key') });
    const rotated = await step(['check', join(out, 'network_security_config.xml'), ...common]);
    say('4. An interceptor presents a chain from another CA: check fails, as the app would.');
    server.setSecureContext({ cert: file('example-untrusted-chain.pem'), key: file('example-untrusted-leaf.key') });
    const intercepted = await step(['check', join(out, 'network_security_config.xml'), '--resolve', `${HOST}:${port}:127.0.0.1`, '--ca-file', join(pki, 'roots.pem')]);
    const asExpected = gen === 0 && ok === 0 && rotated === 0 && intercepted === 1;
    say(asExpected ? 'Done: everything behaved as expected.' : 'Something did not behave as expected (see the exit codes above).');
    io.stdout.write(`Next: pinctl generate YOUR.HOST --format android,ios,okhttp --out pinning/\n`);
    return asExpected ? 0 : 1;
  } finally {
    server.close();
    rmSync(out, { recursive: true, force: true });
  }
}

function nextYear(now: Date): string {
  return `${now.getUTCFullYear() + 1}-${String(now.getUTCMonth() + 1).padStart(2, '0')}-01`;
}
