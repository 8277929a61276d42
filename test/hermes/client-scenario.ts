/**
 * createClient end to end over an in-memory fetch and storage, with the manifest's vector files:
 * what a React Native app does (refresh, pinsFor, reactNativeConfig, restart from storage, a
 * forged bundle refused with the last good one kept). Runs under vitest and inside Hermes.
 */
import { createClient, type FetchLike } from '../../src/sdk/core/index.js';
import { utf8Decode } from '../../src/bundle/bytes.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export async function runClientScenario(files: Record<string, Uint8Array>, now: Date): Promise<Check[]> {
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail = '') => checks.push({ name, ok, detail });
  const routes = new Map<string, Uint8Array>([['/v1/bundles/pins', files['pins-v5.json']!]]);
  const requested: string[] = [];
  const fetch: FetchLike = async (url) => {
    const path = url.replace('https://pins.example.test', '');
    requested.push(path);
    const body = routes.get(path);
    return {
      status: body ? 200 : 404,
      headers: { get: () => null },
      arrayBuffer: async () => (body ?? new Uint8Array(0)).slice().buffer,
    };
  };
  const saved = new Map<string, string>();
  const storage = { get: async (k: string) => saved.get(k) ?? null, set: async (k: string, v: string) => void saved.set(k, v) };
  const options = { url: 'https://pins.example.test', publicKeys: [utf8Decode(files['key1.pub.pem']!)], audience: 'com.example.app', storage, fetch, now: () => now };

  const client = createClient(options);
  const r = await client.refresh();
  check('refresh applies pins-v5', r.pins === 'applied' && client.version === 5, JSON.stringify(r));
  check('keyset rotation asked for /v1/keyset/1 first', requested[0] === '/v1/keyset/1', requested.join(' '));
  check('pinsFor gives the two pins of api.pinctl.test', client.pinsFor('API.pinctl.test.').length === 2 && client.pinsFor('other.test').length === 0);
  const rn = client.reactNativeConfig();
  check('reactNativeConfig lists the domain', rn['api.pinctl.test']?.publicKeyHashes.length === 2, JSON.stringify(rn));
  check('the last good bundle is stored', saved.has('pinctl:pins'));

  const restarted = createClient(options);
  await restarted.ready();
  check('a new client restores version 5 from storage', restarted.version === 5, String(restarted.version));

  routes.set('/v1/bundles/pins', files['pins-v5-tampered-payload.json']!);
  let error = 'none';
  try {
    await restarted.refresh();
  } catch (e) {
    error = e instanceof Error ? e.name : String(e);
  }
  check('a tampered bundle is refused with SignatureError', error === 'SignatureError', error);
  check('the last good bundle stays in force', restarted.version === 5 && restarted.pinsFor('api.pinctl.test').length === 2);

  let thresholdError = 'none';
  try {
    createClient({ ...options, threshold: 2 });
  } catch (e) {
    thresholdError = e instanceof Error ? e.name : String(e);
  }
  check('threshold 2 with one root key is refused', thresholdError === 'InputError', thresholdError);
  return checks;
}
