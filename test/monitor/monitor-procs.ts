/**
 * `monitor run` processes for the multi-monitor tests: a child script that starts the compiled
 * runner on a config (the PostgreSQL password from the environment) and prints "ready", each log
 * line prefixed with the time, so a test can count sweeps per process.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface MonitorChild {
  proc: ChildProcess;
  out: string;
}

/** The child script: `compiledOut` is compileForChildren(...).out; `envKeys`: more variables the runner sees. */
export const runnerScript = (compiledOut: string, config: string, dir: string, envKeys: string[] = []) => `
import { startRunner } from '${compiledOut}/monitor/runner.js';
const env = Object.fromEntries(${JSON.stringify(['PINCTL_TEST_PG_PASSWORD', ...envKeys])}.map((k) => [k, process.env[k]]));
const runner = await startRunner({ configPath: '${config}', env,
  cwd: '${dir}', now: () => new Date(), log: (l) => process.stdout.write(Date.now() + ' ' + l + '\\n'), sweepAtStart: false, deliveryIntervalMs: 200 });
process.stdout.write('ready\\n');
process.on('SIGTERM', async () => { await runner.stop(); process.exit(0); });
`;

/** Starts the script; resolves once the runner is up, rejects if it exits first. */
export function startMonitor(script: string, pgPassword: string, env: Record<string, string> = {}): Promise<MonitorChild> {
  const proc = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, PINCTL_TEST_PG_PASSWORD: pgPassword } });
  const child: MonitorChild = { proc, out: '' };
  proc.stdout!.on('data', (d: Buffer) => (child.out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (child.out += d.toString()));
  return new Promise((done, fail) => {
    const timer = setInterval(() => child.out.includes('ready') && (clearInterval(timer), done(child)), 20);
    proc.once('exit', (code) => (clearInterval(timer), fail(new Error(`monitor exited ${code}: ${child.out}`))));
  });
}

/** When each sweep of this process started (ms since the epoch). */
export const sweepTimes = (c: MonitorChild) => [...c.out.matchAll(/^(\d+) sweep \S+: /gm)].map((m) => Number(m[1]));
