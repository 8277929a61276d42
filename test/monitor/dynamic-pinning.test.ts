/**
 * Dynamic pinning, end to end with real pieces on 127.0.0.1: a TLS server whose leaf key the test
 * rotates, `pinctl serve` (keys from `pinctl keys generate`), and `pinctl monitor once` with a
 * `dynamicPinning` section. The new leaf key becomes a proposed pin set (old pins kept as backups);
 * with `publish: true` the monitor publishes it and the service serves it as version 1. After the
 * overlap window the old chain's key is dropped from the set (proposed, or published once).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin, readPki } from '../helpers/fixtures.js';
import { cli } from '../helpers/cli.js';
import { startServe, StartedServe } from '../../cli/commands/serve.js';
import { monitorCli, NOW, pkiFile, tempDir, webhookReceiver, WebhookReceiver, writeConfig } from './helpers.js';
import { Store } from '../../monitor/store.js';
import { parseConfig } from '../../monitor/config.js';
import { runCycle } from '../../monitor/cycle.js';
import { trustStores } from '../../monitor/sweep.js';
import { FetchLike } from '../../monitor/proposals.js';

const HOST = 'api.pinctl.test';
const TOKEN = 'monitor-dp-admin-token-0123456789';
const LEAF = opensslPin('leaf.pem');
const LEAF_NEW = opensslPin('leaf-new-key.pem');
const BACKUP = opensslPin('backup.key');
const LATER = new Date(NOW.getTime() + 3_600_000);

let server: Running & { server: import('node:tls').Server };
let hook: WebhookReceiver;
let service: StartedServe;
const root = tempDir('pinctl-monitor-dp-');

beforeAll(async () => {
  server = await tlsServer('chain.pem', 'leaf.key');
  hook = await webhookReceiver();
  const keys = await cli(['keys', 'generate', '--out', join(root, 'keys')]);
  expect(keys.code, keys.stderr).toBe(0);
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, readStdin: async () => new Uint8Array(), env: { PINCTL_ADMIN_TOKEN: TOKEN }, cwd: root, now: () => new Date() };
  service = await startServe(
    { listen: '127.0.0.1:0', key: [join(root, 'keys', 'pinctl-signing.key')], data: join(root, 'data'), audience: 'com.example.app', expiresIn: '7d', guardTimeout: '3s', reportsRate: '10/min' },
    io,
  );
});
afterAll(async () => {
  await service?.stop();
  await server?.close();
  await hook?.close();
});
beforeEach(() => {
  hook.requests.length = 0;
  serve('chain.pem', 'leaf.key');
});

function serve(chain: string, key: string) {
  server.server.setSecureContext({ cert: readPki(chain), key: readPki(key) });
}

function configText(publish: boolean, serviceUrl = service.url): string {
  return `schedule: "*/30 * * * * *"
state: ./state
retries: 1
retryDelay: 1ms
timeout: 2s
alerts:
  webhook: { url: "${hook.url}" }
dynamicPinning:
  service: "${serviceUrl}"
  tokenEnv: PINCTL_ADMIN_TOKEN
  publish: ${publish}
  overlap: 30d
