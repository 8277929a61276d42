/** Failure reports: the shape, and the throttle every sink goes through (one per kind a minute). */
export interface PinReport {
  type: 'pin-mismatch' | 'untrusted-root' | 'stale-bundle' | 'trust-expired';
  audience: string;
  /** ISO 8601 */
  time: string;
  domain?: string;
  port?: number;
  /** SPKI SHA-256 of the verified chain, leaf first. */
  chainPins?: string[];
  expectedPins?: string[];
  /** The bundle involved: the one in force, or (stale-bundle) the one that lapsed. */
  bundle?: { type: 'pins' | 'trust-roots'; version: number; expiresAt: string };
}

const THROTTLE_MS = 60_000;

/** Hands each report to `deliver` unless the same failure was reported less than a minute ago. */
export class ReportThrottle {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly now: () => Date,
    private readonly deliver: (r: PinReport) => void,
  ) {}

  send(report: PinReport): void {
    const key = JSON.stringify([report.type, report.domain, report.port, report.chainPins, report.bundle?.version]);
    const t = this.now().getTime();
    if (t - (this.recent.get(key) ?? -Infinity) < THROTTLE_MS) return;
    if (this.recent.size > 256) this.recent.clear();
    this.recent.set(key, t);
    try {
      this.deliver(report);
    } catch {
      /* a throwing callback must not break the check that called us */
    }
  }
}
