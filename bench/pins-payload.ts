/** The pins payload both bundle benches sign: n domains, two pins each, valid now for 30 days (SPEC §7.4 caps 366). */
import { createHash } from 'node:crypto';
import type { PinsPayload } from '../src/bundle/types.js';

const pin = (s: string) => createHash('sha256').update(s).digest('base64');
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

export function benchPinsPayload(n: number): PinsPayload {
  return {
    type: 'pins',
    audience: 'com.example.app',
    version: 1,
    issuedAt: rfc3339(Date.now() - 86_400_000),
    expiresAt: rfc3339(Date.now() + 30 * 86_400_000),
    domains: Array.from({ length: n }, (_, i) => ({ domain: `api${i}.example.com`, includeSubdomains: i % 2 === 0, pins: [pin(`a${i}`), pin(`b${i}`)] })),
  };
}
