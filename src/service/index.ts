/** The signing service: store, payload builders, pre-publish guard, rate limiter, HTTP. */
export * from './time.js';
export * from './keys.js';
export * from './payloads.js';
export * from './guard.js';
export * from './rate-limit.js';
export * from './store.js';
export * from './routes.js';
export * from './service.js';
export * from './http.js';
export * from './fast-http.js';
export * from './static.js';
export * from './metrics.js';
export * from './resigner.js';
