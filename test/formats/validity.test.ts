/** The generated files are what each platform's parser accepts, whatever the certificate subjects say. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { PinSet } from '../../src/core/model.js';
import { Format, readConfig, renderConfig } from '../../src/formats/index.js';
import { parsePlist } from '../../src/formats/plist.js';
import { XmlElement, childElements, parseXml } from '../../src/formats/xml.js';
import { multiDomainPinSet } from './fixture.js';

/** Subjects are chosen by whoever issued the certificate: make them as hostile as possible. */
function hostile(): PinSet {
  const p = multiDomainPinSet('2027-06-30');
  const evil = `CN=a--b---c-, O=<x>&amp;"'\`$\{x}\\ \u0000\u0007 */ --> ]]>\nnext line\u2028sep\r\n// x-`;
  for (const d of p.domains) for (const pin of d.pins) if (pin.subject) pin.subject = evil;
  p.domains[0]!.pins[2]!.source = "backup'--key.pem\n";
  return p;
}

const sets: [string, PinSet][] = [['fixture', multiDomainPinSet('2027-06-30')], ['hostile subjects', hostile()]];
const xmlFormats: Format[] = ['android', 'ios', 'trustkit'];
const xmllint = spawnSync('xmllint', ['--version']).status === 0;
const python = spawnSync('python3', ['-c', 'import plistlib, xml.dom.minidom']).status === 0;
const work = mkdtempSync(join(tmpdir(), 'pinctl-formats-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(sets)('%s', (_name, pinSet) => {
  it.each(xmlFormats)('%s parses with pinctl’s XML parser, and comments never contain "--"', (format) => {
    const { content } = renderConfig(format, pinSet);
    expect(() => parseXml(content, format)).not.toThrow();
    for (const m of content.matchAll(/<!--([\s\S]*?)-->/g)) {
      expect(m[1]).not.toContain('--');
      expect(m[1]!.endsWith('-')).toBe(false);
      expect(m[1]).not.toContain('\n');
    }
    if (format !== 'android') expect(() => parsePlist(content, format)).not.toThrow();
    expect(readConfig(content, format).pinSet.domains.length).toBeGreaterThan(0);
  });

  it.skipIf(!xmllint).each(xmlFormats)('%s passes xmllint --noout', (format) => {
    const path = join(work, `${format}-${_name.replace(/\W/g, '')}.xml`);
    writeFileSync(path, renderConfig(format, pinSet).content);
    const r = spawnSync('xmllint', ['--noout', '--nonet', path], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  // A second, independent parser: Python's expat and plistlib (Apple's plist semantics), when present.
  it.skipIf(!python).each(xmlFormats)('%s parses with Python expat / plistlib', (format) => {
    const script = format === 'android'
      ? 'import sys, xml.dom.minidom as m; d = m.parseString(sys.stdin.buffer.read()); print(len(d.getElementsByTagName("domain")))'
      : 'import sys, plistlib; p = plistlib.loads(sys.stdin.buffer.read()); r = p.get("NSAppTransportSecurity", p.get("TSKConfiguration")); print(len(r.get("NSPinnedDomains", r.get("TSKPinnedDomains"))))';
    const r = spawnSync('python3', ['-c', script], { input: renderConfig(format, pinSet).content, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(String(pinSet.domains.length));
  });

  it('react-native output is syntactically valid TypeScript', () => {
    const { content } = renderConfig('react-native', pinSet);
    const out = ts.transpileModule(content, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    expect(out.diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
    // Every hash and domain made it into the code, not into a comment.
    const code = content.split('\n').map((l) => l.replace(/\/\/.*$/, '')).join('\n');
    for (const d of pinSet.domains) {
      expect(code).toContain(`'${d.domain}': {`);
      for (const p of d.pins) expect(code).toContain(`'${p.spkiSha256}',`);
    }
  });

  it('okhttp output has balanced brackets, one .add( line per distinct pin, and nothing in comments that ends them', () => {
    const { content } = renderConfig('okhttp', pinSet);
    const code = content.split('\n').map((l) => l.replace(/\/\/.*$/, '')).join('\n').replace(/"(?:[^"\\]|\\.)*"/g, '""');
    let depth = 0;
    for (const c of code) {
      if ('([{'.includes(c)) depth++;
      if (')]}'.includes(c)) depth--;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
    const adds = content.split('\n').filter((l) => l.trimStart().startsWith('.add('));
    const expected = pinSet.domains.flatMap((d) =>
      [...new Set(d.pins.map((p) => p.spkiSha256))].map((pin) => `.add("${d.includeSubdomains ? '**.' : ''}${d.domain}", "sha256/${pin}")`),
    );
    expect(adds.map((l) => l.trim().replace(/ \/\/.*$/, ''))).toEqual(expected);
    expect(content.split('\n').filter((l) => l.includes('.add(')).length).toBe(expected.length);
    expect(content).toMatch(/^import okhttp3\.CertificatePinner$/m);
    expect(content).toMatch(/^val certificatePinner: CertificatePinner = CertificatePinner\.Builder\(\)$/m);
    expect(content.trimEnd().endsWith('.build()')).toBe(true);
  });
});

describe('escaping', () => {
  it('hostile subjects stay inside XML comments: no new elements, no control characters', () => {
    for (const format of xmlFormats) {
      const text = renderConfig(format, hostile()).content;
      expect(text).not.toMatch(/[\u0000-\u0008]/);
      const names = new Set<string>();
      const walk = (el: XmlElement): void => {
        names.add(el.name);
        childElements(el).forEach(walk);
      };
      walk(parseXml(text, format).root);
      expect([...names].sort()).toEqual(
        format === 'android' ? ['domain', 'domain-config', 'network-security-config', 'pin', 'pin-set'] : ['array', 'dict', 'false', 'key', 'plist', 'string', 'true'],
      );
    }
  });

  it('keeps hostile subjects on their comment line in Kotlin and TypeScript', () => {
    for (const format of ['okhttp', 'react-native'] as const) {
      const lines = renderConfig(format, hostile()).content.split('\n');
      expect(lines.some((l) => l.startsWith('next line'))).toBe(false);
      expect(lines.join('\n')).not.toMatch(/[\u2028\u0000\r]/);
    }
  });
});
