/**
 * examples/monitor.yaml runs as written: the `openssl s_server` command its comment gives (taken
 * from the file, not retyped) serves the chain, and `monitor once` on the example is healthy.
 * The example is copied beside a link to fixtures/ so its relative paths hold and its state
 * directory is not written into the repository.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { monitorCli, tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'monitor.yaml');
let server: ChildProcess | undefined;
afterAll(() => void server?.kill());

const listening = (port: number) =>
  new Promise<boolean>((done) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), done(true)));
    s.on('error', () => done(false));
  });

describe('examples/monitor.yaml', () => {
  it('is healthy against the s_server command its comment gives', async () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const command = /#\s+(openssl s_server .*)$/m.exec(text)?.[1];
    expect(command, 'the example names an openssl s_server command').toBeDefined();
    const args = command!.split(/\s+/).slice(1);
    const port = Number(args[args.indexOf('-accept') + 1]);
    if (await listening(port)) throw new Error(`port ${port} is busy: the example's server cannot be started`);
    server = spawn('openssl', args, { cwd: ROOT, stdio: 'ignore' });
    for (let i = 0; i < 100 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 50));

    const dir = tempDir();
    mkdirSync(join(dir, 'examples'));
    copyFileSync(EXAMPLE, join(dir, 'examples', 'monitor.yaml'));
    symlinkSync(join(ROOT, 'fixtures'), join(dir, 'fixtures'));
    const r = await monitorCli(['monitor', 'once', '--config', join(dir, 'examples', 'monitor.yaml'), '--json'], { env: {} });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.observations[0].chain.map((c: { position: string }) => c.position)).toEqual(['leaf', 'intermediate', 'root']);
    expect(out.open).toEqual([]);
  });
});
