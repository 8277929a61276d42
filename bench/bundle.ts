/**
 * Bundle verification cost by size, against a bare node:crypto Ed25519 verify of the same bytes,
 * with the primitives the Node SDK installs. "verify" is TrustedStore.verify (SPEC §4 steps 1–10,
 * applied in memory); "+ pin index" adds what the SDK does before its first lookup (PinTable).
 * The key was checked once, when the keyset was embedded (SPEC §2.3; cached per key, as in the SDK).
 */
import { generateKeyPairSync, verify as cryptoVerify, createPublicKey } from 'node:crypto';
import { TrustedStore } from '../src/bundle/trusted-store.js';
import { embeddedKeyset } from '../src/bundle/keys.js';
import { signEnvelope, signerFromPem } from '../src/bundle/sign.js';
import { serializeEnvelope } from '../src/bundle/envelope.js';
import { encodePayload } from '../src/bundle/payload.js';
import { PAYLOAD_TYPES } from '../src/bundle/types.js';
import { pae } from '../src/bundle/pae.js';
import { benchPinsPayload } from './pins-payload.js';
import { PinTable } from '../src/sdk/core/pinset.js';
import '../src/bundle/node-primitives.js'; // as the Node SDK verifies: node:crypto and Buffer

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function benchBundleVerify(line: (label: string, ours: string, base: string, ratio: number, target?: string) => void): void {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = signerFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  for (const n of [1, 100, 10_000]) {
    // Only the bytes are kept: the signer's 10,000-domain object is garbage before the timed rounds
    // (a verifying app holds no such object, and every full GC would otherwise trace it).
    const body = encodePayload(benchPinsPayload(n));
    const env = signEnvelope(PAYLOAD_TYPES.pins, body, [signer]);
    const bytes = new Uint8Array(Buffer.from(serializeEnvelope(env)));
    const rounds = n >= 10_000 ? 21 : 200;
    const ours: number[] = [];
    const applied: number[] = [];
    const bare: number[] = [];
    const key = createPublicKey(pubPem);
    const keyset = embeddedKeyset([pubPem]);
    for (let r = 0; r < rounds; r++) {
      const store = new TrustedStore({ audience: 'com.example.app', keyset, maxBytes: 16 << 20 });
      let t = performance.now();
      const { bundle } = store.verify('pins', bytes, new Date());
      ours.push(performance.now() - t);
      if (!new PinTable(bundle.payload.domains).lookup(`api${n - 1}.example.com`)) throw new Error('bench: pin index misses a domain');
      applied.push(performance.now() - t);
      t = performance.now();
      cryptoVerify(null, pae(env.payloadType, body), key, env.signatures[0]!.sig);
      bare.push(performance.now() - t);
    }
    const o = median(ours);
    const b = median(bare);
    const size = `${n.toLocaleString('en-US')} domain(s) (${(bytes.length / 1024).toFixed(0)} KiB)`;
    const target = n === 10_000 ? '< 20 ms' : undefined;
    line(`bundle verify, ${size}`, `${o.toFixed(3)} ms`, `bare Ed25519 verify ${b.toFixed(3)} ms`, o / b, target);
    if (n === 10_000) line(`  + pin index, ${size}`, `${median(applied).toFixed(3)} ms`, `bare Ed25519 verify ${b.toFixed(3)} ms`, median(applied) / b, target);
  }
}
