/** Everything the CLI touches outside itself, so tests can run it in-process with a fake terminal. */
import type { Prober } from '../src/net/probe.js';
import { Resolver, defaultResolver } from '../src/net/resolve.js';

export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIO {
  stdout: Output;
  stderr: Output;
  readStdin(): Promise<Uint8Array>;
  env: Record<string, string | undefined>;
  cwd: string;
  now(): Date;
  /** Overridable network edges (tests may count or fault them). */
  probe?: Prober;
  resolve?: Resolver;
}

export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return new Uint8Array(Buffer.concat(chunks));
    },
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    resolve: defaultResolver({ env: process.env }), // PINCTL_RESOLVER=dns|system|auto
  };
}
