/**
 * Whatever a user hands `pinctl check`, the answer is an InputError that says what was expected
 * and what was found, with a hint: never a TypeError, never a hang, never an expanded entity.
 */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { readConfig, renderConfig } from '../../src/formats/index.js';
import { multiDomainPinSet, pinOf } from './fixture.js';
import { inputError } from './helpers.js';

const SOURCE = 'cfg';
const PIN = pinOf('leaf.pem');
const PIN2 = pinOf('intermediate.pem');
const pinSet = multiDomainPinSet('2027-06-30');
const valid = {
  android: renderConfig('android', pinSet).content,
  ios: renderConfig('ios', pinSet).content,
  trustkit: renderConfig('trustkit', pinSet).content,
  json: renderConfig('json', pinSet).content,
};

function rejects(text: string): void {
  const err = inputError(() => readConfig(text, SOURCE));
  expect(err.message.startsWith(`${SOURCE}:`), err.message).toBe(true);
  expect(err.message, err.message).toMatch(/expected/);
  expect(err.hint, err.message).toBeTruthy();
}

const nsc = (inner: string) => `<?xml version="1.0" encoding="utf-8"?>\n<network-security-config>\n${inner}\n</network-security-config>\n`;
const dc = (pins: string, domain = '<domain>example.com</domain>', attrs = '') => nsc(`<domain-config>${domain}<pin-set${attrs}>${pins}</pin-set></domain-config>`);
const pin = (value: string, digest = 'SHA-256') => `<pin digest="${digest}">${value}</pin>`;
const plist = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n${body}\n</plist>\n`;
const ats = (domainDict: string) => plist(`<dict><key>NSAppTransportSecurity</key><dict><key>NSPinnedDomains</key><dict><key>example.com</key>${domainDict}</dict></dict></dict>`);
const leafIds = (...values: string[]) => `<key>NSPinnedLeafIdentities</key><array>${values.map((v) => `<dict><key>SPKI-SHA256-BASE64</key><string>${v}</string></dict>`).join('')}</array>`;
const tsk = (policy: string) => plist(`<dict><key>TSKConfiguration</key><dict><key>TSKSwizzleNetworkDelegates</key><false/><key>TSKPinnedDomains</key><dict><key>example.com</key><dict>${policy}</dict></dict></dict></dict>`);
const hashes = (...values: string[]) => `<key>TSKPublicKeyHashes</key><array>${values.map((v) => `<string>${v}</string>`).join('')}</array>`;
const pinJson = { spkiSha256: PIN, role: 'leaf', subject: null, notAfter: null, source: 'x' };
const domainJson = { domain: 'example.com', includeSubdomains: false, pins: [pinJson], endpoints: [] };
const json = (patch: (doc: Record<string, any>) => void) => {
  const doc: Record<string, any> = JSON.parse(JSON.stringify({ format: 'pinctl.pins.v1', expiration: null, domains: [domainJson] }));
  patch(doc);
  return JSON.stringify(doc, null, 2);
};

const cases: [string, string][] = [
  // Nothing usable at all.
  ['empty file', ''],
  ['whitespace only', ' \n\t\n'],
  ['byte-order mark only', '\uFEFF'],
  ['plain text', 'api.example.com sha256/abc'],
  ['OkHttp Kotlin', renderConfig('okhttp', pinSet).content],
  ['React Native module', renderConfig('react-native', pinSet).content],
  ['NUL bytes', '\u0000\u0000\u0000'],
  ['binary plist', 'bplist00\u00d1\u0001\u0002_\u0010\u000fNSPinnedDomains'],
  ['oversized input', `<a>${'x'.repeat(4 * 1024 * 1024)}</a>`],
  // XML well-formedness.
  ['mismatched tags', nsc('<domain-config><domain>example.com</domain></pin-set></domain-config>')],
  ['closing tag with nothing open', '<network-security-config/></network-security-config>'],
  ['unclosed root', '<network-security-config><domain-config>'],
  ['two root elements', '<network-security-config/><network-security-config/>'],
  ['text outside the root', 'hello <network-security-config/>'],
  ['no root element', '<?xml version="1.0"?>\n<!-- nothing -->\n'],
  ['unterminated comment', nsc('<!-- never closed')],
  ['"--" inside a comment', nsc('<!-- a -- b -->')],
  ['unterminated CDATA', nsc('<domain-config><domain><![CDATA[example.com</domain></domain-config>')],
  ['"]]>" in text', nsc('<domain-config><domain>a]]>b</domain></domain-config>')],
  ['unterminated attribute value', '<network-security-config a="x>'],
  ['unquoted attribute value', '<network-security-config a=x>'],
  ['attribute without a value', '<network-security-config a>'],
  ['duplicate attribute', '<network-security-config a="1" a="2"/>'],
  ['"<" in an attribute value', '<network-security-config a="<"/>'],
  ['attributes without a space between them', '<network-security-config a="1"b="2"/>'],
  ['unterminated start tag', '<network-security-config'],
  ['unterminated processing instruction', '<?xml-stylesheet href="x"'],
  ['XML declaration not at the start', `\n${valid.android}`],
  ['XML declaration without a version', '<?xml encoding="utf-8"?><network-security-config/>'],
  ['UTF-16 declaration', '<?xml version="1.0" encoding="UTF-16"?><network-security-config/>'],
  ['control character', nsc('<domain-config><domain>exa\u0001mple.com</domain></domain-config>')],
  ['nesting 100 deep', `${'<a>'.repeat(100)}${'</a>'.repeat(100)}`],
  ['unsupported root element', '<html><body/></html>'],
  // Entities: only the five predefined ones, never a declared or external one.
  ['unknown entity', dc(pin(PIN), '<domain>example&nbsp;.com</domain>')],
  ['bare ampersand', dc(pin(PIN), '<domain>a&b.com</domain>')],
  ['character reference to NUL', dc(pin(PIN), '<domain>a&#0;.com</domain>')],
  ['character reference to a surrogate', dc(pin(PIN), '<domain>a&#xD800;.com</domain>')],
  ['<!ENTITY> in the document', `<!ENTITY xxe SYSTEM "file:///etc/passwd">\n${nsc('')}`],
  ['XXE through an internal subset', '<?xml version="1.0"?>\n<!DOCTYPE nsc [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<network-security-config><domain-config><domain>&xxe;</domain></domain-config></network-security-config>'],
  ['billion laughs', `<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n<network-security-config>&lol2;</network-security-config>`],
  ['external SYSTEM DOCTYPE', '<?xml version="1.0"?>\n<!DOCTYPE network-security-config SYSTEM "http://evil.example/x.dtd">\n<network-security-config/>'],
  ['external non-Apple PUBLIC DOCTYPE', '<!DOCTYPE plist PUBLIC "-//Evil//DTD X//EN" "http://evil.example/x.dtd"><plist><dict/></plist>'],
  ['Apple DOCTYPE on another root name', '<!DOCTYPE nsc PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd"><network-security-config/>'],
  ['two DOCTYPEs', '<!DOCTYPE plist><!DOCTYPE plist><plist><dict/></plist>'],
  // Android semantics.
  ['domain-config without a domain', nsc(`<domain-config><pin-set>${pin(PIN)}</pin-set></domain-config>`)],
  ['two pin-sets in one domain-config', nsc(`<domain-config><domain>example.com</domain><pin-set>${pin(PIN)}</pin-set><pin-set>${pin(PIN2)}</pin-set></domain-config>`)],
  ['SHA-1 digest', dc(pin(PIN, 'SHA-1'))],
  ['pin without a digest', dc(`<pin>${PIN}</pin>`)],
  ['pin of 43 characters', dc(pin(PIN.slice(1)))],
  ['pin of 45 characters', dc(pin(`A${PIN}`))],
  ['pin that is not base64', dc(pin(`${PIN.slice(0, 42)}!=`))],
  ['pin decoding to 31 bytes', dc(pin(`${'A'.repeat(42)}==`))],
  ['pin in OkHttp notation', dc(pin(`sha256/${PIN}`))],
  ['empty pin', dc(pin(''))],
  ['element inside a pin', dc(pin(`<b>${PIN}</b>`))],
  ['expiration month 13', dc(pin(PIN), undefined, ' expiration="2027-13-01"')],
  ['expiration on 30 February', dc(pin(PIN), undefined, ' expiration="2027-02-30"')],
  ['expiration in words', dc(pin(PIN), undefined, ' expiration="next year"')],
  ['includeSubdomains="yes"', dc(pin(PIN), '<domain includeSubdomains="yes">example.com</domain>')],
  ['empty domain', dc(pin(PIN), '<domain> </domain>')],
  ['domain with a scheme', dc(pin(PIN), '<domain>https://example.com</domain>')],
  ['wildcard domain', dc(pin(PIN), '<domain>*.example.com</domain>')],
  ['element inside a domain', dc(pin(PIN), '<domain><b>example.com</b></domain>')],
  ['same domain twice', nsc(`<domain-config><domain>example.com</domain><domain>EXAMPLE.com</domain><pin-set>${pin(PIN)}</pin-set></domain-config>`)],
  // Plist structure.
  ['plist with an unknown value element', plist('<dict><key>a</key><foo/></dict>')],
  ['plist with two root values', plist('<dict/><dict/>')],
  ['plist root of another name', '<plistx><dict/></plistx>'],
  ['dict key without a value', plist('<dict><key>NSAppTransportSecurity</key></dict>')],
  ['dict with two keys in a row', plist('<dict><key>a</key><key>b</key><string/></dict>')],
  ['dict with a value and no key', plist('<dict><string>x</string><string>y</string></dict>')],
  ['dict with the same key twice', plist('<dict><key>a</key><true/><key>a</key><false/></dict>')],
  ['text inside a dict', plist('<dict>stray<key>a</key><true/></dict>')],
  ['bad integer', plist('<dict><key>n</key><integer>12abc</integer></dict>')],
  ['bad real', plist('<dict><key>n</key><real>1.2.3</real></dict>')],
  ['bad date', plist('<dict><key>d</key><date>yesterday</date></dict>')],
  ['bad data', plist('<dict><key>d</key><data>!!!!</data></dict>')],
  ['content inside <true/>', plist('<dict><key>b</key><true>yes</true></dict>')],
  ['plist without pinning', plist('<dict><key>CFBundleName</key><string>App</string></dict>')],
  // iOS NSPinnedDomains.
  ['NSPinnedDomains as an array', plist('<dict><key>NSAppTransportSecurity</key><dict><key>NSPinnedDomains</key><array/></dict></dict>')],
  ['domain entry as a string', ats('<string>pins</string>')],
  ['NSIncludesSubdomains as a string', ats(`<dict><key>NSIncludesSubdomains</key><string>YES</string>${leafIds(PIN)}</dict>`)],
  ['neither identity list', ats('<dict><key>NSIncludesSubdomains</key><true/></dict>')],
  ['empty NSPinnedLeafIdentities', ats(`<dict>${leafIds()}</dict>`)],
  ['identity list as a dict', ats('<dict><key>NSPinnedCAIdentities</key><dict/></dict>')],
  ['identity without SPKI-SHA256-BASE64', ats('<dict><key>NSPinnedLeafIdentities</key><array><dict><key>SPKI-SHA256</key><string>x</string></dict></array></dict>')],
  ['identity as <data>', ats(`<dict><key>NSPinnedLeafIdentities</key><array><dict><key>SPKI-SHA256-BASE64</key><data>${PIN}</data></dict></array></dict>`)],
  ['short iOS pin', ats(`<dict>${leafIds(PIN.slice(0, 40))}</dict>`)],
  ['iOS domain with a port', plist(`<dict><key>NSAppTransportSecurity</key><dict><key>NSPinnedDomains</key><dict><key>example.com:443</key><dict>${leafIds(PIN)}</dict></dict></dict></dict>`)],
  // TrustKit.
  ['TSKPublicKeyHashes missing', tsk('<key>TSKIncludeSubdomains</key><true/>')],
  ['TSKPublicKeyHashes empty', tsk(hashes())],
  ['TSKPublicKeyHashes with an integer', tsk('<key>TSKPublicKeyHashes</key><array><integer>1</integer></array>')],
  ['TrustKit pin with whitespace inside', tsk(hashes(`${PIN.slice(0, 20)} ${PIN.slice(20)}`, PIN2))],
  ['TSKExpirationDate invalid', tsk(`<key>TSKExpirationDate</key><string>2027-02-29</string>${hashes(PIN, PIN2)}`)],
  ['TSKExpirationDate as a <date>', tsk(`<key>TSKExpirationDate</key><date>2027-06-30T00:00:00Z</date>${hashes(PIN, PIN2)}`)],
  ['TSKIncludeSubdomains as a string', tsk(`<key>TSKIncludeSubdomains</key><string>true</string>${hashes(PIN, PIN2)}`)],
  ['TSKPinnedDomains as a string', plist('<dict><key>TSKConfiguration</key><dict><key>TSKPinnedDomains</key><string>x</string></dict></dict>')],
  // JSON.
  ['JSON syntax error', '{"format": "pinctl.pins.v1",'],
  ['JSON array root', '[]'],
  ['JSON with a trailing comma', json(() => {}).replace(/\n}$/, ',\n}')],
  ['JSON format missing', json((d) => delete d.format)],
  ['JSON format v2', json((d) => (d.format = 'pinctl.pins.v2'))],
  ['JSON format as a number', json((d) => (d.format = 1))],
  ['JSON unknown top-level field', json((d) => (d.extra = true))],
  ['JSON expiration as a number', json((d) => (d.expiration = 20270630))],
  ['JSON expiration without padding', json((d) => (d.expiration = '2027-6-30'))],
  ['JSON domains as an object', json((d) => (d.domains = {}))],
  ['JSON no domains', json((d) => (d.domains = []))],
  ['JSON domain as a number', json((d) => (d.domains[0].domain = 42))],
  ['JSON includeSubdomains as a string', json((d) => (d.domains[0].includeSubdomains = 'true'))],
  ['JSON pins empty', json((d) => (d.domains[0].pins = []))],
  ['JSON pins as a string', json((d) => (d.domains[0].pins = PIN))],
  ['JSON short pin', json((d) => (d.domains[0].pins[0].spkiSha256 = PIN.slice(2)))],
  ['JSON pin with a prefix', json((d) => (d.domains[0].pins[0].spkiSha256 = `sha256/${PIN}`))],
  ['JSON unknown role', json((d) => (d.domains[0].pins[0].role = 'ca'))],
  ['JSON subject as a number', json((d) => (d.domains[0].pins[0].subject = 5))],
  ['JSON notAfter not a date', json((d) => (d.domains[0].pins[0].notAfter = 'soon'))],
  ['JSON source null', json((d) => (d.domains[0].pins[0].source = null))],
  ['JSON pin missing a field', json((d) => delete d.domains[0].pins[0].role)],
  ['JSON pin with an unknown field', json((d) => (d.domains[0].pins[0].algorithm = 'sha256'))],
  ['JSON port 0', json((d) => (d.domains[0].endpoints = [{ host: 'a', port: 0, addresses: [] }]))],
  ['JSON port as a string', json((d) => (d.domains[0].endpoints = [{ host: 'a', port: '443', addresses: [] }]))],
  ['JSON port 70000', json((d) => (d.domains[0].endpoints = [{ host: 'a', port: 70000, addresses: [] }]))],
  ['JSON address as a number', json((d) => (d.domains[0].endpoints = [{ host: 'a', port: 443, addresses: [1] }]))],
  ['JSON empty endpoint host', json((d) => (d.domains[0].endpoints = [{ host: '', port: 443, addresses: [] }]))],
  ['JSON same domain twice', json((d) => d.domains.push(d.domains[0]))],
  ['JSON __proto__ field', json(() => {}).replace('"format"', '"__proto__": {}, "format"')],
];

describe('malformed configs', () => {
  it('has at least 60 hand-written cases', () => expect(cases.length).toBeGreaterThanOrEqual(60));
  it.each(cases)('%s', (_name, text) => rejects(text));
});

describe('truncated configs', () => {
  for (const [format, step] of [['android', 7], ['ios', 13], ['trustkit', 13], ['json', 11]] as const) {
    const text = valid[format].trimEnd();
    const cuts: number[] = [];
    for (let i = 0; i < text.length; i += step) cuts.push(i);
    it(`${format}: every ${step}th cut (${cuts.length} cuts) is an InputError`, () => {
      for (const cut of cuts) {
        try {
          rejects(text.slice(0, cut));
        } catch (e) {
          throw new Error(`cut at ${cut}: ${(e as Error).message}`);
        }
      }
    });
  }
});

describe('mutated configs', () => {
  // A seeded generator, so a failure reproduces.
  let seed = 0x9e3779b9;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const noise = ['<', '>', '&', '"', "'", '/', '=', '!', '-', '[', ']', '?', ';', '#', '\u0000', '\n', 'x', '{', '}', ',', ':', '\\'];

  it.each(Object.keys(valid) as (keyof typeof valid)[])('%s: 400 random mutations either read or throw an InputError', (format) => {
    const base = valid[format];
    for (let n = 0; n < 400; n++) {
      let t = base;
      for (let k = 1 + rand(3); k > 0; k--) {
        const at = rand(t.length);
        const op = rand(3);
        if (op === 0) t = t.slice(0, at) + t.slice(at + 1 + rand(8));
        else if (op === 1) t = t.slice(0, at) + noise[rand(noise.length)] + t.slice(at);
        else t = t.slice(0, at) + t.slice(rand(t.length), rand(t.length)) + t.slice(at);
      }
      try {
        readConfig(t, SOURCE);
      } catch (e) {
        if (!(e instanceof InputError)) throw new Error(`mutation ${n} threw ${String(e)}\n${t}`);
      }
    }
  });
});

describe('pathological inputs finish fast', () => {
  const big = 1_000_000;
  const inputs: [string, string][] = [
    ['a long comment of dashes', `<a><!--${'-'.repeat(big)}`],
    ['a long unterminated attribute', `<a b="${'x'.repeat(big)}`],
    ['many ampersands', `<a>${'&amp;'.repeat(big / 5)}&</a>`],
    ['many small elements', `<network-security-config>${'<x/>'.repeat(big / 4)}`],
    ['many comments', `<a>${'<!-- c -->'.repeat(big / 10)}`],
    ['a deep JSON array', `${'['.repeat(big)}`],
  ];
  it.each(inputs)('%s', (_name, text) => {
    const start = performance.now();
    rejects(text);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('entities are never expanded', () => {
  it('does not resolve an internal entity even where the parser could', () => {
    const err = inputError(() => readConfig('<!DOCTYPE x [<!ENTITY e "example.com">]><network-security-config/>', SOURCE));
    expect(err.message).toMatch(/internal subset/);
  });
  it('names the unknown entity and its line', () => {
    const err = inputError(() => readConfig(nsc('<domain-config>\n<domain>&xxe;</domain></domain-config>'), SOURCE), 'CONFIG_MALFORMED');
    expect(err.message).toMatch(/line 4, column 9: .*unknown entity &xxe;/);
  });
});
