/**
 * Failure reports: handed to onReport and, when enabled, POSTed as JSON. Fire-and-forget and
 * bounded (few in flight, a short timeout, one per kind of failure a minute) so a failing host
 * cannot turn every request into a report.
 */
import http from 'node:http';
import https from 'node:https';

export interface PinReport {
  type: 'pin-mismatch' | 'untrusted-root' | 'stale-bundle';
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

const MAX_IN_FLIGHT = 4;
const TIMEOUT_MS = 5_000;
const THROTTLE_MS = 60_000;

export class Reporter {
  private inFlight = 0;
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly uri: URL | undefined,
    private readonly onReport: ((r: PinReport) => void) | undefined,
    private readonly now: () => Date,
  ) {}

  send(report: PinReport): void {
    const key = JSON.stringify([report.type, report.domain, report.port, report.chainPins, report.bundle?.version]);
    const t = this.now().getTime();
    if (t - (this.recent.get(key) ?? -Infinity) < THROTTLE_MS) return;
    if (this.recent.size > 256) this.recent.clear();
    this.recent.set(key, t);
    try {
      this.onReport?.(report);
    } catch {
      /* a throwing callback must not break the connection check that called us */
    }
    if (this.uri && this.inFlight < MAX_IN_FLIGHT) this.post(this.uri, JSON.stringify(report));
  }

  private post(uri: URL, body: string): void {
    this.inFlight++;
    const req = (uri.protocol === 'https:' ? https : http).request(uri, {
      method: 'POST',
      agent: false,
      timeout: TIMEOUT_MS,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.inFlight--;
    };
    req.on('response', (res) => res.resume().on('end', finish).on('error', finish));
    req.on('timeout', () => req.destroy());
    req.on('error', finish);
    req.on('close', finish);
    req.end(body);
  }
}
