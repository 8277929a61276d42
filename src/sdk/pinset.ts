/** Moved to the runtime-neutral core; re-exported for existing imports. */
export * from './core/pinset.js';
