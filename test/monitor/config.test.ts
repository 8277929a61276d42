import { describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { generateKeyPairSync } from 'node:crypto';
import { loadConfig, parseConfig } from '../../monitor/config.js';
import { signEnvelope, signerFromPem } from '../../src/bundle/sign.js';
import { serializeEnvelope } from '../../src/bundle/envelope.js';
import { encodePayload } from '../../src/bundle/payload.js';
import { PAYLOAD_TYPES } from '../../src/bundle/types.js';
import { opensslPin } from '../helpers/fixtures.js';
import { NOW, monitorCli, pkiFile, tempDir, writeConfig } from './helpers.js';
import { InputError } from '../../src/errors.js';

const EXAMPLES = resolve(import.meta.dirname, '..', '..', 'examples');
const opts = (cwd: string, env: Record<string, string> = {}) => ({ cwd, env, now: NOW });

function parse(yaml: string, env: Record<string, string> = {}, cwd = tempDir()) {
  return parseConfig(yaml, 'monitor.yaml', opts(cwd, env));
}
function problem(yaml: string, env: Record<string, string> = {}, cwd?: string): string {
  try {
    parse(yaml, env, cwd);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a config error');
}

const MIN = `schedule: "*/30 * * * * *"\nendpoints:\n  - host: api.pinctl.test\n    addresses: [127.0.0.1]\n`;

describe('monitor config', () => {
  it('accepts the acceptance-check shape from the issue, in YAML and JSON', () => {
    const dir = tempDir();
    copyFileSync(pkiFile('roots.pem'), join(dir, 'roots.pem'));
    const yaml = `
schedule: "*/30 * * * * *"          # node-cron syntax, seconds field allowed
state: ./pinctl-state                # where the embedded database lives
expiryWarningDays: [30, 14, 7]
metrics: { listen: "127.0.0.1:9464" }
alerts:
  email: { smtp: "smtp://127.0.0.1:2525", from: "pinctl@example.test", to: ["ops@example.test"] }
  webhook: { url: "http://127.0.0.1:9000/hook" }
endpoints:
  - host: api.example.com
    port: 443
    addresses: [203.0.113.10]
    caFile: ./roots.pem
    pins: ["${opensslPin('intermediate.pem')}", "${opensslPin('root.pem')}"]
`;
    const cfg = parseConfig(yaml, 'monitor.yaml', opts(dir));
    expect(cfg.schedule).toBe('*/30 * * * * *');
    expect(cfg.state).toBe(join(dir, 'pinctl-state'));
    expect(cfg.expiryWarningDays).toEqual([30, 14, 7]);
    expect(cfg.metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(cfg.alerts.email).toMatchObject({ smtp: 'smtp://127.0.0.1:2525', from: 'pinctl@example.test', to: ['ops@example.test'] });
    expect(cfg.alerts.webhook).toMatchObject({ url: 'http://127.0.0.1:9000/hook' });
    expect(cfg.endpoints[0]).toMatchObject({ id: 'api.example.com:443', host: 'api.example.com', sni: 'api.example.com', port: 443, addresses: ['203.0.113.10'], caFile: join(dir, 'roots.pem') });
    expect(cfg.endpoints[0]!.pins!.pins.map((p) => p.spkiSha256)).toEqual([opensslPin('intermediate.pem'), opensslPin('root.pem')]);

    const json = JSON.stringify({ schedule: '*/30 * * * * *', endpoints: [{ host: 'api.example.com', addresses: ['203.0.113.10'], pins: [opensslPin('root.pem')] }] });
    expect(parseConfig(json, 'monitor.json', opts(dir)).endpoints[0]!.port).toBe(443);
  });

  it('loads the documented examples', () => {
    const y = loadConfig(join(EXAMPLES, 'monitor.yaml'), { env: {}, cwd: EXAMPLES, now: NOW });
    expect(y.endpoints).toHaveLength(1);
    expect(y.alerts.email).toMatchObject({ password: null, requireTLS: false }); // a loopback relay
    expect(y.endpoints[0]!.expiryWarningDays).toEqual([60, 30, 14, 7]);
    const j = loadConfig(join(EXAMPLES, 'monitor.json'), { env: {}, cwd: EXAMPLES, now: NOW });
    expect(j.endpoints[0]!.caFile).toBe(resolve(EXAMPLES, '../fixtures/pki/roots.pem'));
  });

  it('names the path of every bad field', () => {
    const msg = problem(`
schedule: "*/30 * * * * *"
retries: -1
alerts:
  email: { smtp: "http://x", from: "nobody", to: [] }
endpoints:
  - host: api.pinctl.test
    port: 70000
    adresses: [127.0.0.1]
  - host: "https://bad/"
    pins: ["short"]
`);
    expect(msg).toContain('retries: expected a whole number from 0 to 10, found -1');
    expect(msg).toContain('alerts.email.smtp: expected a smtp: or smtps: URL');
    expect(msg).toContain('alerts.email.from: expected an email address');
    expect(msg).toContain('alerts.email.to: expected an email address or a list of them');
    expect(msg).toContain('endpoints[0].port: expected a whole number from 1 to 65535, found 70000');
    expect(msg).toContain('endpoints[0].adresses: unknown key (did you mean "addresses"?)');
    expect(msg).toContain('endpoints[1].host: expected a host name or IP address');
    expect(msg).toContain('endpoints[1].pins[0]: expected a base64 SHA-256 SPKI pin');
  });
  it('probeThreads: auto (the default) leaves one CPU to the monitor; a number is taken as given', () => {
    expect(parse(MIN).probeThreads).toBe(Math.max(1, availableParallelism() - 1));
    expect(parse(`probeThreads: auto\n${MIN}`).probeThreads).toBe(Math.max(1, availableParallelism() - 1));
    expect(parse(`probeThreads: 3\n${MIN}`).probeThreads).toBe(3);
    expect(problem(`probeThreads: 0\n${MIN}`)).toContain('probeThreads: expected `auto` or a whole number from 1 to 64, found 0');
  });

  it('rejects unknown keys at every level, bad cron, missing keys and bad YAML', () => {
    expect(problem(`${MIN}colour: blue\n`)).toContain('colour: unknown key');
    expect(problem(`${MIN}metrics: { listen: "127.0.0.1:9464", path: /m }\n`)).toContain('metrics.path: unknown key');
    expect(problem(MIN.replace('*/30 * * * * *', '61 * * * *'))).toContain('schedule: expected a valid cron expression');
    expect(problem(MIN.replace('*/30 * * * * *', 'every minute'))).toContain('schedule: expected a valid cron expression');
    expect(problem(`endpoints: []\n`)).toMatch(/schedule: required.*endpoints: expected a non-empty list/);
    expect(problem(`schedule: "* * * * *"\nendpoints:\n  - port: 443\n`)).toContain('endpoints[0].host: required');
    expect(problem(`schedule: "* * * * *"\nschedule: "* * * * *"\n`)).toMatch(/line 2.*not valid YAML or JSON/);
    expect(problem(`schedule: */5 * * * *\n`)).toMatch(/not valid YAML or JSON/);
    expect(problem(`${MIN}  - host: api.pinctl.test\n`)).toContain('endpoints[1]: api.pinctl.test:443 is already configured at endpoints[0]');
    expect(problem(`${MIN}    pins: ["${opensslPin('root.pem')}"]\n    pinsFrom: x.xml\n`)).toContain('give either `pins` or `pinsFrom`, not both');
    expect(problem(`${MIN}timeout: soon\n`)).toContain('timeout: expected a duration');
  });

  it('takes secrets from the environment and says which variable is missing', () => {
    const yaml = `${MIN}alerts:\n  email: { smtp: "smtp://ops@127.0.0.1:2525", from: "a@b.test", to: "c@d.test", passwordEnv: SMTP_PW }\n  webhook: { url: "http://127.0.0.1:9000/\${HOOK_PATH}", tokenEnv: HOOK_TOKEN }\n`;
    const cfg = parse(yaml, { SMTP_PW: 'pw', HOOK_PATH: 'services/T1', HOOK_TOKEN: 'tok' });
    expect(cfg.alerts.email).toMatchObject({ password: 'pw', to: ['c@d.test'] });
    expect(cfg.alerts.webhook).toMatchObject({ url: 'http://127.0.0.1:9000/services/T1', token: 'tok' });
    const msg = problem(yaml, {});
    expect(msg).toContain('alerts.email.passwordEnv: the environment variable SMTP_PW is not set');
    expect(msg).toContain('alerts.webhook.url: uses ${HOOK_PATH} but the environment variable HOOK_PATH is not set');
  });

  it('reads pins from the file the app ships', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'network_security_config.xml'),
      `<?xml version="1.0" encoding="utf-8"?>
<network-security-config>
  <domain-config>
    <domain includeSubdomains="true">pinctl.test</domain>
    <pin-set expiration="2030-01-01">
      <pin digest="SHA-256">${opensslPin('intermediate.pem')}</pin>
      <pin digest="SHA-256">${opensslPin('backup.key')}</pin>
    </pin-set>
  </domain-config>
</network-security-config>
`,
    );
    const cfg = parse(`${MIN}    pinsFrom: ./network_security_config.xml\n`, {}, dir);
    expect(cfg.endpoints[0]!.pins).toMatchObject({ format: 'android', semantics: 'any', expiration: '2030-01-01', source: './network_security_config.xml' });
    expect(cfg.endpoints[0]!.pins!.pins.map((p) => p.spkiSha256)).toEqual([opensslPin('intermediate.pem'), opensslPin('backup.key')]);
    expect(problem(`${MIN}    pinsFrom: ./missing.xml\n`, {}, dir)).toContain('endpoints[0].pinsFrom: cannot read ./missing.xml (ENOENT)');
    writeFileSync(join(dir, 'broken.xml'), '<network-security-config><domain-config>');
    expect(problem(`${MIN}    pinsFrom: ./broken.xml\n`, {}, dir)).toContain('endpoints[0].pinsFrom: cannot use ./broken.xml');
    expect(problem(`schedule: "* * * * *"\nendpoints:\n  - host: other.example\n    pinsFrom: ./network_security_config.xml\n`, {}, dir)).toContain('pins no domain matching other.example');
  });

  it('reads pins from a signed bundle and refuses a bundle signed by another key', () => {
    const dir = tempDir();
    const key = generateKeyPairSync('ed25519');
    const pem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(join(dir, 'signing.pub.pem'), key.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const payload = encodePayload({
      type: 'pins',
      audience: 'com.example.app',
      version: 3,
      issuedAt: '2026-05-01T00:00:00Z',
      expiresAt: '2026-05-08T00:00:00Z',
      domains: [{ domain: 'api.pinctl.test', includeSubdomains: false, pins: [opensslPin('intermediate.pem'), opensslPin('backup.key')] }],
    });
    writeFileSync(join(dir, 'pins.bundle'), serializeEnvelope(signEnvelope(PAYLOAD_TYPES.pins, payload, [signerFromPem(pem)])));
    const yaml = `${MIN}    pinsFrom: { bundle: ./pins.bundle, keys: [./signing.pub.pem], audience: com.example.app }\n`;
    const cfg = parse(yaml, {}, dir);
    expect(cfg.endpoints[0]!.pins).toMatchObject({ format: 'bundle', source: './pins.bundle' });
    expect(cfg.endpoints[0]!.pins!.pins.map((p) => p.spkiSha256)).toEqual([opensslPin('intermediate.pem'), opensslPin('backup.key')]);
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(join(dir, 'other.pub.pem'), other);
    expect(problem(yaml.replace('signing.pub.pem', 'other.pub.pem'), {}, dir)).toMatch(/endpoints\[0\]\.pinsFrom\.bundle: \.\/pins\.bundle: expected valid signatures/);
    expect(problem(yaml.replace('com.example.app }', 'com.other.app }'), {}, dir)).toContain('expected audience');
  });

  it('the CLI exits 2 with one error line and a hint on a bad config, before probing anything', async () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, `${MIN}    colour: blue\n`);
    let probed = 0;
    const r = await monitorCli(['monitor', 'once', '--config', cfg], { probe: async () => (probed++, Promise.reject(new Error('no'))) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*monitor\.yaml: endpoints\[0\]\.colour: unknown key/m);
    expect(r.stderr).toMatch(/^hint: see examples\/monitor\.yaml/m);
    expect(probed).toBe(0);
    expect((await monitorCli(['monitor', 'once', '--config', join(dir, 'nope.yaml')])).code).toBe(2);
    expect((await monitorCli(['monitor', 'once'], { cwd: tempDir() })).stderr).toContain('expected --config FILE');
    expect(readFileSync(cfg, 'utf8')).toContain('colour');
  });
});

