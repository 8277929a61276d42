/**
 * pinctl/sdk/core: the runtime-neutral client (docs/SPEC.md) for Node, browsers and React Native
 * (Hermes). Imports src/bundle and src/errors only: no node: module, no Buffer, no CLI.
 */
export { createClient } from './client.js';
export type { CoreClient, CoreClientOptions, KeyValueStorage } from './client.js';
export { PinEngine, DEFAULT_GRACE_MS, DEFAULT_TIMEOUT_MS, embeddedTrust, parseTrustExpires } from './engine.js';
export type { BundleStatus, ClientStatus, EngineEffects, EngineOptions, Phase, ReactNativePinningOptions, RefreshResult, StalePolicy } from './engine.js';
export type { Baseline, BaselineDomain } from './pinset.js';
export { PinTable, normalizeHost } from './pinset.js';
export type { PinReport } from './report.js';
export { fetchTransport } from './transport.js';
export type { Download, DownloadOptions, FetchLike, FetchResponseLike, Transport } from './transport.js';
export { verifySignature } from '../../bundle/ed25519.js';
export { useHashes, type HashFunction } from '../../bundle/bytes.js';
export { usePrimitives, type NativePrimitives } from '../../bundle/primitives.js';
export { TrustedStore } from '../../bundle/trusted-store.js';
export type { AppliedBundle, StoreOptions } from '../../bundle/trusted-store.js';
export {
  AudienceError,
  BundleError,
  EnvelopeError,
  ExpiredError,
  FetchError,
  KeysetError,
  NotYetValidError,
  PayloadError,
  PayloadTypeError,
  RollbackError,
  SignatureError,
  TooLargeError,
  TrustExpiredError,
} from '../../bundle/errors.js';
export { PinctlError, InputError } from '../../errors.js';
