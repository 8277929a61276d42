/**
 * A small strict XML parser for config files people hand us. Only what the formats use:
 * elements, attributes, text, CDATA, comments, processing instructions, the XML declaration, and
 * a DOCTYPE that is skipped. Entities are the five predefined ones and character references;
 * nothing is ever declared, fetched or expanded, so XXE and "billion laughs" have nothing to work
 * with. Every error is an InputError with a line and column. Scanning is linear: no input hangs it.
 */
import { InputError } from '../errors.js';

export interface XmlElement {
  type: 'element';
  name: string;
  /** Null-prototype record: attribute names like "__proto__" are plain keys. */
  attrs: Record<string, string>;
  children: XmlNode[];
  line: number;
  /** Offsets in the parsed text (BOM removed, line ends as \n): "<" of the start tag, and just past the end tag. */
  start?: number;
  end?: number;
}

export interface XmlText {
  type: 'text';
  text: string;
  line: number;
}

export type XmlNode = XmlElement | XmlText;

export interface XmlDocument {
  root: XmlElement;
  /** The DOCTYPE's name, when there was one (e.g. "plist"). */
  doctype: string | null;
}

export const MAX_XML_CHARS = 4 * 1024 * 1024;
const MAX_DEPTH = 64;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
/** The only DOCTYPEs with an external identifier we accept: Apple's plist DTD (never fetched). */
const PLIST_PUBLIC_IDS = ['-//Apple//DTD PLIST 1.0//EN', '-//Apple Computer//DTD PLIST 1.0//EN'];
const NAME_START = 'A-Za-z_:\\u00C0-\\uFFEF';
const NAME = new RegExp(`[${NAME_START}][${NAME_START}0-9.\\-\\u00B7]*`, 'y');
const REF = /&(?:#x([0-9A-Fa-f]{1,6})|#([0-9]{1,7})|([A-Za-z_:][\w.:-]*));/y;
const INVALID_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

class Parser {
  private readonly lineStarts: number[] = [0];
  pos = 0;

  constructor(readonly s: string, readonly source: string) {
    for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
  }

  line(pos: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  fail(pos: number, message: string, hint?: string): never {
    const line = this.line(pos);
    const col = pos - this.lineStarts[line - 1]! + 1;
    throw new InputError('CONFIG_MALFORMED', `${this.source}: line ${line}, column ${col}: ${message}`, {
      hint: hint ?? 'the XML is truncated or was edited by hand; check it with `xmllint --noout FILE` or regenerate it',
    });
  }

  found(pos: number): string {
    if (pos >= this.s.length) return 'the end of the file';
    return JSON.stringify(this.s.slice(pos, pos + 12));
  }

  name(what: string): string {
    NAME.lastIndex = this.pos;
    const m = NAME.exec(this.s);
    if (!m) this.fail(this.pos, `expected ${what}, found ${this.found(this.pos)}`);
    this.pos += m[0].length;
    return m[0];
  }

  skipSpace(): boolean {
    const start = this.pos;
    while (this.pos < this.s.length && ' \t\n'.includes(this.s[this.pos]!)) this.pos++;
    return this.pos > start;
  }

  expect(token: string, what = `"${token}"`): void {
    if (!this.s.startsWith(token, this.pos)) this.fail(this.pos, `expected ${what}, found ${this.found(this.pos)}`);
    this.pos += token.length;
  }

  /** Decodes entity and character references in s[start, end). */
  decode(start: number, end: number): string {
    const raw = this.s.slice(start, end);
    if (!raw.includes('&')) return raw;
    let out = '';
    let last = 0;
    for (let i = raw.indexOf('&'); i !== -1; i = raw.indexOf('&', last)) {
      out += raw.slice(last, i);
      REF.lastIndex = i;
      const m = REF.exec(raw);
      if (!m) this.fail(start + i, `expected an entity reference such as &amp; after "&", found ${JSON.stringify(raw.slice(i, i + 12))}`, 'write a literal & as &amp;');
      if (m[3] !== undefined) {
        const v = PREDEFINED[m[3]];
        if (v === undefined) {
          this.fail(start + i, `expected one of &lt; &gt; &amp; &quot; &apos;, found the unknown entity &${m[3]};`, 'pinctl never expands declared entities; write the text itself');
        }
        out += v;
      } else {
        const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2]!, 10);
        const ok = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
        if (!ok) this.fail(start + i, `expected a reference to an XML character, found ${m[0]}`);
        out += String.fromCodePoint(cp);
      }
      last = i + m[0].length;
    }
    return out + raw.slice(last);
  }
}

