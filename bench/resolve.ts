/**
 * Lookups against a DNS server that never answers some names (issue 14 item 5): 40 silent and 100
 * healthy names through the `dns` resolver, 64 at once as a sweep runs them, each with the deadline.
 * The baseline is the deadline itself: the lookups should take one, with no healthy name failing.
 * (getaddrinfo's behaviour needs /etc/resolv.conf pointed at the server: test/monitor/resolver-namespace.test.ts.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBounded } from '../src/net/observe.js';
import { makeDnsResolver } from '../src/net/resolve.js';
import { dnsServer } from '../test/helpers/dns-server.js';

type Line = (label: string, ours: string, base: string, ratio: number, target?: string) => void;

export async function benchResolve(line: Line, deadlineMs = 1000): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pinctl-bench-resolve-'));
  const server = await dnsServer((name) => (name.startsWith('silent') ? 'silent' : ['127.0.0.1']));
  try {
    writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost\n');
    const resolve = makeDnsResolver({ servers: [server.address], hostsPath: join(dir, 'hosts') });
    const names = Array.from({ length: 140 }, (_, i) => (i < 40 ? `silent${i}.bench.test` : `ok${i}.bench.test`));
    let falseFailures = 0;
    const t = performance.now();
    await runBounded(names, 64, async (name) => {
      const ok = await resolve(name, { timeoutMs: deadlineMs }).then(() => true, () => false);
      if (!ok && !name.startsWith('silent')) falseFailures++;
    });
    const ms = performance.now() - t;
    line(
      'resolve 140 names, 40 silent (c=64)',
      `${(ms / 1000).toFixed(2)} s, ${falseFailures} false failures`,
      `one deadline ${(deadlineMs / 1000).toFixed(2)} s`,
      ms / deadlineMs,
      '~1x, 0 false failures; issue: 201 s',
    );
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
