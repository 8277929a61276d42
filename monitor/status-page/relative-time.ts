/** "3 d ago", "in 120 d": times as people read them on the status page and the --watch table. */
const UNITS: [number, string][] = [
  [365 * 86_400_000, 'y'],
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1000, 's'],
];

export function relativeTime(iso: string | null, now: Date): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const delta = t - now.getTime();
  const abs = Math.abs(delta);
  if (abs < 1000) return 'now';
  // Days up to two years: expiry is read in days ("in 420 d"), and years hide the month.
  const [size, unit] = UNITS.find(([s, u]) => abs >= s && (u !== 'y' || abs >= 2 * s)) ?? UNITS.at(-1)!;
  const n = Math.floor(abs / size);
  return delta < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}
