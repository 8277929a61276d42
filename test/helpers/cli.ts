import { run } from '../../cli/run.js';
import { CliIO } from '../../cli/io.js';
import { NOW } from './fixtures.js';
import { Resolver, makeResolver } from '../../src/net/resolve.js';
import type { Prober } from '../../src/net/probe.js';

/** Tests never query DNS (the machine's resolver is off-box): any name not given with --resolve fails as NXDOMAIN would. */
export const noNetworkResolver: Resolver = makeResolver(async (host) => {
  if (host === 'localhost') return [{ address: '127.0.0.1' }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
});

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestIOOptions {
  stdin?: Uint8Array;
  now?: Date;
  env?: Record<string, string>;
  cwd?: string;
  resolve?: Resolver;
  probe?: Prober;
}

/** A fake terminal: captured output, frozen clock, no colour, no DNS. */
export interface TestIO extends CliIO {
  out(): string;
  err(): string;
}

export function testIO(opts: TestIOOptions = {}): TestIO {
  let stdout = '';
  let stderr = '';
  return {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => opts.stdin ?? new Uint8Array(),
    env: { NO_COLOR: '1', ...opts.env },
    cwd: opts.cwd ?? process.cwd(),
    now: () => opts.now ?? NOW,
    resolve: opts.resolve ?? noNetworkResolver,
    probe: opts.probe,
    out: () => stdout,
    err: () => stderr,
  };
}

export async function cli(argv: string[], opts: TestIOOptions = {}): Promise<CliResult> {
  const io = testIO(opts);
  const code = await run(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}
