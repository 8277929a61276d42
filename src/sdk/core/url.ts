/**
 * The service base URL: query and fragment dropped, a trailing `/v1/bundles/pins` tolerated.
 * Uses the URL class where the runtime has one (Node, React Native's polyfill), else a strict
 * pattern (Hermes alone has no URL).
 */
import { InputError } from '../../errors.js';

const HTTP_URL = /^(https?):\/\/([^/?#\s@]+)([^?#\s]*)(?:[?#]\S*)?$/i;
type UrlClass = new (u: string) => { protocol: string; search: string; hash: string; href: string };

export function serviceBase(url: unknown): string {
  const URLClass = (globalThis as { URL?: UrlClass }).URL;
  const bad = () => new InputError('CONFIG_MALFORMED', `url: expected an http(s) URL, found ${JSON.stringify(url)}`);
  if (typeof url !== 'string') throw bad();
  let href: string;
  if (URLClass) {
    let u: InstanceType<UrlClass>;
    try {
      u = new URLClass(url);
    } catch {
      throw bad();
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError('CONFIG_MALFORMED', `url: expected http: or https:, found ${u.protocol}`);
    u.search = '';
    u.hash = '';
    href = u.href;
  } else {
    const m = HTTP_URL.exec(url.trim());
    if (!m) throw bad();
    href = `${m[1]!.toLowerCase()}://${m[2]!.toLowerCase()}${m[3]!}`;
  }
  return href.replace(/\/+$/, '').replace(/\/v1\/bundles\/pins$/, '');
}
