/**
 * `pinctl serve --root-keyset FILE` (SPEC §7.7 step 3): the current keyset, signed offline by the
 * root keys, checked before the service starts. The service cannot verify root signatures (it does
 * not hold the root keys; clients do); it checks what it can: the type, audience, lifetime (§7.4),
 * freshness, the version against its history, and that it signs with keys the keyset names.
 */
import { InputError } from '../errors.js';
import { parseEnvelope } from '../bundle/envelope.js';
import { MAX_LIFETIME_MS, decodePayload } from '../bundle/payload.js';
import { PAYLOAD_TYPES, type KeysetPayload } from '../bundle/types.js';
import type { Signer } from '../bundle/sign.js';

const HINT_SIGN = 'sign a keyset naming the new key on the offline machine: pinctl bundle create --keyset NEW.pub.pem --key ROOT.key --version V+1 --audience APP --expires-in 365d';

export function checkRootKeyset(bytes: Uint8Array, o: { audience: string; signers: Signer[]; now: Date; file: string }): KeysetPayload {
  let ks: KeysetPayload;
  try {
    const env = parseEnvelope(bytes);
    if (env.payloadType !== PAYLOAD_TYPES.keyset) throw new Error(`payloadType ${env.payloadType}, not a keyset`);
    ks = decodePayload(env.payload, 'keyset');
  } catch (e) {
    throw new InputError('USAGE', `--root-keyset ${o.file}: expected a signed keyset (DSSE envelope), ${e instanceof Error ? e.message : String(e)}`, { hint: HINT_SIGN });
  }
  if (ks.audience !== o.audience) throw new InputError('USAGE', `--root-keyset ${o.file}: expected audience ${JSON.stringify(o.audience)}, found ${JSON.stringify(ks.audience)}`, { hint: HINT_SIGN });
  if (Date.parse(ks.expiresAt) - Date.parse(ks.issuedAt) > MAX_LIFETIME_MS) {
    throw new InputError('USAGE', `--root-keyset ${o.file}: valid from ${ks.issuedAt} to ${ks.expiresAt}, expected at most 366 days (SPEC §7.4)`, { hint: HINT_SIGN });
  }
  if (Date.parse(ks.expiresAt) <= o.now.getTime()) throw new InputError('USAGE', `--root-keyset ${o.file}: keyset v${ks.version} expired at ${ks.expiresAt}`, { hint: HINT_SIGN });
  const ours = o.signers.filter((s) => ks.keys.some((k) => k.keyid === s.keyid));
  if (ours.length < ks.threshold) {
    throw new InputError('USAGE', `--root-keyset ${o.file}: keyset v${ks.version} names ${ks.keys.map((k) => k.keyid.slice(0, 16)).join(', ')} with threshold ${ks.threshold}; this service signs with ${o.signers.map((s) => s.keyid.slice(0, 16)).join(', ')} (${ours.length} of them named)`, {
      hint: `start serve with --key of a signing key the keyset names, or ${HINT_SIGN}`,
    });
  }
  return ks;
}
