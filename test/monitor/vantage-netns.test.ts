/**
 * Two vantages as two places with their own network (issue 11): Linux network namespaces `eu` and
 * `us`, each joined by a veth pair to its own "site" namespace where a real TLS server listens on
 * 10.77.0.1:443 — the same address in both places, different keys. The monitor (`monitor once`,
 * compiled) runs inside `eu`, then `us`; in both, the machine's resolver reads a hosts file saying
 * api.pinctl.test is 10.77.0.1, so the config names no address: one name, one address, two chains.
 * The shared PostgreSQL state is reached through a unix socket relayed to its TCP port (namespaces
 * share the file system, not 127.0.0.1). Needs root; skipped, saying why, where namespaces are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { opensslPin, pkiFile } from '../helpers/fixtures.js';
import { Namespaces, NETNS_SKIP, collect } from '../helpers/netns.js';
import { Compiled, compileForChildren } from '../helpers/compile.js';
import { tlsServer } from '../helpers/servers.js';
import { monitorCli, tempDir, writeConfig } from './helpers.js';
import { PG_SKIP, PgSocketRelay, TestDatabase, createTestDatabase, pgSocketRelay } from './pg.js';

const SKIP = NETNS_SKIP || PG_SKIP;
const ADDRESS = '10.77.0.1';
const ENDPOINT = 'api.pinctl.test:443';
/** Each place's server: its certificate chain and key. */
const SITES = {
  eu: { chain: 'chain.pem', key: 'leaf.key', pin: () => opensslPin('leaf.pem') },
  us: { chain: 'chain-new-key.pem', key: 'leaf-new-key.key', pin: () => opensslPin('leaf-new-key.key') },
};
type Place = keyof typeof SITES;

/** The site's TLS server: plain node, started inside the site namespace; prints "ready" once listening. */
const SERVER = `
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
const [cert, key, host] = process.argv.slice(2);
const server = tls.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (s) => s.end());
server.on('tlsClientError', () => {});
server.listen(443, host, () => process.stdout.write('ready\\n'));
`;

let ns: Namespaces;
let compiled: Compiled;
let db: TestDatabase;
let relay: PgSocketRelay;
let dir: string;
const monitorNs = {} as Record<Place, string>;

/** Starts a place's server in its site namespace; resolves once it listens. */
async function startSite(place: Place, site: string): Promise<void> {
  const script = join(dir, 'server.mjs');
  writeFileSync(script, SERVER);
  const { chain, key } = SITES[place];
  const child = ns.spawn(site, [process.execPath, script, pkiFile(chain), pkiFile(key), ADDRESS]);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((done, fail) => {
    child.stdout!.on('data', () => out.includes('ready') && done());
    child.once('exit', (code) => fail(new Error(`${place} server exited ${code}: ${out}`)));
  });
}

beforeAll(async () => {
  if (PG_SKIP) return;
  dir = tempDir('pinctl-netns-');
  db = await createTestDatabase();
  relay = await pgSocketRelay(db, dir);
  if (NETNS_SKIP) return;
  ns = new Namespaces();
  for (const place of Object.keys(SITES) as Place[]) {
    monitorNs[place] = ns.add(place);
    const site = ns.add(`${place}-site`);
    ns.link(monitorNs[place], site, '10.77.0');
    await startSite(place, site);
  }
  writeFileSync(join(dir, 'hosts'), `127.0.0.1 localhost\n${ADDRESS} api.pinctl.test\n`);
  compiled = compileForChildren('monitor-netns', ['cli', 'src', 'monitor']);
}, 240_000);
afterAll(async () => {
  if (PG_SKIP) return;
  await ns?.remove(); // servers first, then the namespaces and their veths, whatever failed above
  await relay?.close();
  await db?.drop();
  compiled?.remove();
  rmSync(dir, { recursive: true, force: true });
});

interface OnceOut {
  observations: { vantage: string; address: string; chain: { spkiSha256: string }[] }[];
  opened: { kind: string }[];
  open: { kind: string }[];
}

/** A config for `vantage` on the state behind the relay; `endpoint` is the endpoint's YAML after `host:`. */
const configFor = (vantage: string, endpoint: string) =>
  writeConfig(
    dir,
    `schedule: "*/5 * * * *"
state: ${relay.url}
statePasswordEnv: PINCTL_TEST_PG_PASSWORD
localDir: ./local-${vantage}
vantage: ${vantage}
retries: 0
timeout: 5s
endpoints:
  - host: ${endpoint}
    caFile: ${pkiFile('root.pem')}
    pins: ["${SITES.eu.pin()}", "${SITES.us.pin()}"]
`,
    `${vantage}.yaml`,
  );