export function parseXml(input: string, source: string): XmlDocument {
  if (input.length > MAX_XML_CHARS) {
    throw new InputError('TOO_LARGE', `${source}: expected a config file of at most ${MAX_XML_CHARS} characters, found ${input.length}`, {
      hint: 'pass the config file itself (network_security_config.xml, Info.plist, pins.json), not a bundle or archive',
    });
  }
  // XML normalizes line ends before parsing; a leading byte-order mark is not content.
  const s = input.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const p: Parser = new Parser(s, source);
  const bad = INVALID_CHAR.exec(s);
  if (bad) p.fail(bad.index, `expected text, found the control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`);
  if (/^<\?xml[\s?]/.test(s)) declaration(p);

  let root: XmlElement | null = null;
  let doctype: string | null = null;
  const stack: { el: XmlElement; pos: number }[] = [];
  while (p.pos < s.length) {
    const lt = s.indexOf('<', p.pos);
    const textEnd = lt === -1 ? s.length : lt;
    if (textEnd > p.pos) text(p, stack.at(-1)?.el, textEnd);
    if (lt === -1) break;
    p.pos = lt;
    if (s.startsWith('<!--', lt)) {
      const end = s.indexOf('-->', lt + 4);
      if (end === -1) p.fail(lt, 'expected "-->" to close this comment, found the end of the file');
      const dash = s.slice(lt + 4, end).indexOf('--');
      if (dash !== -1) p.fail(lt + 4 + dash, 'expected a comment without "--" inside, found "--"');
      if (s[end - 1] === '-' && end - 1 >= lt + 4) p.fail(end - 1, 'expected a comment not ending in "-", found "--->"');
      p.pos = end + 3;
    } else if (s.startsWith('<![CDATA[', lt)) {
      const parent = stack.at(-1)?.el;
      if (!parent) p.fail(lt, 'expected CDATA only inside an element, found it outside the root element');
      const end = s.indexOf(']]>', lt + 9);
      if (end === -1) p.fail(lt, 'expected "]]>" to close this CDATA section, found the end of the file');
      appendText(parent, s.slice(lt + 9, end), p.line(lt));
      p.pos = end + 3;
    } else if (s.startsWith('<!DOCTYPE', lt)) {
      if (root || doctype !== null) p.fail(lt, 'expected at most one DOCTYPE, before the root element');
      doctype = doctypeDecl(p);
    } else if (s.startsWith('<!', lt)) {
      p.fail(lt, `expected an element, comment or CDATA, found ${p.found(lt)}`, 'DTD declarations such as <!ENTITY> are not accepted in config files');
    } else if (s.startsWith('<?', lt)) {
      const end = s.indexOf('?>', lt + 2);
      if (end === -1) p.fail(lt, 'expected "?>" to close this processing instruction, found the end of the file');
      p.pos = lt + 2;
      const target = p.name('a processing instruction target');
      if (target.toLowerCase() === 'xml') p.fail(lt, 'expected the XML declaration only at the very start of the file');
      p.pos = end + 2;
    } else if (s.startsWith('</', lt)) {
      p.pos = lt + 2;
      const name = p.name('an element name after "</"');
      p.skipSpace();
      p.expect('>', `">" to end </${name}`);
      const open = stack.pop();
      if (!open) p.fail(lt, `expected no closing tag here, found </${name}> with no open element`);
      if (open.el.name !== name) p.fail(lt, `expected </${open.el.name}> to close <${open.el.name}> from line ${open.el.line}, found </${name}>`);
      open.el.end = p.pos;
    } else {
      if (root && stack.length === 0) p.fail(lt, `expected one root element, found a second one after </${root.name}>`);
      const { el, selfClosing } = startTag(p);
      el.start = lt;
      if (selfClosing) el.end = p.pos;
      const parent = stack.at(-1)?.el;
      if (parent) parent.children.push(el);
      else root = el;
      if (!selfClosing) {
        if (stack.length >= MAX_DEPTH) p.fail(lt, `expected elements nested at most ${MAX_DEPTH} deep, found deeper nesting`);
        stack.push({ el, pos: lt });
      }
    }
  }
  const open = stack.at(-1);
  if (open) p.fail(s.length, `expected </${open.el.name}> to close <${open.el.name}> from line ${open.el.line}, found the end of the file`);
  if (!root) p.fail(s.length, 'expected an XML root element, found none');
  return { root, doctype };
}

