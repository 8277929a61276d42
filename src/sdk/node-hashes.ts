/** The Node SDK hashes with node:crypto (installed once, on import); see useHashes in src/bundle/bytes.ts. */
import { createHash } from 'node:crypto';
import { useHashes } from '../bundle/bytes.js';

const digest = (algorithm: string) => (bytes: Uint8Array) => {
  const d = createHash(algorithm).update(bytes).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};

useHashes({ sha256: digest('sha256'), sha512: digest('sha512') });
