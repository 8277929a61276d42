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
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { opensslPin, pkiFile } from '../helpers/fixtures.js';
import { Namespaces, NETNS_SKIP, collect } from '../helpers/netns.js';
import { Compiled, compileForChildren } from '../helpers/compile.js';
import { tempDir, writeConfig } from './helpers.js';
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
  if (SKIP) return;
  ns = new Namespaces();
  dir = tempDir('pinctl-netns-');
  db = await createTestDatabase();
  relay = await pgSocketRelay(db, dir);
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
  if (SKIP) return;
  await ns?.remove(); // servers first, then the namespaces and their veths, whatever failed above
  await relay?.close();
  await db?.drop();
  compiled?.remove();
});

interface OnceOut {
  observations: { vantage: string; address: string; chain: { spkiSha256: string }[] }[];
  opened: { kind: string }[];
  open: { kind: string }[];
}

/** `pinctl monitor once --json` with `vantage: place`, run inside the place's namespace. */
async function onceIn(place: Place): Promise<{ code: number | null; out: OnceOut }> {
  const config = writeConfig(
    dir,
    `schedule: "*/5 * * * *"
state: ${relay.url}
statePasswordEnv: PINCTL_TEST_PG_PASSWORD
localDir: ./local-${place}
vantage: ${place}
retries: 0
timeout: 5s
endpoints:
  - host: api.pinctl.test
    caFile: ${pkiFile('root.pem')}
    pins: ["${SITES.eu.pin()}", "${SITES.us.pin()}"]
`,
    `${place}.yaml`,
  );
  const argv = [process.execPath, join(compiled.out, 'cli', 'main.js'), 'monitor', 'once', '--config', config, '--json'];
  const env = { ...process.env, PINCTL_TEST_PG_PASSWORD: db.password };
  const r = await collect(ns.spawn(monitorNs[place], argv, { hostsFile: join(dir, 'hosts'), env }));
  if (!r.stdout.trim()) throw new Error(`monitor once in ${place} printed nothing (exit ${r.code}): ${r.stderr}`);
  return { code: r.code, out: JSON.parse(r.stdout) as OnceOut };
}

const seen = (out: OnceOut) => out.observations.map((o) => ({ vantage: o.vantage, address: o.address, leaf: o.chain[0]?.spkiSha256 }));

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

    const client = new pg.Client({ connectionString: db.urlWithPassword });
    await client.connect();
    try {
      const findings = (await client.query(`SELECT kind, key, resolved_at, details FROM findings`)).rows;
      expect(findings.map((f) => [f.kind, f.key, f.resolved_at])).toEqual([['vantage-disagreement', `vantage-disagreement|${ENDPOINT}`, null]]);
      const views = (JSON.parse(String(findings[0].details)) as { vantages: { vantage: string; addresses: string[]; leafKeys: string[] }[] }).vantages;
      expect(views.map((v) => [v.vantage, v.addresses, v.leafKeys])).toEqual([
        ['eu', [ADDRESS], [SITES.eu.pin()]],
        ['us', [ADDRESS], [SITES.us.pin()]],
      ]);
      const latest = (await client.query(`SELECT vantage, address FROM latest ORDER BY vantage`)).rows;
      expect(latest).toEqual([
        { vantage: 'eu', address: ADDRESS },
        { vantage: 'us', address: ADDRESS },
      ]);
    } finally {
      await client.end();
    }
  }, 180_000);
});