function declaration(p: Parser): void {
  const end = p.s.indexOf('?>');
  if (end === -1) p.fail(0, 'expected "?>" to close the XML declaration, found the end of the file');
  const decl = p.s.slice(0, end);
  if (!/\sversion\s*=\s*(["'])1\.[0-9]+\1/.test(decl)) p.fail(0, 'expected version="1.0" in the XML declaration');
  const enc = /\sencoding\s*=\s*(["'])([^"']*)\1/.exec(decl);
  if (enc && !/^(utf-8|us-ascii|ascii)$/i.test(enc[2]!)) {
    throw new InputError('CONFIG_UNSUPPORTED', `${p.source}: line 1: expected a UTF-8 XML file, found encoding="${enc[2]}"`, {
      hint: 'convert it: iconv -t UTF-8 FILE, and change the declaration to encoding="UTF-8"',
    });
  }
  p.pos = end + 2;
}

function doctypeDecl(p: Parser): string {
  const start = p.pos;
  p.pos += '<!DOCTYPE'.length;
  if (!p.skipSpace()) p.fail(p.pos, `expected a space after <!DOCTYPE, found ${p.found(p.pos)}`);
  const name = p.name('a DOCTYPE name');
  p.skipSpace();
  const literal = (): string => {
    const q = p.s[p.pos];
    if (q !== '"' && q !== "'") p.fail(p.pos, `expected a quoted identifier, found ${p.found(p.pos)}`);
    const end = p.s.indexOf(q, p.pos + 1);
    if (end === -1) p.fail(p.pos, 'expected the closing quote of this identifier, found the end of the file');
    const v = p.s.slice(p.pos + 1, end);
    p.pos = end + 1;
    p.skipSpace();
    return v;
  };
  let publicId: string | null = null;
  let external = false;
  if (p.s.startsWith('PUBLIC', p.pos)) {
    p.pos += 6;
    p.skipSpace();
    publicId = literal();
    literal();
    external = true;
  } else if (p.s.startsWith('SYSTEM', p.pos)) {
    p.pos += 6;
    p.skipSpace();
    literal();
    external = true;
  }
  if (p.s[p.pos] === '[') {
    p.fail(p.pos, 'expected a DOCTYPE without an internal subset, found "[" (entity or DTD declarations)', 'pinctl never expands declared entities; remove the [...] part');
  }
  if (external && !(name === 'plist' && publicId !== null && PLIST_PUBLIC_IDS.includes(publicId))) {
    p.fail(start, `expected no DOCTYPE or Apple's plist DOCTYPE, found an external DTD reference for <${name}>`, 'external DTDs are never loaded; remove the DOCTYPE line');
  }
  p.expect('>', '">" to end the DOCTYPE');
  return name;
}

function startTag(p: Parser): { el: XmlElement; selfClosing: boolean } {
  const line = p.line(p.pos);
  p.pos++;
  const el: XmlElement = { type: 'element', name: p.name('an element name after "<"'), attrs: Object.create(null) as Record<string, string>, children: [], line };
  for (;;) {
    const spaced = p.skipSpace();
    if (p.s.startsWith('/>', p.pos)) { p.pos += 2; return { el, selfClosing: true }; }
    if (p.s[p.pos] === '>') { p.pos += 1; return { el, selfClosing: false }; }
    if (p.pos >= p.s.length) p.fail(p.pos, `expected ">" to end <${el.name}>, found the end of the file`);
    if (!spaced) p.fail(p.pos, `expected a space, ">" or "/>" in <${el.name}>, found ${p.found(p.pos)}`);
    const at = p.pos;
    const name = p.name(`an attribute name or ">" in <${el.name}>`);
    p.skipSpace();
    p.expect('=', `"=" after the attribute ${name}`);
    p.skipSpace();
    const q = p.s[p.pos];
    if (q !== '"' && q !== "'") p.fail(p.pos, `expected a quoted value for ${name}, found ${p.found(p.pos)}`);
    const end = p.s.indexOf(q, p.pos + 1);
    if (end === -1) p.fail(p.pos, `expected the closing ${q} of the ${name} value, found the end of the file`);
    const lt = p.s.slice(p.pos + 1, end).indexOf('<');
    if (lt !== -1) p.fail(p.pos + 1 + lt, `expected no "<" inside the ${name} value, found one`);
    if (Object.prototype.hasOwnProperty.call(el.attrs, name)) p.fail(at, `expected each attribute once, found ${name} twice in <${el.name}>`);
    el.attrs[name] = p.decode(p.pos + 1, end).replace(/[\t\n]/g, ' ');
    p.pos = end + 1;
  }
}

function text(p: Parser, parent: XmlElement | undefined, end: number): void {
  const start = p.pos;
  if (!parent) {
    if (/\S/.test(p.s.slice(start, end))) {
      const at = start + p.s.slice(start, end).search(/\S/);
      p.fail(at, `expected only markup outside the root element, found text ${p.found(at)}`);
    }
    p.pos = end;
    return;
  }
  const cdataEnd = p.s.slice(start, end).indexOf(']]>');
  if (cdataEnd !== -1) p.fail(start + cdataEnd, 'expected "]]>" only to close a CDATA section, found it in text');
  appendText(parent, p.decode(start, end), p.line(start));
  p.pos = end;
}

function appendText(parent: XmlElement, value: string, line: number): void {
  const last = parent.children.at(-1);
  if (last?.type === 'text') last.text += value;
  else parent.children.push({ type: 'text', text: value, line });
}

/** Element children only (text between them is layout). */
export function childElements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => c.type === 'element');
}

/** Concatenated text content of an element, or null when it has element children. */
export function textContent(el: XmlElement): string | null {
  let out = '';
  for (const c of el.children) {
    if (c.type === 'element') return null;
    out += c.text;
  }
  return out;
}
