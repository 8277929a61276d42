/** Per-client token buckets (pure: the clock is passed in). Used for POST /v1/reports. */
import { isIP } from 'node:net';

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

/**
 * The rate-limit key of a client address: IPv4 as it is, IPv6 by its /64 prefix (one subscriber
 * usually holds a whole /64, so per-address buckets would give it 2^64 of them).
 */
export function rateLimitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = expandIPv6(address.split('%')[0]!);
  return groups ? `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64` : address;
}

/** "2001:db8::1" → its eight 16-bit groups; an embedded IPv4 tail counts as two. Null if malformed. */
function expandIPv6(address: string): number[] | null {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = `${text.slice(0, -v4[1]!.length)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const part = (h: string) => (h === '' ? [] : h.split(':').map((g) => Number.parseInt(g, 16)));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  const all = [...head, ...Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  return all.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? all : null;
}
