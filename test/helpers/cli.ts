import { run } from '../../cli/run.js';
import { CliIO } from '../../cli/io.js';
import { NOW } from './fixtures.js';
import { Resolver, makeResolver } from '../../src/net/resolve.js';

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

export async function cli(argv: string[], opts: { stdin?: Uint8Array; now?: Date; env?: Record<string, string>; cwd?: string; resolve?: Resolver } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => opts.stdin ?? new Uint8Array(),
    env: { NO_COLOR: '1', ...opts.env },
    cwd: opts.cwd ?? process.cwd(),
    now: () => opts.now ?? NOW,
    resolve: opts.resolve ?? noNetworkResolver,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}
