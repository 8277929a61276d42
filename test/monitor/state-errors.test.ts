/**
 * State-file failures say which file, what went wrong and what to do; `monitor status` writes
 * nothing, so it still answers on a full disk (a real tmpfs filled to the last byte, mounted in a
 * private mount namespace with `unshare -rm`, where the kernel allows it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlsServer, Running } from '../helpers/servers.js';
import { opensslPin } from '../helpers/fixtures.js';
import { monitorCli, pkiFile, tempDir, writeConfig } from './helpers.js';

let good: Running;
beforeAll(async () => {
  good = await tlsServer('chain.pem', 'leaf.key');
});
afterAll(async () => {
  await good.close();
});

const config = (dir: string, state = './state') =>
  writeConfig(dir, `schedule: "* * * * *"\nstate: ${state}\nendpoints:\n  - host: api.pinctl.test\n    port: ${good.port}\n    addresses: [127.0.0.1]\n    caFile: ${pkiFile('root.pem')}\n    pins: ["${opensslPin('intermediate.pem')}"]\n`);

describe('state-file errors', () => {
  it('a corrupt monitor.db: the file, the cause and a hint, exit 2', async () => {
    const dir = tempDir();
    const cfg = config(dir);
    expect((await monitorCli(['monitor', 'once', '--config', cfg])).code).toBe(0);
    const db = join(dir, 'state', 'monitor.db');
    for (const f of [`${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
    writeFileSync(db, Buffer.alloc(8192, 0x41)); // overwritten: not SQLite any more
    for (const cmd of ['once', 'status']) {
      const r = await monitorCli(['monitor', cmd, '--config', cfg]);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr, cmd).toContain(`error: state file ${db}: the file is corrupt`);
      expect(r.stderr, cmd).toMatch(/^hint: stop the monitor, move it aside/m);
    }
  });
});

const dist = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const canMount = process.platform === 'linux' && spawnSync('unshare', ['-rm', 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d"']).status === 0;
if (!canMount) console.warn('full-disk test skipped: no `unshare -rm` + tmpfs mount here');

describe.skipIf(!canMount || !existsSync(dist))('a full disk', () => {
  it('monitor status still answers (read-only), and a sweep says the disk is full', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinctl-full-'));
    const cfg = config(dir, join(dir, 'mnt', 'state'));
    // Inside a private mount namespace: a 4 MiB tmpfs holding the state, a sweep, then fill the disk.
    const script = `mkdir -p "$1/mnt" && mount -t tmpfs -o size=4m tmpfs "$1/mnt" || exit 9
      node "$2" monitor once --config "$3" > /dev/null || echo "first sweep failed $?"
      dd if=/dev/zero of="$1/mnt/fill" bs=4k 2>/dev/null || true
      echo "== status"; node "$2" monitor status --config "$3" --json; echo "== status exit $?"
      echo "== once"; node "$2" monitor once --config "$3" 2>&1 || echo "== once exit $?"`;
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', script, 'sh', dir, dist, cfg], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    const out = r.stdout;
    const status = out.slice(out.indexOf('== status\n') + 10, out.indexOf('== status exit'));
    expect(out, `status ${r.status} ${r.stderr} ${r.error}`).toMatch(/== status exit [01]\n/); // answered (1: a check failed)
    expect(JSON.parse(status).observations).toHaveLength(1);
    const once = out.slice(out.indexOf('== once\n'));
    // SQLite reports a full disk as SQLITE_FULL or, creating its shared-memory file, as an I/O error.
    expect(once).toMatch(/error: state file .*monitor\.db: the disk (?:is full|refused a read or write)/);
    expect(once).toMatch(/hint: (?:free space|check free space)/);
  }, 90_000);
});
