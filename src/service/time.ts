/** Bundle validity: `--expires-in` durations and RFC 3339 UTC timestamps without milliseconds (SPEC §3). */
import { InputError } from '../errors.js';
import { parseDurationMs } from '../vocab/duration.js';

export const MIN_VALIDITY_MS = 60_000;
export const MAX_VALIDITY_MS = 366 * 86_400_000;

/** `30m`, `12h`, `7d` → milliseconds (1 minute to 366 days). */
export function parseExpiresIn(value: string, flag = '--expires-in'): number {
  // src/vocab/duration.ts, the one duration grammar (bounds below are this flag's own).
  const ms = parseDurationMs(value, { units: ['m', 'h', 'd'], requireUnit: true, integer: true });
  if (ms === null) throw new InputError('USAGE', `${flag} ${value}: expected a number and a unit: 30m, 12h or 7d`);
  if (ms < MIN_VALIDITY_MS || ms > MAX_VALIDITY_MS) {
    throw new InputError('USAGE', `${flag} ${value}: expected a validity from 1m to 366d`, { hint: 'clients refuse an expired bundle; a week (7d) with a daily publish is typical' });
  }
  return ms;
}

/** RFC 3339 UTC, whole seconds: 2026-11-22T12:00:00Z. */
export function rfc3339(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** issuedAt = now (to the second), expiresAt = issuedAt + validity. */
export function validity(now: Date, validityMs: number): { issuedAt: string; expiresAt: string } {
  const issued = Math.floor(now.getTime() / 1000) * 1000;
  return { issuedAt: rfc3339(new Date(issued)), expiresAt: rfc3339(new Date(issued + validityMs)) };
}
