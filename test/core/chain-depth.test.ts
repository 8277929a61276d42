/**
 * A chain longer than the path-depth limit (a server sending 100 certificates, or a file of them):
 * the message says the depth limit stopped the walk, not "no issuer found … among the served
 * certificates" (the issuer was there).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInput } from '../../src/core/input.js';
import { buildChain } from '../../src/core/chain.js';
import { makeTrustStore } from '../../src/core/trust-store.js';

/** root → ca1 … caN → leaf, made with openssl; returns the PEM of leaf + intermediates and the root. */
function longChain(n: number): { served: string; root: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pinctl-deep-'));
  const sh = `set -e; cd "$1"; export OPENSSL_CONF=/dev/null
    ca='basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign'
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k0.pem -out c0.pem -subj /CN=deep-root -days 3650 \
      -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign 2>/dev/null
    printf "$ca" > ca.ext; printf 'subjectAltName=DNS:deep.pinctl.test\nbasicConstraints=CA:false' > leaf.ext
    i=1; while [ $i -le $2 ]; do
      openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k$i.pem -out r$i.pem -subj /CN=deep-ca$i 2>/dev/null
      openssl x509 -req -in r$i.pem -CA c$((i-1)).pem -CAkey k$((i-1)).pem -set_serial $i -days 3650 -extfile ca.ext -out c$i.pem 2>/dev/null
      i=$((i+1)); done
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout kl.pem -out rl.pem -subj /CN=deep.pinctl.test 2>/dev/null
    openssl x509 -req -in rl.pem -CA c$2.pem -CAkey k$2.pem -set_serial 999 -days 3650 -extfile leaf.ext -out leaf.pem 2>/dev/null
    cat leaf.pem; i=$2; while [ $i -ge 1 ]; do cat c$i.pem; i=$((i-1)); done`;
  const served = execFileSync('sh', ['-c', sh, 'sh', dir, String(n)], { encoding: 'utf8' });
  return { served, root: readFileSync(join(dir, 'c0.pem'), 'utf8') };
}

describe('the path-depth limit', () => {
  it('a 15-certificate path: the problem names the depth limit, not a missing issuer', () => {
    const { served, root } = longChain(14);
    const certs = parseInput(Buffer.from(served), 'deep.pem').map((i) => i.cert!);
    expect(certs).toHaveLength(15);
    const store = makeTrustStore(parseInput(Buffer.from(root), 'root.pem').map((i) => i.cert!), 'root.pem');
    const report = buildChain(certs, store, { now: new Date() });
    expect(report.trusted).toBe(false);
    const messages = report.problems.map((p) => p.message).join('\n');
    expect(messages).toMatch(/reached the depth limit of \d+ certificates/);
    expect(messages).not.toMatch(/no issuer found/);
  }, 60_000);

  it('a short chain missing its issuer still says no issuer was found', () => {
    const { served } = longChain(2);
    const certs = parseInput(Buffer.from(served), 'short.pem').map((i) => i.cert!);
    const report = buildChain(certs.slice(0, 2), makeTrustStore([], 'empty store'), { now: new Date() });
    expect(report.problems.map((p) => p.message).join('\n')).toMatch(/no issuer found for "deep-ca2"/);
  }, 60_000);
});
