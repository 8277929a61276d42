/**
 * Failure reports: handed to onReport and, when enabled, POSTed as JSON. Fire-and-forget and
 * bounded (few in flight, a short timeout, one per kind of failure a minute) so a failing host
 * cannot turn every request into a report.
 */
import http from 'node:http';
import https from 'node:https';

import { ReportThrottle, type PinReport } from './core/report.js';

export type { PinReport } from './core/report.js';

const MAX_IN_FLIGHT = 4;
const TIMEOUT_MS = 5_000;

export class Reporter {
  private inFlight = 0;
  private readonly throttle: ReportThrottle;

  constructor(uri: URL | undefined, onReport: ((r: PinReport) => void) | undefined, now: () => Date) {
    this.throttle = new ReportThrottle(now, (report) => {
      try {
        onReport?.(report);
      } catch {
        /* a throwing callback must not break the connection check that called us */
      }
      if (uri && this.inFlight < MAX_IN_FLIGHT) this.post(uri, JSON.stringify(report));
    });
  }

  send(report: PinReport): void {
    this.throttle.send(report);
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
