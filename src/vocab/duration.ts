/**
 * The one duration grammar: a number and an optional unit, ms, s, m, h or d; a bare number is
 * seconds ("5", "2.5s", "500ms", "10m", "24h", "7d"). Each caller states the range it accepts.
 * Merged from three grammars: --timeout (ms|s), the monitor (ms|s|m|h|d) and --expires-in (m|h|d,
 * unit required); each kept its bounds, and --timeout and --expires-in now also take the units the
 * others did (a wider spelling of the same values, not a wider range).
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d{1,9}(?:\.\d{1,6})?)\s*(ms|s|m|h|d)?$/;

/** Milliseconds, or null when the text is not a duration (bounds are the caller's). */
export function parseDurationMs(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : null;
  if (typeof value !== 'string') return null;
  const m = DURATION.exec(value.trim());
  if (!m) return null;
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!);
  return ms > 0 ? ms : null;
}

/** "7d", "12h", "90s", "250ms": the largest unit that divides it. */
export function formatDuration(ms: number): string {
  for (const [u, n] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % n === 0) return `${ms / n}${u}`;
  }
  return `${ms}ms`;
}

export const DURATION_EXAMPLES = '500ms, 5s, 10m, 24h, 7d';