/** `pinctl monitor once --json` with `vantage: place`, run inside the place's namespace. */
async function onceIn(place: Place): Promise<{ code: number | null; out: OnceOut }> {
  const main = join(compiled.out, 'cli', 'main.js');
  const argv = [process.execPath, main, 'monitor', 'once', '--config', configFor(place, 'api.pinctl.test'), '--json'];
  const env = { ...process.env, PINCTL_TEST_PG_PASSWORD: db.password };
  const r = await collect(ns.spawn(monitorNs[place], argv, { hostsFile: join(dir, 'hosts'), env }));
  if (!r.stdout.trim()) throw new Error(`monitor once in ${place} printed nothing (exit ${r.code}): ${r.stderr}`);
  return { code: r.code, out: JSON.parse(r.stdout) as OnceOut };
}

/** Rows of one query on the test database, read directly (not through the monitor). */
async function rows(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: db.urlWithPassword });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

/**
 * Without root too: the state URL's unix-socket form (pg's `host` parameter) as the config gives it
 * to the monitor, with the password from statePasswordEnv (its own vantage and endpoint in the database).
 */
describe.skipIf(PG_SKIP)('a PostgreSQL state through a unix socket', () => {
  it('monitor once stores its sweep through the socket', async () => {
    const server = await tlsServer('chain.pem', 'leaf.key');
    try {
      const config = configFor('socket', `api.pinctl.test\n    port: ${server.port}\n    addresses: [127.0.0.1]`);
      const env = { PINCTL_TEST_PG_PASSWORD: db.password };
      const r = await monitorCli(['monitor', 'once', '--config', config, '--json'], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(relay.url).toMatch(/^postgres:\/\/[^/]*@localhost:\d+\/\w+\?host=/);
      expect(relay.connections()).toBeGreaterThan(0); // the socket, not localhost's TCP port
      const latest = await rows(`SELECT vantage, address FROM latest WHERE vantage = 'socket'`);
      expect(latest).toEqual([{ vantage: 'socket', address: '127.0.0.1' }]);
    } finally {
      await server.close();
    }
  }, 60_000);
});

/** What a sweep saw: vantage, address dialled and the leaf's pin, per observation. */
const seen = (out: OnceOut) =>
  out.observations.map((o) => ({ vantage: o.vantage, address: o.address, leaf: o.chain[0]?.spkiSha256 }));

interface View {
  vantage: string;
  addresses: string[];
  leafKeys: string[];
}

describe.skipIf(SKIP)('vantages in two network namespaces: one name, one address, two servers', () => {
  it('each place sees its own key; one vantage-disagreement, no drift', async () => {
    const eu = await onceIn('eu');
    expect(eu.code).toBe(0);
    expect(seen(eu.out)).toEqual([{ vantage: 'eu', address: ADDRESS, leaf: SITES.eu.pin() }]);

    const us = await onceIn('us');
    expect(seen(us.out)).toEqual([{ vantage: 'us', address: ADDRESS, leaf: SITES.us.pin() }]);
    expect(us.out.opened.map((f) => f.kind)).toEqual(['vantage-disagreement']);
    expect(us.code).toBe(1); // a warning is open

    const again = await onceIn('eu'); // eu's own past is its own key: no drift because us differs
    expect(seen(again.out)).toEqual([{ vantage: 'eu', address: ADDRESS, leaf: SITES.eu.pin() }]);
    expect(again.out.opened).toEqual([]);
    expect(again.out.open.map((f) => f.kind)).toEqual(['vantage-disagreement']);

    // Every finding ever opened for the endpoint: the one disagreement (so no drift, no pin mismatch).
    const findings = await rows(`SELECT kind, key, resolved_at, details FROM findings WHERE endpoint = $1`, [ENDPOINT]);
    expect(findings.map((f) => [f.kind, f.key, f.resolved_at])).toEqual([
      ['vantage-disagreement', `vantage-disagreement|${ENDPOINT}`, null],
    ]);
    const views = (JSON.parse(String(findings[0]!.details)) as { vantages: View[] }).vantages;
    expect(views.map((v) => [v.vantage, v.addresses, v.leafKeys])).toEqual([
      ['eu', [ADDRESS], [SITES.eu.pin()]],
      ['us', [ADDRESS], [SITES.us.pin()]],
    ]);
    expect(await rows(`SELECT vantage, address FROM latest WHERE endpoint = $1 ORDER BY vantage`, [ENDPOINT])).toEqual([
      { vantage: 'eu', address: ADDRESS },
      { vantage: 'us', address: ADDRESS },
    ]);
  }, 180_000);
});
