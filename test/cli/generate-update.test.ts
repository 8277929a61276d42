/** generate, day two: --update, refusals, pins by value, TrustKit reporting, trust anchors, new formats, small fixes. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { OPENSSL_PINS, opensslPin, pkiFile } from '../helpers/fixtures.js';

const HOST = 'api.example.com';
const INTER = () => opensslPin('intermediate.pem');
const ROOT = () => opensslPin('root.pem');
const BACKUP = () => opensslPin('backup.key');
const OLD = `${'A'.repeat(43)}=`;
const OLD2 = `${'B'.repeat(42)}E=`;
const fromFiles = () => [HOST, '--cert', pkiFile('chain.pem'), '--ca-file', pkiFile('root.pem'), '--backup-key', pkiFile('backup.key'), '--expiration', '2031-01-31'];
const tmp = () => mkdtempSync(join(tmpdir(), 'pinctl-gen2-'));

const HAND_WRITTEN = `<?xml version="1.0" encoding="utf-8"?>
<network-security-config>
  <base-config cleartextTrafficPermitted="false" />
  <domain-config cleartextTrafficPermitted="true">
    <domain includeSubdomains="false">10.0.2.2</domain>
  </domain-config>
  <domain-config>
    <domain includeSubdomains="false">${HOST}</domain>
    <pin-set>
      <pin digest="SHA-256">${OLD}</pin>
      <pin digest="SHA-256">${OLD2}</pin>
    </pin-set>
  </domain-config>
  <debug-overrides>
    <trust-anchors>
      <certificates src="user" />
    </trust-anchors>
  </debug-overrides>
</network-security-config>
`;

describe('generate --update FILE', () => {
  it('replaces the domain-config of the generated domain only, atomically, and prints the unified diff', async () => {
    const dir = tmp();
    const file = join(dir, 'network_security_config.xml');
    writeFileSync(file, HAND_WRITTEN);
    const r = await cli(['generate', ...fromFiles(), '--update', file]);
    expect(r.code, r.stderr).toBe(0);
    const after = readFileSync(file, 'utf8');
    for (const kept of ['<base-config cleartextTrafficPermitted="false" />', '<domain includeSubdomains="false">10.0.2.2</domain>', '<certificates src="user" />']) expect(after).toContain(kept);
    expect(after).toContain(`<pin digest="SHA-256">${INTER()}</pin>`);
    expect(after).not.toContain(OLD);
    expect(r.stdout).toMatch(/^--- a\/network_security_config\.xml\n\+\+\+ b\/network_security_config\.xml\n@@ /);
    expect(r.stdout).toContain(`-      <pin digest="SHA-256">${OLD}</pin>`);
    expect(r.stderr).toContain(`updated ${file} (replaced ${HOST})`);
    expect(r.stderr).toContain(`next: pinctl check ${file}`);
    expect(readdir(dir)).toEqual(['network_security_config.xml']); // no temporary file left behind
  });
  it('--dry-run prints the diff and writes nothing', async () => {
    const file = join(tmp(), 'network_security_config.xml');
    writeFileSync(file, HAND_WRITTEN);
    const r = await cli(['generate', ...fromFiles(), '--update', file, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(HAND_WRITTEN);
    expect(r.stdout).toContain(`+      <pin digest="SHA-256">${INTER()}</pin>`);
    expect(r.stderr).toMatch(/dry run: .* not written/);
  });
  it('--json carries the diff, what was replaced and added', async () => {
    const file = join(tmp(), 'network_security_config.xml');
    writeFileSync(file, HAND_WRITTEN);
    const r = await cli(['generate', ...fromFiles(), 'new.example.com', '--update', file, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.update).toMatchObject({ path: file, written: false, replaced: [HOST], added: ['new.example.com'] });
    expect(doc.update.diff).toContain('+    <domain includeSubdomains="false">new.example.com</domain>');
  });
  it('takes the format from the file and refuses a contradicting --format, --out, or --dry-run alone', async () => {
    const file = join(tmp(), 'nsc.xml');
    writeFileSync(file, HAND_WRITTEN);
    expect((await cli(['generate', ...fromFiles(), '--update', file, '--format', 'ios'])).stderr).toMatch(/--format ios: .* is a android config/);
    expect((await cli(['generate', ...fromFiles(), '--update', file, '--out', tmp()])).code).toBe(2);
    expect((await cli(['generate', ...fromFiles(), '--dry-run'])).code).toBe(2);
  });
  it('refuses a file it cannot read back safely (exit 2) and leaves it as it was', async () => {
    const file = join(tmp(), 'nsc.xml');
    writeFileSync(file, HAND_WRITTEN.replace('</network-security-config>', ''));
    const r = await cli(['generate', ...fromFiles(), '--update', file]);
    expect(r.code).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe(HAND_WRITTEN.replace('</network-security-config>', ''));
  });
});

function readdir(dir: string): string[] {
  return (spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean);
}

describe('generate --out over existing files', () => {
  it('refuses (exit 2, with a hint naming --update and --force) to replace a file pinctl did not write', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'network_security_config.xml'), HAND_WRITTEN);
    const r = await cli(['generate', ...fromFiles(), '--format', 'android,json', '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --out .*network_security_config\.xml exists and was not written by pinctl/);
    expect(r.stderr).toMatch(/hint: .*--update .*--force/);
    expect(readFileSync(join(dir, 'network_security_config.xml'), 'utf8')).toBe(HAND_WRITTEN);
    expect(existsSync(join(dir, 'pins.json'))).toBe(false); // checked before anything is written
  });
  it('replaces a file pinctl wrote, and any file with --force', async () => {
    const dir = tmp();
    expect((await cli(['generate', ...fromFiles(), '--format', 'android', '--out', dir])).code).toBe(0);
    expect((await cli(['generate', ...fromFiles(), '--format', 'android', '--out', dir])).code).toBe(0);
    writeFileSync(join(dir, 'network_security_config.xml'), HAND_WRITTEN);
    expect((await cli(['generate', ...fromFiles(), '--format', 'android', '--out', dir, '--force'])).code).toBe(0);
    expect(readFileSync(join(dir, 'network_security_config.xml'), 'utf8')).toContain('Generated by pinctl');
  });
});

describe('pins by value', () => {
  it('--backup-pin adds the value as a backup ("sha256/" accepted); a bad value is exit 2', async () => {
    const r = await cli(['generate', HOST, '--cert', pkiFile('chain.pem'), '--ca-file', pkiFile('root.pem'), '--backup-pin', `sha256/${BACKUP()}`, '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const pins = JSON.parse(r.stdout).domains[0].pins;
    expect(pins.find((p: { spkiSha256: string }) => p.spkiSha256 === BACKUP())).toMatchObject({ role: 'backup', source: '--backup-pin' });
    const bad = await cli(['generate', HOST, '--cert', pkiFile('chain.pem'), '--backup-pin', 'abc']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--backup-pin abc: expected a pin/);
  });
  it('--keep-pins-from keeps every pin the shipped config has for the domain (here via a parent with includeSubdomains)', async () => {
    const shipped = join(tmp(), 'shipped.xml');
    writeFileSync(shipped, HAND_WRITTEN.replace(`<domain includeSubdomains="false">${HOST}</domain>`, '<domain includeSubdomains="true">example.com</domain>'));
    const r = await cli(['generate', HOST, '--cert', pkiFile('chain.pem'), '--ca-file', pkiFile('root.pem'), '--keep-pins-from', shipped, '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const pins = JSON.parse(r.stdout).domains[0].pins as { spkiSha256: string; role: string; source: string }[];
    expect(pins.filter((p) => p.role === 'backup').map((p) => p.spkiSha256)).toEqual([OLD, OLD2]);
    expect(pins[pins.length - 1]!.source).toBe('kept from shipped.xml (example.com)');
    expect(r.stderr).not.toContain('[no-backup]');
  });
  it('an absolute --backup-key path is not written into shipped configs, only its file name', async () => {
    const r = await cli(['generate', ...fromFiles(), '--format', 'json,android']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(pkiFile('backup.key'));
    expect(r.stdout).toContain('"source": "backup.key"');
  });
});

describe('TrustKit reporting and trust anchors', () => {
  it('--report-uri and --report-only', async () => {
    const r = await cli(['generate', ...fromFiles(), '--format', 'trustkit', '--report-uri', 'https://reports.example.com/pin', '--report-only']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('<key>TSKDisableDefaultReportUri</key>\n\t\t\t\t<true/>');
    expect(r.stdout).toContain('<string>https://reports.example.com/pin</string>');
    expect(r.stdout).toContain('<key>TSKEnforcePinning</key>\n\t\t\t\t<false/>');
    expect((await cli(['generate', ...fromFiles(), '--format', 'trustkit', '--report-uri', 'not a url'])).code).toBe(2);
  });
  it('a private CA warns private-ca-needs-trust-anchor; --trust-anchor writes res/raw/ and <trust-anchors>', async () => {
    const plain = await cli(['generate', ...fromFiles(), '--format', 'android'], { env: { SSL_CERT_FILE: pkiFile('intermediate.pem') } });
    expect(plain.stderr).toContain('[private-ca-needs-trust-anchor]');
    const res = join(tmp(), 'res');
    mkdirSync(join(res, 'xml'), { recursive: true });
    const r = await cli(['generate', ...fromFiles(), '--format', 'android,trustkit', '--out', join(res, 'xml'), '--trust-anchor', pkiFile('root.pem'), '--debug-overrides', pkiFile('root.pem')], { env: { SSL_CERT_FILE: pkiFile('intermediate.pem') } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('[private-ca-needs-trust-anchor]');
    const xml = readFileSync(join(res, 'xml', 'network_security_config.xml'), 'utf8');
    expect(xml).toContain('<trust-anchors>\n            <certificates src="@raw/pinctl_root" />');
    expect(xml).toContain('<debug-overrides>');
    const raw = readFileSync(join(res, 'raw', 'pinctl_root.pem'), 'utf8');
    const der = (pem: string) => spawnSync('openssl', ['x509', '-outform', 'DER'], { input: pem }).stdout.toString('base64');
    expect(der(raw)).toBe(der(readFileSync(pkiFile('root.pem'), 'utf8')));
    expect(readFileSync(join(res, 'xml', 'TrustKit.plist'), 'utf8')).toContain('<key>TSKAdditionalTrustAnchors</key>');
  });
});

describe('new formats', () => {
  it('flutter writes certificate SHA-256 fingerprints as openssl prints them, and says they are not SPKI pins', async () => {
    const r = await cli(['generate', ...fromFiles(), '--format', 'flutter']);
    expect(r.code, r.stderr).toBe(0);
    const hex = OPENSSL_PINS['intermediate.pem']![0]!.sha256Fingerprint!;
    expect(r.stdout).toContain(`'${hex.toUpperCase().match(/../g)!.join(':')}'`);
    expect(r.stdout).not.toContain(INTER());
    expect(r.stdout).toMatch(/NOT the SPKI pins/);
    expect(r.stderr).toContain('[flutter-certificate-fingerprints]');
    expect(r.stderr).toContain('[flutter-backup-omitted]');
  });
  it('expo writes a config plugin that node can load', async () => {
    const dir = tmp();
    const r = await cli(['generate', ...fromFiles(), '--format', 'expo', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    const file = join(dir, 'withPinctlPinning.js');
    expect(spawnSync(process.execPath, ['--check', file]).status).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain(ROOT());
  });
});

describe('small things', () => {
  it('pinctl help exits 0; no command at all is a usage error (2)', async () => {
    expect((await cli(['help'])).code).toBe(0);
    expect((await cli([])).code).toBe(2);
  });
  it('the next: hint after generate carries --port', async () => {
    const dir = tmp();
    const r = await cli(['generate', ...fromFiles(), '--format', 'android', '--out', dir, '--port', '8443']);
    expect(r.stderr).toContain(`next: pinctl check ${join(dir, 'network_security_config.xml')} --port 8443 --ca-file ${pkiFile('root.pem')}`);
  });
  it('pins HOST:PORT points to generate', async () => {
    const r = await cli(['pins', 'api.example.com:443']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/hint: to pin a live server: pinctl generate api\.example\.com:443/);
  });
  it('a host name with "_" is refused by generate (exit 2), as bundles and the SDK refuse it', async () => {
    const r = await cli(['generate', 'under_score.example.com', '--cert', pkiFile('chain.pem')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: under_score\.example\.com: expected a host name or IP address, found an "_"/);
  });
  it('bundle verify --json prints JSON on failure too', async () => {
    const bad = join(tmp(), 'bad.json');
    writeFileSync(bad, '{"payloadType":"x"}');
    const pub = pkiFile('root.pem');
    const r = await cli(['bundle', 'verify', bad, '--public-key', pub, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: false, exitCode: 2, error: { code: expect.any(String) } });
    expect(r.stderr).toMatch(/^error: /m);
  });
  it('npm pack ships docs/, examples/ and a LICENSE', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8', cwd: join(import.meta.dirname, '..', '..') });
    const files = (JSON.parse(r.stdout)[0].files as { path: string }[]).map((f) => f.path);
    expect(files).toContain('LICENSE');
    expect(files.some((f) => f.startsWith('docs/'))).toBe(true);
    expect(files.some((f) => f.startsWith('examples/'))).toBe(true);
    expect(files).toContain('templates/flutter.dart.tmpl');
  });
});