describe('JSON configs (parsed without the YAML document model)', () => {
  const base = { schedule: '*/30 * * * * *', state: './s', endpoints: [{ host: 'api.pinctl.test', addresses: ['127.0.0.1'], pins: [opensslPin('leaf.pem'), opensslPin('backup.key')] }] };
  it('reads the same config as YAML does', () => {
    const fromJson = parseConfig(JSON.stringify(base), 'monitor.json', opts(tempDir()));
    expect(fromJson.endpoints[0]!.host).toBe('api.pinctl.test');
    expect(fromJson.schedule).toBe('*/30 * * * * *');
  });
  it('still refuses a repeated key, with YAML naming where', () => {
    const text = JSON.stringify(base).replace('"schedule"', '"state":"./x","schedule"');
    expect(() => parseConfig(text, 'monitor.json', opts(tempDir()))).toThrow(/monitor\.json: line 1, column \d+: not valid YAML or JSON/);
  });
  it('still names the bad field', () => {
    const text = JSON.stringify({ ...base, endpoints: [{ ...base.endpoints[0], adresses: ['127.0.0.1'] }] });
    expect(() => parseConfig(text, 'monitor.json', opts(tempDir()))).toThrow(/endpoints\[0\]\.adresses/);
  });
});

describe('YAML parsing (js-yaml, core schema)', () => {
  function malformed(text: string, source = 'monitor.yaml'): InputError {
    try {
      parseConfig(text, source, opts(tempDir()));
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).code).toBe('CONFIG_MALFORMED');
      return e as InputError;
    }
    throw new Error('expected a config error');
  }

  it('refuses a duplicate key, naming its line and column (1-based)', () => {
    const top = malformed(`${MIN}schedule: "* * * * *"\n`);
    expect(top.message).toBe('monitor.yaml: line 5, column 1: not valid YAML or JSON: duplicated mapping key');
    expect(top.hint).toContain('check indentation and quoting');
    const nested = malformed(`${MIN}    host: api.pinctl.test\n`);
    expect(nested.message).toMatch(/^monitor\.yaml: line 5, column 5: not valid YAML or JSON: duplicated mapping key$/);
  });

  it('reports a known syntax error at the line and column the yaml package printed', () => {
    // `yaml` said "line 1, column 15" for the unquoted cron expression: the first `*` after `*/5 `.
    expect(malformed(`schedule: */5 * * * *\n`).message).toMatch(/^monitor\.yaml: line 1, column 15: not valid YAML or JSON: \S/);
    expect(malformed(`${MIN}  - host: b.pinctl.test\n   port: 443\n`).message).toMatch(/^monitor\.yaml: line 6, column 4: not valid YAML or JSON: bad indentation/);
  });

  it('names the line of a tab used as indentation', () => {
    const e = malformed(`${MIN}\tport: 443\n`);
    expect(e.message).toMatch(/^monitor\.yaml: line 5, column 1: not valid YAML or JSON: tab characters must not be used in indentation$/);
    expect(e.message).not.toContain('\n');
  });

  it('keeps a date (and yes/on) a string for a string field', () => {
    const dir = tempDir();
    const cfg = parseConfig(`${MIN}state: 2001-01-01\n`.replace('api.pinctl.test', 'yes'), 'monitor.yaml', opts(dir));
    expect(cfg.state).toBe(join(dir, '2001-01-01'));
    expect(cfg.endpoints[0]!.host).toBe('yes');
  });

  it('bounds an alias bomb: 90 aliases stay shared references, more than 100 are refused', () => {
    const levels = [`a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]`];
    for (let i = 1; i <= 10; i++) levels.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
    const started = Date.now();
    // 9^10 strings if expanded; 90 aliases, under the limit, so it loads as a shared graph and fails validation.
    expect(malformed(`${MIN}bomb:\n  ${levels.slice(0, 11).join('\n  ')}\n`).message).toContain('bomb: unknown key');
    expect(malformed(`schedule: "* * * * *"\nx:\n  ${levels.slice(0, 10).join('\n  ')}\nendpoints: *a9\n`).message).toMatch(/endpoints\[0\]: expected a mapping, found a list/);
    // 12 levels: 108 aliases, refused at the 101st (line 18: the second alias of a12).
    for (let i = 11; i <= 12; i++) levels.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
    const refused = malformed(`${MIN}bomb:\n  ${levels.join('\n  ')}\n`);
    expect(refused.message).toMatch(/^monitor\.yaml: line 18, column \d+: not valid YAML or JSON: aliases exceeded maxAliases \(100\)$/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses nesting deeper than 100 levels', () => {
    expect(malformed(`${MIN}x: ${'['.repeat(150)}${']'.repeat(150)}\n`).message).toMatch(/^monitor\.yaml: line 5, column \d+: not valid YAML or JSON: nesting exceeded maxDepth/);
  });

  it('treats an empty or comment-only file as before: no mapping at the top level', () => {
    for (const text of ['', '\n\n', '# nothing yet\n', '---\n']) {
      expect(malformed(text).message).toBe('monitor.yaml: (top level): expected a mapping, found null');
    }
  });

  it('refuses a second document, naming the line where it starts', () => {
    expect(malformed(`${MIN}---\nschedule: "* * * * *"\n`).message).toBe('monitor.yaml: line 5, column 1: not valid YAML or JSON: Source contains multiple documents');
    expect(malformed(`# c\n---\n${MIN}...\n\n# next\n--- { a: 1 }\n`).message).toMatch(/^monitor\.yaml: line 10, column 1: not valid YAML or JSON: Source contains multiple documents$/);
    expect(malformed(`${MIN}...\nb: 2\n`).message).toMatch(/^monitor\.yaml: line 6, column 1: /);
    // A single document with explicit markers is fine.
    expect(parseConfig(`%YAML 1.2\n---\n${MIN}...\n`, 'monitor.yaml', opts(tempDir())).endpoints).toHaveLength(1);
  });

  it('reports a malformed JSON-looking file through YAML with a position', () => {
    expect(malformed('{"schedule": "* * * * *",\n "endpoints": [}\n', 'monitor.json').message).toMatch(/^monitor\.json: line 2, column \d+: not valid YAML or JSON: /);
  });
});
