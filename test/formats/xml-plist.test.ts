import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePlist, plistLine } from '../../src/formats/plist.js';
import { findPackageRoot, loadTemplate, templatesDirectory } from '../../src/formats/templates.js';
import { TEMPLATE_FILES } from '../../src/formats/index.js';
import { XmlElement, childElements, parseXml, textContent } from '../../src/formats/xml.js';
import { inputError } from './helpers.js';

describe('xml parser', () => {
  it('decodes the predefined entities and character references, in text and attributes', () => {
    const { root } = parseXml(`<r a='&lt;&#65;&#x42;&quot;'>&amp;&apos;&gt;&#x1F600;</r>`, 't');
    expect(root.attrs.a).toBe('<AB"');
    expect(textContent(root)).toBe("&'>😀");
  });

  it('keeps CDATA verbatim, skips comments, PIs and the Apple DOCTYPE', () => {
    const doc = parseXml(
      '<?xml version="1.0" encoding="UTF-8"?>\n<!-- top -->\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<?pi data?>\n<plist><s><![CDATA[a<b>&amp;]]><!-- c -->tail</s></plist>\n<!-- after -->\n',
      't',
    );
    expect(doc.doctype).toBe('plist');
    expect(textContent(childElements(doc.root)[0]!)).toBe('a<b>&amp;tail');
  });

  it('records element lines after CRLF normalization and normalizes attribute whitespace', () => {
    const { root } = parseXml('<r>\r\n<a\r\n b="x\ty\nz"/>\r\n<c/></r>', 't');
    const [a, c] = childElements(root) as [XmlElement, XmlElement];
    expect([root.line, a.line, c.line]).toEqual([1, 2, 5]);
    expect(a.attrs.b).toBe('x y z');
  });

  it('treats attribute names like __proto__ as plain data', () => {
    const { root } = parseXml('<r __proto__="x" constructor="y"/>', 't');
    expect(root.attrs.__proto__).toBe('x');
    expect(Object.keys(root.attrs)).toEqual(['__proto__', 'constructor']);
  });

  it('gives line and column of errors', () => {
    expect(inputError(() => parseXml('<a>\n  <b>\n</a>', 'f.xml'), 'CONFIG_MALFORMED').message).toBe(
      'f.xml: line 3, column 1: expected </b> to close <b> from line 2, found </a>',
    );
  });
});

describe('plist reader', () => {
  it('reads every value type', () => {
    const v = parsePlist(
      `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>
        <key>s</key><string>a &amp; b</string><key>e</key><string/><key>t</key><true/><key>f</key><false/>
        <key>i</key><integer>-42</integer><key>h</key><integer>0x1F</integer><key>r</key><real>1.5e3</real>
        <key>d</key><date>2027-06-30T12:00:00Z</date><key>b</key><data>AAEC
        Aw==</data><key>a</key><array><string>x</string><dict/></array></dict></plist>`,
      't',
    ) as Record<string, unknown>;
    expect(v).toEqual(
      Object.assign(Object.create(null), {
        s: 'a & b', e: '', t: true, f: false, i: -42, h: 31, r: 1500,
        d: new Date('2027-06-30T12:00:00Z'), b: new Uint8Array([0, 1, 2, 3]), a: ['x', Object.create(null)],
      }),
    );
    expect(plistLine(v)).toBe(1);
    expect(plistLine(v.a as object)).toBe(5);
  });

  it('refuses binary plists with the conversion command', () => {
    const err = inputError(() => parsePlist('bplist00\u0000\u0001', 'Info.plist'), 'CONFIG_UNSUPPORTED');
    expect(err.hint).toBe('convert it first: plutil -convert xml1 Info.plist');
  });
});

describe('template loader', () => {
  const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

  it('finds the package root from src/formats and from the compiled dist/src/formats', () => {
    expect(findPackageRoot(join(root, 'src', 'formats'))).toBe(root);
    expect(findPackageRoot(join(root, 'dist', 'src', 'formats'))).toBe(root);
    expect(templatesDirectory()).toBe(join(root, 'templates'));
  });

  it('loads every template and refuses paths', () => {
    for (const name of Object.values(TEMPLATE_FILES)) expect(loadTemplate(name).length).toBeGreaterThan(100);
    inputError(() => loadTemplate('../package.json'), 'USAGE');
    inputError(() => loadTemplate('missing.tmpl'), 'INPUT_NOT_FOUND');
  });
});
