/**
 * The one duration grammar: a number and an optional unit, ms, s, m, h or d; a bare number is
 * seconds ("5", "2.5s", "500ms", "10m", "24h", "7d"). Each caller states the range it accepts.
 * Merged from three grammars: --timeout (ms|s), the monitor (ms|s|m|h|d) and --expires-in (m|h|d,
 * unit required, whole numbers). A narrower caller keeps its narrower spelling through `rules`
 * (--expires-in still refuses "7" and "1.5h": a bundle validity typed without a unit is more
 * likely a mistake than seven seconds).
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d{1,9}(?:\.\d{1,6})?)\s*(ms|s|m|h|d)?$/;

export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

export interface DurationRules {
  /** Units this caller accepts (default: all). */
  units?: readonly DurationUnit[];
  /** A bare number is refused instead of read as seconds. */
  requireUnit?: boolean;
  /** Whole numbers only. */
  integer?: boolean;
}

/** Milliseconds, or null when the text is not a duration (bounds are the caller's). */
export function parseDurationMs(value: unknown, rules: DurationRules = {}): number | null {
  if (typeof value === 'number') {
    if (rules.requireUnit || (rules.integer && !Number.isInteger(value))) return null;
    return Number.isFinite(value) && value > 0 ? Math.round(value * 1000) : null;
  }
  if (typeof value !== 'string') return null;
  const m = DURATION.exec(value.trim());
  if (!m) return null;
  if (rules.requireUnit && m[2] === undefined) return null;
  if (rules.units && !rules.units.includes((m[2] ?? 's') as DurationUnit)) return null;
  if (rules.integer && m[1]!.includes('.')) return null;
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!);
  return ms > 0 ? ms : null;
}

/** "7d", "12h", "90s", "250ms": the largest unit that divides it. */
export function formatDuration(ms: number): string {
  for (const [u, n] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % n === 0) return `${ms / n}${u}`;
  }
  return `${ms}ms`;
}

export const DURATION_EXAMPLES = '500ms, 5s, 10m, 24h, 7d';
