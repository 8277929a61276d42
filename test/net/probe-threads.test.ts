/** startProbeThreads: probeTls in worker threads gives probeTls's results (compiled: threads load .js). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { probeTls, ProbeRequest, ProbeResult } from '../../src/net/probe.js';
import { ProbeError } from '../../src/errors.js';
import { closedPort, stallServer, tlsServer, Running } from '../helpers/servers.js';
import { compileForChildren, Compiled } from '../helpers/compile.js';

let compiled: Compiled;
let threads: typeof import('../../src/net/probe-threads.js');
const servers: Running[] = [];
beforeAll(async () => {
  compiled = compileForChildren('probe-threads', ['src']);
  threads = await import(pathToFileURL(join(compiled.out, 'src', 'net', 'probe-threads.js')).href);
  servers.push(await tlsServer('chain.pem', 'leaf.key'), await tlsServer('fullchain.pem', 'leaf.key'), await stallServer());
}, 120_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  compiled.remove();
});

/** What a caller reads of a result; durations differ from run to run. */
const shape = (r: ProbeResult) =>
  r.ok
    ? { ok: true, address: r.address, served: r.served.map((d) => Buffer.from(d).toString('base64')), protocol: r.protocol, cipher: r.cipher }
    : { ok: false, address: r.address, code: r.error.code, message: r.error.message, hint: r.error.hint, isProbeError: r.error instanceof ProbeError || r.error.name === 'ProbeError' };

describe('startProbeThreads', () => {
  it('returns what probeTls returns: chains, refusals and timeouts, spread over the threads', async () => {
    const pool = threads.startProbeThreads(2)!;
    expect(pool).not.toBeNull();
    try {
      const reqs: ProbeRequest[] = [
        { host: 'api.pinctl.test', port: servers[0]!.port, address: '127.0.0.1', timeoutMs: 3000 },
        { host: 'api.pinctl.test', port: servers[1]!.port, address: '127.0.0.1', timeoutMs: 3000 },
        { host: 'api.pinctl.test', port: await closedPort(), address: '127.0.0.1', timeoutMs: 3000 },
        { host: 'api.pinctl.test', port: servers[2]!.port, address: '127.0.0.1', timeoutMs: 300 },
      ];
      const inThreads = await Promise.all([...reqs, ...reqs].map((q) => pool.probe(q)));
      const inProcess = await Promise.all([...reqs, ...reqs].map((q) => probeTls(q)));
      expect(inThreads.map(shape)).toEqual(inProcess.map(shape));
      expect(inThreads.map((r) => (r.ok ? r.served.length : r.error.code))).toEqual([2, 3, 'REFUSED', 'TIMEOUT', 2, 3, 'REFUSED', 'TIMEOUT']);
    } finally {
      await pool.close();
    }
  });
  it('is not started from the TypeScript source (the compiled thread module would be missing)', async () => {
    const fromSource = await import('../../src/net/probe-threads.js');
    expect(fromSource.startProbeThreads(2)).toBeNull();
  });
});
