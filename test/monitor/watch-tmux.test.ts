/**
 * `pinctl monitor run --watch` end to end in a real terminal: tmux (its own server socket) runs the
 * compiled CLI against two TLS servers on 127.0.0.1; the test reads the screen with capture-pane
 * and types with send-keys: the table, ↓ + enter for details, a narrower window (everything fits,
 * cells end in "…"), `/` to filter, NO_COLOR (no colour escapes on screen), and `q` to quit with
 * exit code 0. .ci/run installs tmux; without it the test skips and says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin } from '../helpers/fixtures.js';
import { pkiFile, tempDir, writeConfig } from './helpers.js';
import { compileForChildren, compiledDir } from '../helpers/compile.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const HAVE_TMUX = spawnSync('sh', ['-c', 'command -v tmux']).status === 0;
if (!HAVE_TMUX) console.warn('--watch tmux test skipped: tmux is missing (apt-get install tmux; .ci/run does)');
// Compiled from the sources under test (not dist/, which may be stale), under node_modules so the
// compiled files resolve the project's packages.
const OUT = compiledDir('watch-tmux');
const SOCKET = `pinctl-watch-${process.pid}`;
const SESSION = 'watch';

type Tls = Running & { server: import('node:tls').Server };
let api: Tls;
let rsa: Tls;

const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (escapes = false) => tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', SESSION);
const keys = (...k: string[]) => tmux('send-keys', '-t', SESSION, ...k);

/** Polls the screen until `check` passes (the monitor sweeps and ink redraws asynchronously). */
async function until(check: (text: string) => void, timeoutMs = 20_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const text = screen();
    try {
      check(text);
      return text;
    } catch (e) {
      if (Date.now() > end) throw new Error(`${(e as Error).message}\n--- screen ---\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe.skipIf(!HAVE_TMUX)('monitor run --watch in tmux', () => {
  beforeAll(async () => {
    api = await tlsServer('chain.pem', 'leaf.key');
    rsa = await tlsServer('chain-rsa.pem', 'leaf-rsa.key');
    compileForChildren('watch-tmux', ['cli', 'monitor', 'src']);
  }, 240_000);
  afterAll(async () => {
    spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
    await api?.close();
    await rsa?.close();
    rmSync(OUT, { recursive: true, force: true });
  });

  it('shows the table, takes keys, fits a narrower window, honours NO_COLOR, and quits with q', async () => {
    const dir = tempDir('pinctl-watch-tmux-');
    writeConfig(
      dir,
      `schedule: "0 0 1 1 *"
state: ./state
retries: 0
timeout: 3s
endpoints:
  - host: api.pinctl.test
    port: ${api.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root.pem')}
    pins: ["${opensslPin('intermediate.pem')}", "${opensslPin('backup.key')}"]
  - host: rsa.pinctl.test
    port: ${rsa.port}
    addresses: [127.0.0.1]
    caFile: ${pkiFile('root-rsa.pem')}
    pins: ["${opensslPin('leaf.pem')}", "${opensslPin('backup.key')}"]
`,
    );
    const exitFile = join(dir, 'exit-code');
    // CI=… turns --watch off (plain lines); the terminal here is tmux's, so it is unset.
    const command = `cd '${dir}' && env -u CI NO_COLOR=1 '${process.execPath}' '${join(OUT, 'cli', 'main.js')}' monitor run --config monitor.yaml --watch; echo $? > '${exitFile}'`;
    tmux('new-session', '-d', '-s', SESSION, '-x', '110', '-y', '30', command);

    const apiId = `api.pinctl.test:${api.port}`;
    const rsaId = `rsa.pinctl.test:${rsa.port}`;
    let text = await until((t) => {
      expect(t).toMatch(new RegExp(`› ${apiId}\\s+ok\\s+1/1\\s+match\\s+\\d+ d`));
      expect(t).toMatch(new RegExp(`  ${rsaId}\\s+critical\\s+1/1\\s+FAIL`));
    });
    expect(text).toMatch(/ENDPOINT\s+STATUS\s+UP\s+PINS\s+EXPIRY\s+CHANGED\s+PROBLEM/);
    expect(text).toContain('q quit · / filter · ↑↓ select · enter details');
    expect(text).toMatch(/sweep \S+: 2 endpoint\(s\)/);
    // NO_COLOR: the screen holds no colour (SGR 30–37, 90–97, 38;…) at all.
    expect(screen(true)).not.toMatch(/\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7])(?:;[0-9;]*)?m/);

    keys('Down');
    await until((t) => expect(t).toMatch(new RegExp(`› ${rsaId}`)));
    keys('Enter');
    text = await until((t) => expect(t).toContain('pins: 2 inline; NO PIN MATCHES'));
    expect(text).toMatch(/ {2}intermediate pinctl Test Intermediate CA RSA · until 2040-12-31 \(in \d+ y\) · /);
    expect(text).toMatch(/findings \(1\):\n {2}critical pin-mismatch: /);
    keys('Escape');
    await until((t) => expect(t).not.toContain('NO PIN MATCHES'));

    tmux('resize-window', '-t', SESSION, '-x', '52', '-y', '30');
    text = await until((t) => expect(t).toMatch(/› rsa\.pinctl\.\S*…\s+critical\s+FAIL/));
    for (const line of text.split('\n')) expect([...line].length, line).toBeLessThanOrEqual(52);
    expect(text).not.toContain('CHANGED');

    keys('/');
    keys('-l', 'api');
    keys('Enter');
    text = await until((t) => expect(t).toContain('filter "api": 1/2'));
    expect(text).not.toContain('rsa.pinctl');

    keys('q');
    // The pane (and the session) ends with the process: wait for the exit code it wrote.
    const end = Date.now() + 30_000;
    while (!existsSync(exitFile) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(exitFile, 'utf8').trim()).toBe('0');

    // Without NO_COLOR the same screen has colour (so the check above is not vacuous).
    rmSync(exitFile);
    tmux('new-session', '-d', '-s', SESSION, '-x', '110', '-y', '30', command.replace('NO_COLOR=1 ', ''));
    await until((t) => expect(t).toMatch(new RegExp(`${rsaId}\\s+critical`)));
    expect(screen(true)).toMatch(/\x1b\[(?:[0-9;]*;)?(?:31|91)(?:;[0-9;]*)?m/);
    keys('q');
    const end2 = Date.now() + 30_000;
    while (!existsSync(exitFile) && Date.now() < end2) await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(exitFile, 'utf8').trim()).toBe('0');
  }, 120_000);
});