endpoints:
  - host: ${HOST}
    port: ${server.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: ["${LEAF}", "${BACKUP}"]
`;
}

const once = (cfg: string, now: Date) => monitorCli(['monitor', 'once', '--config', cfg], { now, env: { PINCTL_ADMIN_TOKEN: TOKEN } });

/** Each proposal's state in the state's proposals table, oldest first. */
async function states(dir: string) {
  const store = await Store.open(join(dir, 'state'));
  try {
    return (await store.proposals()).map((p) => p.state);
  } finally {
    store.close();
  }
}

async function events(dir: string) {
  const store = await Store.open(join(dir, 'state'));
  try {
    return await store.history(HOST, 1000);
  } finally {
    store.close();
  }
}

describe('dynamicPinning config', () => {
  const load = (extra: string, env: Record<string, string> = {}) =>
    parseConfig(`schedule: "* * * * *"\nendpoints: [{ host: ${HOST}, pins: ["${LEAF}", "${BACKUP}"] }]\n${extra}`, 'm.yaml', { env, cwd: root, now: NOW });

  it('is optional, has defaults, and names the path of every problem', () => {
    expect(load('').dynamicPinning).toBeNull();
    expect(load('dynamicPinning: { service: "http://127.0.0.1:8080/" }').dynamicPinning).toEqual({
      service: 'http://127.0.0.1:8080',
      tokenEnv: 'PINCTL_ADMIN_TOKEN',
      tokenFile: null,
      token: null,
      publish: false,
      overlapMs: 30 * 86_400_000,
    });
    expect(() => load('dynamicPinning: { service: "http://x", publsh: true }')).toThrow(/dynamicPinning\.publsh: unknown key \(did you mean "publish"\?\)/);
    expect(() => load('dynamicPinning: { publish: true }')).toThrow(/dynamicPinning\.service: required/);
    expect(() => load('dynamicPinning: { service: "ftp://x" }')).toThrow(/dynamicPinning\.service: expected/);
    expect(() => load('dynamicPinning: { service: "http://x", publish: "yes" }')).toThrow(/dynamicPinning\.publish: expected true or false/);
    expect(() => load('dynamicPinning: { service: "http://x", overlap: "soon" }')).toThrow(/dynamicPinning\.overlap: expected a duration/);
    expect(() => load('dynamicPinning: { service: "http://x", tokenEnv: "not a name" }')).toThrow(/dynamicPinning\.tokenEnv: expected the name of an environment variable/);
    expect(() => load('dynamicPinning: { service: "http://x", publish: true, tokenEnv: T }')).toThrow(/dynamicPinning\.tokenEnv: publish is true but the environment variable T is not set/);
    expect(load('dynamicPinning: { service: "http://x", publish: true, tokenEnv: T, overlap: 7d }', { T: 'secret' }).dynamicPinning).toMatchObject({ token: 'secret', publish: true, overlapMs: 7 * 86_400_000 });
  });
});

describe('dynamic pinning against a real signing service', () => {
  it('publish: false — a new leaf key becomes a proposal file (new pin + old pins as backup), named in the alert', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, configText(false));
    const first = await once(cfg, NOW);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(existsSync(join(dir, 'state', 'proposals'))).toBe(false);

    serve('chain-new-key.pem', 'leaf-new-key.key');
    const second = await once(cfg, LATER);
    expect(second.code).toBe(1);
    const files = readdirSync(join(dir, 'state', 'proposals'));
    expect(files).toEqual([`${HOST}-20260601T010000Z.json`]);
    const file = join(dir, 'state', 'proposals', files[0]!);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc.format).toBe('pinctl.pins.v1');
    expect(doc.domains).toHaveLength(1);
    const d = doc.domains[0];
    expect(d.domain).toBe(HOST);
    expect(d.endpoints).toEqual([{ host: HOST, port: server.port, addresses: ['127.0.0.1'] }]);
    expect(d.pins.map((p: { spkiSha256: string; role: string }) => [p.spkiSha256, p.role])).toEqual([
      [LEAF_NEW, 'leaf'],
      [LEAF, 'backup'],
      [BACKUP, 'backup'],
    ]);
    expect(d.pins[1].source).toContain('keep as backup until 2026-07-01 (overlap 30d)');
    // `monitor once` says what it proposed, on stdout.
    expect(second.stdout).toContain(`proposed pin sets (1):\n  ${HOST}:${server.port}: ${file} (1 pin(s) + 2 backup(s); not published)`);

    // The chain-drift alert names the file and the command that publishes it (never ?force=1).
    const drift = hook.requests.find((r) => (r.body.pinctl as { finding: { kind: string } }).finding.kind === 'chain-drift');
    expect(drift).toBeDefined();
    const text = String(drift!.body.text);
    expect(text).toContain(`*Proposed pins:* new pin set for ${HOST} written to ${file}`);
    expect(text).toContain(`curl -sS -H "Authorization: Bearer $PINCTL_ADMIN_TOKEN"`);
    expect(text).toContain(`${service.url}/v1/bundles/pins`);
    expect(text).not.toContain('force');

    const history = await events(dir);
    const proposed = history.filter((e) => e.type === 'pins-proposed');
    expect(proposed).toHaveLength(1);
    expect(proposed[0]!.summary).toContain(file);
    expect(history.some((e) => e.type.startsWith('pins-publish'))).toBe(false);
    // Nothing was published.
    expect((await fetch(`${service.url}/v1/bundles/pins`)).status).toBe(404);
  });

  it('publish: true — the monitor publishes the proposal merged into the served set (other domains kept); once per finding', async () => {
    // The bundle apps pull already pins another domain: publishing one endpoint's proposal must not drop it.
    const other = { format: 'pinctl.pins.v1', expiration: null, domains: [{ domain: 'other.pinctl.test', includeSubdomains: false, pins: [LEAF, BACKUP].map((p) => ({ spkiSha256: p, role: 'backup', subject: null, notAfter: null, source: 'test' })), endpoints: [] }] };
    const seeded = await fetch(`${service.url}/v1/bundles/pins?force=1`, { method: 'POST', body: JSON.stringify(other), headers: { authorization: `Bearer ${TOKEN}` } });
    expect(seeded.status).toBe(200);
    const dir = tempDir();
    const cfg = writeConfig(dir, configText(true));
    expect((await once(cfg, NOW)).code).toBe(0);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    const second = await once(cfg, LATER);
    expect(second.code).toBe(1);

    expect(second.stdout).toMatch(/proposed pin sets \(1\):\n  .*\.json \(1 pin\(s\) \+ 2 backup\(s\); published as version 2\)/);
    const res = await fetch(`${service.url}/v1/bundles/pins`);
    expect(res.status).toBe(200);
    const envelope = (await res.json()) as { payload: string };
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(payload.version).toBe(2);
    const domain = payload.domains.find((x: { domain: string }) => x.domain === HOST);
    expect(domain.pins).toEqual(expect.arrayContaining([LEAF_NEW, LEAF, BACKUP]));
    expect(payload.domains.find((x: { domain: string }) => x.domain === 'other.pinctl.test')?.pins.sort()).toEqual([LEAF, BACKUP].sort());

    let history = await events(dir);
    const published = history.filter((e) => e.type === 'pins-publish-published');
    expect(published).toHaveLength(1);
    expect(published[0]!.summary).toContain('published pins version 2');
    expect(history.filter((e) => e.type === 'pins-publish-attempt')).toHaveLength(1);
    expect(await states(dir)).toEqual(['published']);

    // Another sweep with the same chain: the finding is not new, nothing is published again.
    await once(cfg, new Date(LATER.getTime() + 60_000));
    history = await events(dir);
    expect(history.filter((e) => e.type === 'pins-publish-attempt')).toHaveLength(1);
    const again = await fetch(`${service.url}/v1/bundles/pins`);
    expect(JSON.parse(Buffer.from(((await again.json()) as { payload: string }).payload, 'base64').toString('utf8')).version).toBe(2);
  });

  it('records a 409 guard refusal and a network failure, with one attempt per finding (injected fetch)', async () => {
    for (const [answer, type, text] of [
      [() => new Response(JSON.stringify({ error: 'guard failed', code: 'GUARD_FAILED', failures: [] }), { status: 409 }), 'pins-publish-refused', '409, pre-publish guard'],
      [() => Promise.reject(new Error('connect ECONNREFUSED')), 'pins-publish-failed', 'ECONNREFUSED'],
      [() => new Response(JSON.stringify({ error: 'wrong token' }), { status: 401 }), 'pins-publish-failed', '(401): wrong token'],
    ] as const) {
      const dir = tempDir();
      const cfg = parseConfig(configText(true, 'http://127.0.0.1:9'), join(dir, 'm.yaml'), { env: { PINCTL_ADMIN_TOKEN: TOKEN }, cwd: dir, now: NOW });
      const calls: { url: string; auth: string }[] = [];
      const fetchImpl: FetchLike = async (url, init) => {
        calls.push({ url, auth: init.headers.authorization! });
        return answer();
      };
      const store = await Store.open(cfg.state);
      try {
        const deps = { stores: trustStores(cfg, {}), fetch: fetchImpl, noDelivery: true };
        serve('chain.pem', 'leaf.key');
        await runCycle(cfg, store, { ...deps, now: () => NOW });
        serve('chain-new-key.pem', 'leaf-new-key.key');
        const r = await runCycle(cfg, store, { ...deps, now: () => LATER });
        expect(r.proposals).toHaveLength(1);
        expect(r.proposals[0]!.publish).not.toBeNull();
        expect(calls).toEqual([{ url: 'http://127.0.0.1:9/v1/bundles/pins?merge=1', auth: `Bearer ${TOKEN}` }]);
        const h = await store.history(HOST, 1000);
        const outcome = h.filter((e) => e.type === type);
        expect(outcome).toHaveLength(1);
        expect(outcome[0]!.summary).toContain(text);
        // Another sweep with the same chain: the finding stays open, nothing is POSTed again.
        await runCycle(cfg, store, { ...deps, now: () => new Date(LATER.getTime() + 60_000) });
        expect(calls).toHaveLength(1);
      } finally {
        store.close();
      }
    }
  });

  it('after the overlap window: proposes the set without the old chain key (the offline backup stays), once', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, configText(false));
    expect((await once(cfg, NOW)).code).toBe(0);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    await once(cfg, LATER); // proposal: LEAF_NEW + backups LEAF, BACKUP; keep until 2026-07-01
    const proposals = () => readdirSync(join(dir, 'state', 'proposals')).sort();
    expect(proposals()).toHaveLength(1);

    // Inside the window (it ends 30 days after the proposal, to the minute: 2026-07-01T01:00Z).
    for (const at of ['2026-06-30T12:00:00Z', '2026-07-01T00:30:00Z']) {
      const inside = await once(cfg, new Date(at));
      expect(inside.stdout, at).not.toContain('proposed pin sets');
      expect(proposals(), at).toHaveLength(1);
    }

    // The window has ended and the new chain is still served: LEAF (the old chain's key) goes.
    const after = await once(cfg, new Date('2026-07-01T01:10:00Z'));
    expect(proposals()).toHaveLength(2);
    const file = join(dir, 'state', 'proposals', proposals()[1]!);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc.domains[0].pins.map((p: { spkiSha256: string; role: string }) => [p.spkiSha256, p.role])).toEqual([
      [LEAF_NEW, 'leaf'],
      [BACKUP, 'backup'],
    ]);
    expect(after.stdout).toContain(`${file} (overlap ended, drops the old key(s) ${LEAF}; 1 pin(s) + 1 backup(s); not published)`);
    const retired = (await events(dir)).filter((e) => e.type === 'pins-retire-proposed');
    expect(retired).toHaveLength(1);
    expect(retired[0]!.summary).toContain(`without the old chain's key(s) ${LEAF}`);

    expect(await states(dir)).toEqual(['retiring']); // publish: false — the follow-up waits to be published by hand

    // Decided once: later sweeps propose nothing more.
    await once(cfg, new Date('2026-07-02T00:00:00Z'));
    expect(proposals()).toHaveLength(2);
  });

  it('after the overlap window with publish: true, the service serves the set without the old key', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, configText(true));
    expect((await once(cfg, NOW)).code).toBe(0);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    await once(cfg, LATER);
    const payload = async () => {
      const res = await fetch(`${service.url}/v1/bundles/pins`);
      return JSON.parse(Buffer.from(((await res.json()) as { payload: string }).payload, 'base64').toString('utf8'));
    };
    // Someone adds a pin to the served entry by hand (merge + force: no guard for it).
    const ROOT = opensslPin('root.pem');
    const handEntry = { format: 'pinctl.pins.v1', expiration: null, domains: [{ domain: HOST, includeSubdomains: false, pins: [LEAF_NEW, LEAF, BACKUP, ROOT].map((p) => ({ spkiSha256: p, role: 'backup', subject: null, notAfter: null, source: 'hand' })), endpoints: [] }] };
    const hand = await fetch(`${service.url}/v1/bundles/pins?merge=1&force=1`, { method: 'POST', body: JSON.stringify(handEntry), headers: { authorization: `Bearer ${TOKEN}` } });
    expect(hand.status).toBe(200);
    expect(((await hand.json()) as { changes: unknown }).changes).toEqual([{ domain: HOST, added: [ROOT], removed: [] }]);
    const first = await payload();
    expect(first.domains.find((x: { domain: string }) => x.domain === HOST).pins).toEqual(expect.arrayContaining([LEAF_NEW, LEAF, BACKUP, ROOT]));

    const after = await once(cfg, new Date('2026-07-01T01:10:00Z'));
    expect(after.stdout).toMatch(new RegExp(`drops the old key\\(s\\) ${LEAF.replace(/[+/=]/g, '\\$&')}; 1 pin\\(s\\) \\+ 1 backup\\(s\\); published as version ${first.version + 1}\\)`));
    const second = await payload();
    expect(second.version).toBe(first.version + 1);
    expect([...second.domains.find((x: { domain: string }) => x.domain === HOST).pins].sort()).toEqual([LEAF_NEW, BACKUP].sort());
    expect(second.domains.map((x: { domain: string }) => x.domain)).toContain('other.pinctl.test');
    const h = await events(dir);
    expect(h.filter((e) => e.type === 'pins-retire-publish-attempt')).toHaveLength(1);
    const published = h.filter((e) => e.type === 'pins-retire-publish-published');
    expect(published).toHaveLength(1);
    // The hand-added pin was not in the proposal: the history says the served entry lost it.
    expect(published[0]!.summary).toContain(`the served entry also lost ${ROOT}`);
    expect(published[0]!.summary).not.toContain(`lost ${LEAF}`);
    expect(await states(dir)).toEqual(['retired']);

    // Once: the next sweep publishes nothing.
    await once(cfg, new Date('2026-07-02T00:00:00Z'));
    expect((await payload()).version).toBe(second.version);
  });

  it('after the window, keeps the pins shipped today (a backup added since stays) and waits while an address is down', async () => {
    const BACKUP2 = opensslPin('backup-rsa.key');
    const dir = tempDir();
    const text = configText(false);
    const cfg = writeConfig(dir, text);
    expect((await once(cfg, NOW)).code).toBe(0);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    await once(cfg, LATER);
    // The app team ships a second backup meanwhile; the config says so.
    writeConfig(dir, text.replace(`pins: ["${LEAF}", "${BACKUP}"]`, `pins: ["${LEAF}", "${BACKUP}", "${BACKUP2}"]`));
    // A second address that refuses connections: it might still serve the old chain, so the
    // old key is not dropped while it does not answer.
    const twoAddresses = writeConfig(dir, text.replace(`pins: ["${LEAF}", "${BACKUP}"]`, `pins: ["${LEAF}", "${BACKUP}", "${BACKUP2}"]`).replace('addresses: [127.0.0.1]', 'addresses: [127.0.0.1, 127.0.0.2]'), 'two.yaml');
    await once(twoAddresses, new Date('2026-07-01T01:10:00Z'));
    expect(readdirSync(join(dir, 'state', 'proposals'))).toHaveLength(1);
    expect((await events(dir)).filter((e) => e.type.startsWith('pins-retire'))).toEqual([]);

    // Every address answers with the new chain: the set is the new key + both backups shipped today.
    await once(cfg, new Date('2026-07-01T01:20:00Z'));
    const files = readdirSync(join(dir, 'state', 'proposals')).sort();
    expect(files).toHaveLength(2);
    const doc = JSON.parse(readFileSync(join(dir, 'state', 'proposals', files[1]!), 'utf8'));
    expect(doc.domains[0].pins.map((p: { spkiSha256: string; role: string }) => [p.spkiSha256, p.role])).toEqual([
      [LEAF_NEW, 'leaf'],
      [BACKUP, 'backup'],
      [BACKUP2, 'backup'],
    ]);
  });

  it('keeps the old keys when dropping them would leave a single pin, and says so', async () => {
    const dir = tempDir();
    // Only the leaf is pinned: the proposal is LEAF_NEW + LEAF; without LEAF one pin would remain.
    const cfg = writeConfig(dir, configText(false).replace(`pins: ["${LEAF}", "${BACKUP}"]`, `pins: ["${LEAF}"]`));
    expect((await once(cfg, NOW)).code).toBe(0);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    await once(cfg, LATER);
    await once(cfg, new Date('2026-07-01T01:10:00Z'));
    expect(readdirSync(join(dir, 'state', 'proposals'))).toHaveLength(1);
    const skipped = (await events(dir)).filter((e) => e.type === 'pins-retire-skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.summary).toContain('would leave 1 pin(s)');
    expect(await states(dir)).toEqual(['kept']);
  });

  it('one entry per name: another port still serving the old key keeps it in the set, and both ports are in the proposal', async () => {
    const other = await tlsServer('chain.pem', 'leaf.key');
    try {
      const dir = tempDir();
      const second = `  - host: ${HOST}\n    port: ${other.port}\n    addresses: [127.0.0.1]\n    caFile: ${pkiFile('root.pem')}\n    pins: ["${LEAF}", "${BACKUP}"]\n`;
      const cfg = writeConfig(dir, configText(false) + second);
      expect((await once(cfg, NOW)).code).toBe(0);
      serve('chain-new-key.pem', 'leaf-new-key.key'); // the first port only
      await once(cfg, LATER);
      const files = () => readdirSync(join(dir, 'state', 'proposals')).sort();
      expect(files()).toHaveLength(1);
      const doc = JSON.parse(readFileSync(join(dir, 'state', 'proposals', files()[0]!), 'utf8'));
      expect(doc.domains).toHaveLength(1);
      expect(doc.domains[0].endpoints).toEqual([
        { host: HOST, port: server.port, addresses: ['127.0.0.1'] },
        { host: HOST, port: other.port, addresses: ['127.0.0.1'] },
      ]);
      expect(doc.domains[0].pins.map((p: { spkiSha256: string }) => p.spkiSha256).sort()).toEqual([LEAF_NEW, LEAF, BACKUP].sort());

      // After the window the other port still serves LEAF: it is not dropped.
      await once(cfg, new Date('2026-07-01T01:10:00Z'));
      expect(files()).toHaveLength(1);
      const skipped = (await events(dir)).filter((e) => e.type === 'pins-retire-skipped');
      expect(skipped).toHaveLength(1);
      expect(skipped[0]!.summary).toContain(`the old keys are still served (${LEAF})`);
    } finally {
      await other.close();
    }
  });

  it('a second change inside the window: positions follow the last proposal, the older old key retires with it', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, configText(false));
    expect((await once(cfg, NOW)).code).toBe(0);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    await once(cfg, LATER); // proposal 1: LEAF_NEW at the leaf position, LEAF and BACKUP kept
    await once(cfg, new Date('2026-06-03T00:00:00Z')); // served for 24h: the drift is the new normal
    // Nine days later (after the 24h drift window) the server goes back to the first key. The
    // chain it leaves (LEAF_NEW) is not shipped, only proposed: the leaf position still applies.
    serve('chain.pem', 'leaf.key');
    await once(cfg, new Date('2026-06-10T00:00:00Z'));
    const files = () => readdirSync(join(dir, 'state', 'proposals')).sort();
    expect(files()).toHaveLength(2);
    const pinsOf = (file: string) => JSON.parse(readFileSync(join(dir, 'state', 'proposals', file), 'utf8')).domains[0].pins.map((p: { spkiSha256: string; role: string }) => [p.spkiSha256, p.role]);
    expect(pinsOf(files()[1]!)).toEqual([
      [LEAF, 'leaf'],
      [BACKUP, 'backup'],
      [LEAF_NEW, 'backup'],
    ]);
    // Its window ends 30 days later: LEAF_NEW (served by nothing) goes, LEAF (served) stays.
    await once(cfg, new Date('2026-07-10T00:10:00Z'));
    expect(files()).toHaveLength(3);
    expect(await states(dir)).toEqual(['superseded', 'retiring']);
    expect(pinsOf(files()[2]!)).toEqual([
      [LEAF, 'leaf'],
      [BACKUP, 'backup'],
    ]);
  });

  it("keeps the app pin file's includeSubdomains for the host in the proposal", async () => {
    const dir = tempDir();
    const pinsFile = { format: 'pinctl.pins.v1', expiration: null, domains: [{ domain: HOST, includeSubdomains: true, pins: [LEAF, BACKUP].map((p) => ({ spkiSha256: p, role: 'backup', subject: null, notAfter: null, source: 'test' })), endpoints: [] }] };
    writeConfig(dir, JSON.stringify(pinsFile), 'pins.json');
    const cfg = writeConfig(dir, configText(false).replace(`pins: ["${LEAF}", "${BACKUP}"]`, 'pinsFrom: ./pins.json'));
    expect((await once(cfg, NOW)).code).toBe(0);
    serve('chain-new-key.pem', 'leaf-new-key.key');
    await once(cfg, LATER);
    const files = readdirSync(join(dir, 'state', 'proposals'));
    expect(files).toHaveLength(1);
    const doc = JSON.parse(readFileSync(join(dir, 'state', 'proposals', files[0]!), 'utf8'));
    expect(doc.domains[0]).toMatchObject({ domain: HOST, includeSubdomains: true });
  });

  it('proposes nothing when the new chain does not validate, or when the change is a same-key renewal', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, configText(false));
    expect((await once(cfg, NOW)).code).toBe(0);
    serve('chain-renewed.pem', 'leaf.key');
    await once(cfg, LATER);
    expect(existsSync(join(dir, 'state', 'proposals'))).toBe(false);
    // A leaf key from another CA: drift, but the chain does not validate against root.pem.
    serve('example-untrusted-chain.pem', 'example-untrusted-leaf.key');
    await once(cfg, new Date(LATER.getTime() + 60_000));
    expect(existsSync(join(dir, 'state', 'proposals'))).toBe(false);
    const skipped = (await events(dir)).filter((e) => e.type === 'pins-proposal-skipped');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.summary).toMatch(/the new chain does not validate at 127\.0\.0\.1/);
  });
});
