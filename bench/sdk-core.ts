/**
 * pinctl/sdk/core and the React Native adapter: verify + apply (refresh over an in-memory fetch,
 * then applyPins to a recording stand-in for the native module) of 1, 100 and 10,000-domain
 * bundles, on Node in process and on the Hermes VM (dist/hermes/pinctl-react-native.js, built by
 * `npm run build:hermes`). Run once each, small: the figures are indicative.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signEnvelope, signerFromPem } from '../src/bundle/sign.js';
import { serializeEnvelope } from '../src/bundle/envelope.js';
import { encodePayload } from '../src/bundle/payload.js';
import { PAYLOAD_TYPES } from '../src/bundle/types.js';
import { applyPins, createClient, type FetchLike } from '../src/sdk/react-native/index.js';
import { packageRoot } from '../src/package-root.js';
import { benchPinsPayload } from './pins-payload.js';
import { nativePrimitives, usePrimitives } from '../src/bundle/primitives.js';

const SIZES = [1, 100, 10_000];

function bundles(): { pubPem: string; envelopes: Map<number, string> } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = signerFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const envelopes = new Map<number, string>();
  for (const n of SIZES) {
    const payload = benchPinsPayload(n);
    envelopes.set(n, serializeEnvelope(signEnvelope(PAYLOAD_TYPES.pins, encodePayload(payload), [signer])));
  }
  return { pubPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, envelopes };
}

/** The same scenario as Hermes runs it: a fresh client, one refresh, one applyPins. */
async function nodeRun(pubPem: string, envelope: string): Promise<number> {
  const body = new TextEncoder().encode(envelope);
  const fetch: FetchLike = async (url) => ({
    status: url.endsWith('/v1/bundles/pins') ? 200 : 404,
    headers: { get: () => null },
    arrayBuffer: async () => body.slice().buffer,
  });
  const storage = { get: () => null, set: () => {} };
  const lib = { initializeSslPinning: async () => {}, disableSslPinning: async () => {} };
  const t = performance.now();
  const client = createClient({ url: 'https://pins.example.test', publicKeys: [pubPem], audience: 'com.example.app', storage, fetch, maxBytes: 16 << 20 });
  await client.refresh();
  const r = await applyPins(client, lib);
  const ms = performance.now() - t;
  if (r.domains.length === 0) throw new Error('bench: nothing applied');
  return ms;
}

const HERMES_SCRIPT = `
var lib = { initializeSslPinning: function () { return Promise.resolve(); }, disableSslPinning: function () { return Promise.resolve(); } };
function run(n, envelope) {
  var fetch = function (url) {
    var bytes = pinctlBytes(envelope);
    return Promise.resolve({ status: /\\/v1\\/bundles\\/pins$/.test(url) ? 200 : 404, headers: { get: function () { return null; } },
      arrayBuffer: function () { return Promise.resolve(bytes.buffer); } });
  };
  var t = Date.now();
  var client = pinctlReactNative.createClient({ url: 'https://pins.example.test', publicKeys: [PUB], audience: 'com.example.app',
    storage: { get: function () { return null; }, set: function () {} }, fetch: fetch, maxBytes: 16777216 });
  return client.refresh().then(function () { return pinctlReactNative.applyPins(client, lib); }).then(function (r) {
    print('hermes ' + n + ' ' + (Date.now() - t) + ' ' + r.domains.length);
  });
}
function pinctlBytes(s) { var out = new Uint8Array(s.length); for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); return out; }
var chain = Promise.resolve();
Object.keys(ENVELOPES).forEach(function (n) { chain = chain.then(function () { return run(n, ENVELOPES[n]); }); });
chain.catch(function (e) { print('hermes error ' + e); });
`;

function hermesRun(root: string, pubPem: string, envelopes: Map<number, string>): Map<number, number> | string {
  const bundle = join(root, 'dist', 'hermes', 'pinctl-react-native.js');
  if (!existsSync(bundle)) return 'no dist/hermes (run npm run build:hermes)';
  const hermes = join(createRequire(import.meta.url).resolve('hermes-engine-cli/package.json'), '..', 'linux64-bin', 'hermes');
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'hermes-engine-cli has a Linux x64 binary only';
  const file = join(mkdtempSync(join(tmpdir(), 'pinctl-bench-hermes-')), 'bench.js');
  const data = `var PUB = ${JSON.stringify(pubPem)};\nvar ENVELOPES = ${JSON.stringify(Object.fromEntries(envelopes))};\n`;
  writeFileSync(file, `${readFileSync(bundle, 'utf8')}\n${data}${HERMES_SCRIPT}`);
  const out = execFileSync(hermes, ['-w', '-Xmicrotask-queue', file], { encoding: 'utf8', timeout: 600_000 });
  const times = new Map<number, number>();
  for (const m of out.matchAll(/^hermes (\d+) (\d+) (\d+)$/gm)) times.set(Number(m[1]), Number(m[2]));
  return times.size === envelopes.size ? times : `unexpected output: ${out.slice(0, 200)}`;
}

export async function benchSdkCore(line: (label: string, ours: string, base: string, ratio: number, target?: string) => void): Promise<void> {
  const { pubPem, envelopes } = bundles();
  // The bundle bench (same process) installs the Node SDK's primitives; this line is the pure-JS
  // code Hermes runs, so they are set aside while it runs.
  const installed = nativePrimitives();
  usePrimitives({});
  const node = new Map<number, number>();
  try {
    await nodeRun(pubPem, envelopes.get(1)!); // warm-up
    for (const n of SIZES) node.set(n, await nodeRun(pubPem, envelopes.get(n)!));
  } finally {
    usePrimitives(installed);
  }
  const hermes = hermesRun(packageRoot(), pubPem, envelopes);
  for (const n of SIZES) {
    const kib = (envelopes.get(n)!.length / 1024).toFixed(0);
    const h = typeof hermes === 'string' ? undefined : hermes.get(n);
    const label = `sdk/core verify+apply, ${n.toLocaleString('en-US')} domain(s) (${kib} KiB)`;
    line(label, `hermes ${h === undefined ? 'n/a' : `${h} ms`}`, `node, same pure-JS code ${node.get(n)!.toFixed(1)} ms`, h === undefined ? NaN : h / node.get(n)!);
  }
  if (typeof hermes === 'string') console.log(`  (hermes skipped: ${hermes})`);
}
