/**
 * `pinctl demo`: the README's first command. No network: a TLS server on 127.0.0.1 serves the
 * fixture PKI, and the real generate and check commands run against it.
 */
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliIO, Output } from '../io.js';
import { run } from '../run.js';
import { style } from '../style.js';
import { packageRoot } from '../../src/package-root.js';

const HOST = 'api.pinctl.test';

export async function demoCommand(io: CliIO): Promise<number> {
  const s = style(io, io.stdout);
  const pki = join(packageRoot(), 'fixtures', 'pki');
  const file = (n: string) => readFileSync(join(pki, n));
  const server = tls.createServer({ cert: file('chain.pem'), key: file('leaf.key') }, (sock) => sock.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const out = mkdtempSync(join(tmpdir(), 'pinctl-demo-'));
  const say = (t: string) => io.stdout.write(`\n${s.bold(t)}\n`);
  const tidy = (c: string) => c.split(pki).join('fixtures/pki').split(out).join('OUT');
  const indented: Output = { write: (c: string) => io.stdout.write(tidy(c).replace(/^(?=.)/gm, '    ')) };
  const sub: CliIO = { ...io, stdout: indented, stderr: indented };
  const common = ['--resolve', `${HOST}:${port}:127.0.0.1`, '--ca-file', join(pki, 'root.pem')];
  const step = async (args: string[]) => {
    io.stdout.write(s.dim(`  $ pinctl ${tidy(args.join(' '))}\n`));
    const code = await run(args, sub);
    io.stdout.write(s.dim(`  exit ${code}\n`));
    return code;
  };
  try {
    io.stdout.write(`pinctl demo: a local TLS server for ${HOST} on 127.0.0.1:${port}, chain leaf → intermediate → root from fixtures/pki.\n`);
    say('1. Generate pins (leaf + intermediate, plus an offline backup key) and an Android config:');
    const gen = await step(['generate', `${HOST}:${port}`, ...common, '--pin', 'leaf', '--pin', 'intermediate', '--backup-key', join(pki, 'backup.key'), '--expiration', nextYear(io.now()), '--format', 'android,ios,json', '--out', out]);
    indented.write(readFileSync(join(out, 'network_security_config.xml'), 'utf8'));
    say('2. Check that the live endpoint passes those pins:');
    const ok = await step(['check', join(out, 'network_security_config.xml'), ...common]);
    say('3. The server rotates to a new leaf key: the intermediate pin still matches.');
    server.setSecureContext({ cert: file('chain-new-key.pem'), key: file('leaf-new-key.key') });
    const rotated = await step(['check', join(out, 'network_security_config.xml'), ...common]);
    say('4. A CA the device trusts issues a certificate for the name (misissuance, or a poisoned trust store):');
    io.stdout.write('   the chain validates, but no pin matches, so the app refuses it.\n');
    const poisoned = join(out, 'trusted-roots.pem');
    writeFileSync(poisoned, Buffer.concat([file('root.pem'), file('example-untrusted-root.pem')]));
    server.setSecureContext({ cert: file('example-untrusted-chain.pem'), key: file('example-untrusted-leaf.key') });
    const intercepted = await step(['check', join(out, 'network_security_config.xml'), '--resolve', `${HOST}:${port}:127.0.0.1`, '--ca-file', poisoned]);
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
