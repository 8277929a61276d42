/** Per-client token buckets (pure: the clock is passed in). Used for POST /v1/reports. */

export interface RateLimitOptions {
  /** Burst size: requests a fresh client may make at once. */
  capacity: number;
  /** Tokens added per second. */
  refillPerSecond: number;
  /** Clients tracked at most; full (idle) buckets are dropped first. */
  maxClients?: number;
}

export type TakeResult = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  private readonly ratePerMs: number;
  private readonly maxClients: number;

  constructor(opts: RateLimitOptions, private readonly now: () => number = Date.now) {
    if (!(opts.capacity >= 1) || !(opts.refillPerSecond > 0)) throw new RangeError('rate limit: capacity ≥ 1 and refillPerSecond > 0 expected');
    this.capacity = opts.capacity;
    this.ratePerMs = opts.refillPerSecond / 1000;
    this.maxClients = opts.maxClients ?? 10_000;
  }

  /** `N/min`-style limits: N requests per minute, bursts of N. */
  static perMinute(n: number, now?: () => number): TokenBucketLimiter {
    return new TokenBucketLimiter({ capacity: n, refillPerSecond: n / 60 }, now);
  }

  take(key: string): TakeResult {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxClients) this.evict(t);
      b = { tokens: this.capacity, at: t };
    } else {
      b.tokens = Math.min(this.capacity, b.tokens + Math.max(0, t - b.at) * this.ratePerMs);
      b.at = t;
      this.buckets.delete(key); // re-insert: Map order doubles as least-recently-used order
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, remaining: Math.floor(b.tokens) };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / this.ratePerMs / 1000)) };
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(t: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (t - b.at) * this.ratePerMs >= this.capacity) this.buckets.delete(k);
    }
    // Still full: drop the least recently seen clients (they get a fresh bucket if they return).
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < this.maxClients) break;
      this.buckets.delete(k);
    }
  }
}

/** "10/min", "2/s", "600/h" or a bare number (per minute) → bucket settings; null when malformed. */
export function parseRate(value: string): { capacity: number; refillPerSecond: number } | null {
  const m = /^(\d{1,7})(?:\/(s|sec|min|m|h|hour))?$/.exec(value.trim());
  if (!m) return null;
  const n = Number(m[1]);
  if (n < 1) return null;
  const per = m[2] === 's' || m[2] === 'sec' ? 1 : m[2] === 'h' || m[2] === 'hour' ? 3600 : 60;
  return { capacity: n, refillPerSecond: n / per };
}
