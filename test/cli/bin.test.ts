/** The installed command as a whole process: what `npx pinctl` runs after `npm ci`. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { OPENSSL_PINS, pkiFile } from '../helpers/fixtures.js';

const BIN = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'pinctl');

describe('node_modules/.bin/pinctl (linked by npm ci → prepare)', () => {
  it('runs pins --json and keeps stdout pure JSON', () => {
    const r = spawnSync(BIN, ['pins', '--json', pkiFile('chain.pem')], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).map((o: { spkiSha256: string }) => o.spkiSha256)).toEqual(OPENSSL_PINS['chain.pem']!.map((p) => p.spkiSha256));
    expect(r.stderr).toBe('');
  });
  it('exits 2 with one line and no stack trace on bad input', () => {
    const r = spawnSync(BIN, ['pins', '-'], { input: 'garbage\n', encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: stdin: expected PEM blocks/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
