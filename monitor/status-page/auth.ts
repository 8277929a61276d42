/** The status page's optional access check: bearer token or basic auth, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { PageAuth } from '../config.js';

// Hashing first gives equal lengths, so the comparison time does not tell the secret's length.
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

export function authorized(auth: PageAuth | undefined, headers: IncomingHttpHeaders): boolean {
  if (!auth) return true;
  const h = headers.authorization ?? '';
  if (auth.kind === 'bearer') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m !== null && same(m[1]!, auth.token);
  }
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h);
  if (!m) return false;
  const pair = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = pair.indexOf(':');
  // Both halves compared, always: no early exit on the user name.
  return i >= 0 && [same(pair.slice(0, i), auth.user), same(pair.slice(i + 1), auth.password)].every(Boolean);
}

/** WWW-Authenticate for a 401: browsers prompt for basic; API clients read the scheme. */
export const challenge = (auth: PageAuth) =>
  auth.kind === 'basic' ? 'Basic realm="pinctl monitor", charset="UTF-8"' : 'Bearer realm="pinctl monitor"';
