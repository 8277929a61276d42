import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

describe('pinctl demo', () => {
  it('runs offline and every step behaves as described', async () => {
    const r = await cli(['demo'], { now: new Date() });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('Done: everything behaved as expected.');
    expect(r.stdout.match(/exit 0/g)).toHaveLength(3);
    expect(r.stdout).toContain('exit 1');
    expect(r.stdout).not.toContain(process.cwd()); // paths are shown relative
  });
});
