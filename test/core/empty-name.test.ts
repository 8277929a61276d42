/**
 * Certificates with an empty subject (valid under RFC 5280 4.1.2.6 when a critical subjectAltName
 * names the entity) or an empty issuer: node:crypto reports such a Name as undefined. Every reader
 * and printer of Names must carry on: `pins`, `generate --cert`, and the monitor probing a real
 * TLS server that serves one (no false `unreachable` finding).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { pkiFile, readPki } from '../helpers/fixtures.js';
import { tlsServer, Running } from '../helpers/servers.js';
import { monitorCli, tempDir, writeConfig } from '../monitor/helpers.js';

const HOST = 'empty.pinctl.test';
/** The leaf is issued now (openssl 3.0 `x509 -req` cannot back-date it): the frozen test clock is replaced by tomorrow. */
const LATER = new Date(Date.now() + 86_400_000);
let dir: string;
let server: Running;
let leafPin: string;

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { env: { ...process.env, OPENSSL_CONF: '/dev/null' }, encoding: 'utf8', stdio: 'pipe' });
}

/** openssl's own pin: its re-encoding of the certificate's public key. */
function opensslCertPin(pem: string): string {
  const pub = openssl(['x509', '-in', pem, '-noout', '-pubkey']);
  const der = Buffer.from(pub.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
  return execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pinctl-empty-name-'));
  const key = join(dir, 'leaf.key');
  openssl(['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', key]);
  openssl(['req', '-new', '-key', key, '-subj', '/', '-out', join(dir, 'leaf.csr')]);
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=critical,DNS:${HOST}\nbasicConstraints=CA:FALSE\n`);
  openssl([
    'x509', '-req', '-in', join(dir, 'leaf.csr'), '-CA', pkiFile('intermediate.pem'), '-CAkey', pkiFile('intermediate.key'),
    '-set_serial', '4242', '-days', '36500', '-extfile', join(dir, 'ext.cnf'), '-out', join(dir, 'leaf.pem'),
  ]);
  expect(openssl(['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-subject']).trim()).toBe('subject=');
  writeFileSync(join(dir, 'chain.pem'), Buffer.concat([readFileSync(join(dir, 'leaf.pem')), readPki('intermediate.pem')]));
  leafPin = opensslCertPin(join(dir, 'leaf.pem'));
  const s = await tlsServer('chain.pem', 'leaf.key');
  s.server.setSecureContext({ cert: readFileSync(join(dir, 'chain.pem')), key: readFileSync(key) });
  server = s;
}, 60_000);
afterAll(async () => {
  await server?.close();
});

describe('an empty subject Name', () => {
  it('pins --json gives openssl\'s pin and an empty subject', async () => {
    const r = await cli(['pins', '--json', join(dir, 'leaf.pem')]);
    expect(r.code, r.stderr).toBe(0);
    const [item] = JSON.parse(r.stdout);
    expect(item).toMatchObject({ kind: 'certificate', subject: '', issuer: 'O=pinctl test, CN=pinctl Test Intermediate CA', spkiSha256: leafPin });
  });

  it('pins (human) prints the certificate, not a crash', async () => {
    const r = await cli(['pins', join(dir, 'leaf.pem')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(leafPin);
    expect(r.stderr).toBe('');
  });

  it('generate --cert takes the domain from the SAN and pins the chain', async () => {
    const r = await cli(['generate', '--cert', join(dir, 'chain.pem'), '--ca-file', pkiFile('root.pem'), '--format', 'json'], { now: LATER });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.domains.map((d: { domain: string }) => d.domain)).toEqual([HOST]);
  });

  it('the monitor records the chain: no unreachable finding, pins checked', async () => {
    const work = tempDir();
    const cfg = writeConfig(
      work,
      `schedule: "*/30 * * * * *"
state: ./state
retries: 0
timeout: 5s
endpoints:
  - host: ${HOST}
    port: ${server.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: ["${leafPin}"]
`,
    );
    const r = await monitorCli(['monitor', 'once', '--config', cfg, '--json'], { now: LATER });
    expect(r.stderr).not.toMatch(/reading 'split'/);
    const out = JSON.parse(r.stdout);
    const o = out.observations[0];
    expect(o.error).toBeNull();
    expect(o.chain[0]).toMatchObject({ position: 'leaf', subject: '', spkiSha256: leafPin });
    expect(out.open.filter((f: { kind: string }) => f.kind === 'unreachable')).toEqual([]);
    expect(out.open.filter((f: { kind: string }) => f.kind === 'pin-mismatch')).toEqual([]);
    expect(r.code, r.stdout).toBe(0);
    const human = await monitorCli(['monitor', 'once', '--config', cfg], { now: LATER });
    expect(human.stdout).toContain('"(empty subject)"');
  }, 30_000);
});
