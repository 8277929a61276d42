/**
 * Secrets from files as well as variables, commands that send nothing working without alerting
 * secrets, and SMTP's requireTLS against a real SMTP server that offers no STARTTLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../monitor/config.js';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin } from '../helpers/fixtures.js';
import { NOW, monitorCli, pkiFile, smtpReceiver, SmtpReceiver, tempDir, writeConfig } from './helpers.js';

const parse = (yaml: string, cwd: string, env: Record<string, string> = {}, secrets?: 'optional') =>
  parseConfig(yaml, 'monitor.yaml', { cwd, env, now: NOW, ...(secrets ? { secrets } : {}) });
const problem = (yaml: string, cwd: string, env: Record<string, string> = {}) => {
  try {
    parse(yaml, cwd, env);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a config error');
};
const ENDPOINTS = `endpoints:\n  - host: api.pinctl.test\n    addresses: [127.0.0.1]\n`;
const SCHEDULE = `schedule: "*/5 * * * *"\n`;

describe('secrets', () => {
  it('come from …File (first line) as well as …Env, never both', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'smtp.pw'), 's3cret\nignored second line\n');
    writeFileSync(join(dir, 'hook.token'), 'tok\n');
    writeFileSync(join(dir, 'admin.token'), 'adm\n');
    const cfg = parse(
      `${SCHEDULE}alerts:
  email: { smtp: "smtp://u@mail.example.test:587", from: a@example.test, to: [b@example.test], passwordFile: ./smtp.pw }
  webhook: { url: "https://hooks.example.test/x", tokenFile: ./hook.token }
dynamicPinning: { service: "http://127.0.0.1:8080", tokenFile: ./admin.token, publish: true }
${ENDPOINTS}`,
      dir,
    );
    expect(cfg.alerts.email?.password).toBe('s3cret');
    expect(cfg.alerts.webhook?.token).toBe('tok');
    expect(cfg.dynamicPinning).toMatchObject({ token: 'adm', tokenFile: './admin.token' });
    expect(problem(`${SCHEDULE}alerts:\n  webhook: { url: "https://h.test/x", tokenFile: ./nope, tokenEnv: T }\n${ENDPOINTS}`, dir, { T: 'x' })).toMatch(
      /alerts\.webhook\.tokenFile: give tokenFile or tokenEnv, not both/,
    );
    expect(problem(`${SCHEDULE}alerts:\n  webhook: { url: "https://h.test/x", tokenFile: ./missing.token }\n${ENDPOINTS}`, dir)).toMatch(
      /alerts\.webhook\.tokenFile: cannot read \.\/missing\.token \(ENOENT\)/,
    );
    expect(problem(`${SCHEDULE}state: "postgres://u:pw@127.0.0.1/db"\n${ENDPOINTS}`, dir)).toMatch(/state: holds a password: give it with statePasswordFile/);
  });

  it('status and history load a config whose alerting secrets are absent; sweeping commands refuse it', async () => {
    const dir = tempDir();
    const cfg = writeConfig(
      dir,
      `${SCHEDULE}alerts:\n  email: { smtp: "smtp://u@mail.example.test:587", from: a@example.test, to: [b@example.test], passwordEnv: PINCTL_TEST_UNSET_PW }\n${ENDPOINTS}`,
    );
    expect(parse(readFileSync(cfg, 'utf8'), dir, {}, 'optional').alerts.email?.password).toBeNull();
    const once = await monitorCli(['monitor', 'once', '--config', cfg]);
    expect(once.code).toBe(2);
    expect(once.stderr).toMatch(/alerts\.email\.passwordEnv: the environment variable PINCTL_TEST_UNSET_PW is not set/);
    const status = await monitorCli(['monitor', 'status', '--config', cfg]);
    expect(status.stderr).not.toMatch(/PINCTL_TEST_UNSET_PW/);
    expect(status.code).not.toBe(2);
    const history = await monitorCli(['monitor', 'history', 'api.pinctl.test', '--config', cfg]);
    expect(history.code, history.stderr).toBe(0);
  });

  it('requireTLS defaults to true, except for a loopback relay', () => {
    const dir = tempDir();
    const email = (smtp: string, extra = '') => parse(`${SCHEDULE}alerts:\n  email: { smtp: "${smtp}", from: a@example.test, to: [b@example.test]${extra} }\n${ENDPOINTS}`, dir).alerts.email!;
    expect(email('smtp://mail.example.test:587').requireTLS).toBe(true);
    expect(email('smtp://127.0.0.1:2525').requireTLS).toBe(false);
    expect(email('smtp://[::1]:2525').requireTLS).toBe(false);
    expect(email('smtp://localhost:2525', ', requireTLS: true').requireTLS).toBe(true);
    expect(email('smtp://mail.example.test:25', ', requireTLS: false').requireTLS).toBe(false);
  });
});

describe('requireTLS against a server that offers no STARTTLS', () => {
  let smtp: SmtpReceiver;
  let server: Running;
  beforeAll(async () => {
    smtp = await smtpReceiver();
    server = await tlsServer('chain.pem', 'leaf.key');
  });
  afterAll(async () => {
    await smtp.close();
    await server.close();
  });

  it('sends nothing (no credentials in clear) and says why; requireTLS: false lets a local relay without TLS have it', async () => {
    const config = (requireTLS: boolean, auth = true) => {
      const dir = tempDir();
      writeFileSync(join(dir, 'pw'), 'hunter2\n');
      return writeConfig(
        dir,
        `${SCHEDULE}state: ./state
retries: 0
alerts:
  email: { smtp: "smtp://${auth ? 'alerts@' : ''}127.0.0.1:${smtp.port}", from: a@example.test, to: [b@example.test]${auth ? ', passwordFile: ./pw' : ''}, requireTLS: ${requireTLS} }
endpoints:
  - host: api.pinctl.test
    port: ${server.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('leaf-new-key.pem')}", "${opensslPin('backup.key')}"]
`,
      );
    };
    const refused = await monitorCli(['monitor', 'once', '--config', config(true), '--json'], { now: NOW });
    const out = JSON.parse(refused.stdout);
    expect(out.alerts.sent).toBe(0);
    expect(out.alerts.failed[0].error).toMatch(/STARTTLS/i);
    expect(smtp.mails).toHaveLength(0);
    const relayed = await monitorCli(['monitor', 'once', '--config', config(false, false), '--json'], { now: NOW });
    expect(JSON.parse(relayed.stdout).alerts).toMatchObject({ sent: 1, failed: [] });
    expect(smtp.mails).toHaveLength(1);
  });
});
