/**
 * XML property lists → JS values: dict → null-prototype object, array, string, true/false,
 * integer/real → number, date → Date, data → Uint8Array. Binary plists are refused with the
 * command that converts them, since that is what Xcode leaves in a built app.
 */
import { InputError } from '../errors.js';
import { XmlElement, childElements, parseXml, textContent } from './xml.js';

export type PlistValue = string | number | boolean | Date | Uint8Array | PlistValue[] | PlistDict;
export interface PlistDict {
  [key: string]: PlistValue;
}

const lines = new WeakMap<object, number>();

/** The line a dict or array started on, for error messages about what is inside it. */
export function plistLine(value: object): number | undefined {
  return lines.get(value);
}

export function isPlistDict(v: PlistValue | undefined): v is PlistDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array);
}

export function isBinaryPlist(text: string): boolean {
  return text.replace(/^\uFEFF/, '').startsWith('bplist');
}

export function parsePlist(text: string, source: string): PlistValue {
  if (isBinaryPlist(text)) {
    throw new InputError('CONFIG_UNSUPPORTED', `${source}: expected an XML property list, found a binary plist (bplist00)`, {
      hint: `convert it first: plutil -convert xml1 ${source}`,
    });
  }
  return plistFromRoot(parseXml(text, source).root, source);
}

/** The value of an already parsed <plist> document. */
export function plistFromRoot(root: XmlElement, source: string): PlistValue {
  if (root.name !== 'plist') fail(source, root, `expected a <plist> root element, found <${root.name}>`);
  const kids = childElements(root);
  if (kids.length !== 1 || hasText(root)) fail(source, root, `expected exactly one value inside <plist>, found ${kids.length}`);
  return value(kids[0]!, source);
}

function fail(source: string, el: XmlElement, message: string): never {
  throw new InputError('CONFIG_MALFORMED', `${source}: line ${el.line}: ${message}`, {
    hint: `check it with: plutil -lint ${source}`,
  });
}

function hasText(el: XmlElement): boolean {
  return el.children.some((c) => c.type === 'text' && /\S/.test(c.text));
}

function leafText(el: XmlElement, source: string): string {
  const t = textContent(el);
  if (t === null) fail(source, el, `expected only text inside <${el.name}>, found elements`);
  return t;
}

function value(el: XmlElement, source: string): PlistValue {
  switch (el.name) {
    case 'dict': return dict(el, source);
    case 'array': {
      if (hasText(el)) fail(source, el, 'expected only values inside <array>, found text');
      const arr = childElements(el).map((c) => value(c, source));
      lines.set(arr, el.line);
      return arr;
    }
    case 'string': return leafText(el, source);
    case 'true':
    case 'false':
      if (hasText(el) || childElements(el).length > 0) fail(source, el, `expected an empty <${el.name}/>, found content`);
      return el.name === 'true';
    case 'integer': {
      const t = leafText(el, source).trim();
      if (!/^[+-]?(?:\d+|0x[0-9a-fA-F]+)$/.test(t)) fail(source, el, `expected an integer, found "${t.slice(0, 40)}"`);
      const n = t.replace(/^[+-]/, '').startsWith('0x') ? (t.startsWith('-') ? -1 : 1) * parseInt(t.replace(/^[+-]?0x/, ''), 16) : Number(t);
      if (!Number.isSafeInteger(n)) fail(source, el, `expected an integer that fits in 53 bits, found ${t.slice(0, 40)}`);
      return n;
    }
    case 'real': {
      const t = leafText(el, source).trim();
      const n = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t) ? Number(t) : NaN;
      if (Number.isNaN(n)) fail(source, el, `expected a real number, found "${t.slice(0, 40)}"`);
      return n;
    }
    case 'date': {
      const t = leafText(el, source).trim();
      const d = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(t) ? new Date(t) : null;
      if (!d || Number.isNaN(d.getTime())) fail(source, el, `expected a date like 2027-06-30T00:00:00Z, found "${t.slice(0, 40)}"`);
      return d;
    }
    case 'data': {
      const t = leafText(el, source).replace(/\s+/g, '');
      if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(t)) fail(source, el, 'expected base64 inside <data>');
      return new Uint8Array(Buffer.from(t, 'base64'));
    }
    default:
      return fail(source, el, `expected a plist value (dict, array, string, true, false, integer, real, date, data), found <${el.name}>`);
  }
}

function dict(el: XmlElement, source: string): PlistDict {
  if (hasText(el)) fail(source, el, 'expected only <key> and values inside <dict>, found text');
  const out = Object.create(null) as PlistDict;
  lines.set(out, el.line);
  const kids = childElements(el);
  for (let i = 0; i < kids.length; i += 2) {
    const k = kids[i]!;
    if (k.name !== 'key') fail(source, k, `expected <key> in <dict>, found <${k.name}>`);
    const key = leafText(k, source);
    const v = kids[i + 1];
    if (!v) fail(source, k, `expected a value after <key>${key}</key>, found </dict>`);
    if (v.name === 'key') fail(source, v, `expected a value after <key>${key}</key>, found another <key>`);
    if (Object.prototype.hasOwnProperty.call(out, key)) fail(source, k, `expected each key once in a <dict>, found "${key}" twice`);
    out[key] = value(v, source);
  }
  return out;
}
