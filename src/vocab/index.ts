/** pinctl's shared vocabulary: host names, pins, durations and which domain rule governs a host. */
export * from './hostname.js';
export * from './public-suffix.js';
export * from './pin.js';
export * from './duration.js';
export * from './domain-rule.js';
