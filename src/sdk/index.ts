/**
 * pinctl/sdk: fetch, verify, persist and enforce signed pin bundles (docs/SPEC.md). Imports only
 * src/bundle, pure src/core code and undici: never the CLI, src/net or src/formats.
 */
export { PinClient, DEFAULT_GRACE_MS, DEFAULT_TIMEOUT_MS } from './client.js';
export type { BundleStatus, ClientStatus, Phase, PinClientOptions, ReactNativePinningOptions, RefreshResult, StalePolicy } from './client.js';
export type { Baseline, BaselineDomain } from './core/pinset.js';
export type { PinReport } from './report.js';
export { PinningDispatcher } from './agents.js';
export { verifySignature } from '../bundle/ed25519.js';
export * from './errors.js';
