/**
 * The timer behind automatic re-signing. The schedule itself is derived from the served bundles
 * (PinService.nextResignAt, SPEC §6.1: half of each bundle's own validity, from its stored issuedAt and
 * expiresAt), so it survives restarts; this only wakes up to look. It sleeps at most an hour at
 * a time, so a suspended machine or a clock step is noticed within the hour.
 */
import type { PinService } from './service.js';
import type { PublishOutcome } from './service.js';
import type { PublishType } from './routes.js';

export const RESIGN_MAX_SLEEP_MS = 3_600_000;

export interface Resigner {
  /** Look now (e.g. after the clock was changed in a test); resolves once any re-signing is done. */
  kick(): Promise<void>;
  stop(): void;
}

export function startResigner(service: PinService, onResult: (type: PublishType, outcome: PublishOutcome) => void, maxSleepMs = RESIGN_MAX_SLEEP_MS): Resigner {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const arm = () => {
    if (stopped) return;
    const now = service.now().getTime();
    const due = (['pins', 'trust-roots'] as const).map((t) => service.nextResignAt(t)).filter((t): t is number => t !== undefined);
    const next = due.length ? Math.min(...due) : Infinity;
    const delay = Math.max(0, Math.min(next - now, maxSleepMs));
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void tick(), delay);
    timer.unref();
  };
  const tick = (): Promise<void> =>
    (running = running.then(async () => {
      if (stopped) return;
      for (const { type, outcome } of await service.resignDue()) onResult(type, outcome);
      arm();
    }));
  arm();
  return {
    kick: tick,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
