/**
 * Node processes hash with node:crypto: import this module once for its effect (the Node SDK does;
 * the CLI and the service may). Never imported by the runtime-neutral path; see useHashes in bytes.ts.
 */
import { createHash } from 'node:crypto';
import { useHashes } from './bytes.js';

const digest = (algorithm: string) => (bytes: Uint8Array) => {
  const d = createHash(algorithm).update(bytes).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};

useHashes({ sha256: digest('sha256'), sha512: digest('sha512') });
