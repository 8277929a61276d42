/**
 * The sweep schedule, driven by a monotonic timer and matched against the wall clock one second at
 * a time. node-cron's own timer keeps state in wall time: a step back of an hour stopped sweeps for
 * the hour, and a step forward of a year replayed a year of "missed execution" warnings. Here each
 * tick (about once a second, measured on the monotonic clock) asks only "does the cron expression
 * match the wall-clock second now?": after a step the schedule simply follows the new time, missed
 * runs are not replayed, and the step itself is reported once.
 */

export interface ScheduleClock {
  /** Wall clock, ms since the epoch (what cron expressions are about). */
  wallNow(): number;
  /** Monotonic clock, ms (never steps). */
  monoNow(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock = (wallNow: () => number = Date.now): ScheduleClock => ({
  wallNow,
  monoNow: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
});

export interface ScheduleOptions {
  /** Does the schedule fire at this wall-clock second (node-cron's matcher, with the timezone)? */
  matches: (at: Date) => boolean;
  fire: () => void;
  clock: ScheduleClock;
  /** The wall clock moved this many ms more (or less, when negative) than the monotonic clock. */
  onStep?: (deltaMs: number) => void;
}

/** A difference between the two clocks over one tick larger than this is a step, not jitter. */
export const STEP_THRESHOLD_MS = 5_000;

export function startSchedule(o: ScheduleOptions): { stop(): void } {
  const { clock } = o;
  let lastWall = clock.wallNow();
  let lastMono = clock.monoNow();
  let lastFiredSecond: number | null = null;
  let handle: unknown = null;
  let stopped = false;

  const tick = () => {
    if (stopped) return;
    const wall = clock.wallNow();
    const mono = clock.monoNow();
    const delta = wall - lastWall - (mono - lastMono);
    if (Math.abs(delta) > STEP_THRESHOLD_MS) {
      o.onStep?.(delta);
      lastFiredSecond = null; // after a step back, the same wall second may come round again
    }
    lastWall = wall;
    lastMono = mono;
    const second = Math.floor(wall / 1000);
    if (second !== lastFiredSecond && o.matches(new Date(second * 1000))) {
      lastFiredSecond = second;
      o.fire();
    }
    plan();
  };
  // Wake just after the next wall-clock second begins (at most a second away on the monotonic clock).
  const plan = () => {
    handle = clock.setTimer(tick, 1000 - (clock.wallNow() % 1000) + 5);
  };
  plan();
  return {
    stop() {
      stopped = true;
      if (handle !== null) clock.clearTimer(handle);
    },
  };
}
