import { run } from '../../cli/run.js';
import { CliIO } from '../../cli/io.js';
import { NOW } from './fixtures.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(argv: string[], opts: { stdin?: Uint8Array; now?: Date; env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => opts.stdin ?? new Uint8Array(),
    env: { NO_COLOR: '1', ...opts.env },
    cwd: opts.cwd ?? process.cwd(),
    now: () => opts.now ?? NOW,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}
