/**
 * Linux network namespaces for tests that need places with their own network (vantages): a
 * namespace for the client and one for its "site", joined by a veth pair, so that one address
 * (e.g. 10.77.0.1) means a different server in each place. Root only: NETNS_SKIP says why not,
 * for describe.skipIf. The veths are created inside the namespaces (never in the host's), and
 * deleting a namespace deletes its veth: the host's network is not touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const PREFIX = 'pinctl-t';

/** Runs `ip ARGS`; throws with ip's message when it fails. */
export function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`);
}

/** Why namespaces cannot be used here ('' when they can): tried, not guessed from the uid alone. */
function skipReason(): string {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'needs root (ip netns add)';
  const probe = `${PREFIX}${process.pid}-probe-${randomBytes(3).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.error) return `iproute2's ip is not available (${add.error.message})`;
  if (add.status !== 0) return `ip netns add was refused: ${add.stderr.trim()}`;
  try {
    // What the tests do inside: enter the namespace and bind-mount a hosts file.
    const bind = ['sh', '-c', 'mount --bind /etc/hosts /etc/hosts'];
    const exec = spawnSync('ip', ['netns', 'exec', probe, ...bind], { encoding: 'utf8' });
    if (exec.status !== 0) return `ip netns exec with a bind mount was refused: ${exec.stderr.trim()}`;
  } finally {
    spawnSync('ip', ['netns', 'del', probe]);
  }
  return '';
}

export const NETNS_SKIP = skipReason();
if (NETNS_SKIP) console.warn(`network namespace tests skipped: ${NETNS_SKIP}`);

/** Namespaces a killed earlier run left behind (its pid is gone): ours by name, so they may go. */
function removeOrphans(): void {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of r.stdout?.split('\n') ?? []) {
    const m = new RegExp(`^(${PREFIX}(\\d+)-\\S+)`).exec(line);
    if (!m || Number(m[2]) === process.pid) continue;
    try {
      process.kill(Number(m[2]), 0);
    } catch {
      spawnSync('ip', ['netns', 'del', m[1]!]);
    }
  }
}

/** Namespaces made by one test file: unique names per run, all deleted by remove(). */
export class Namespaces {
  private readonly made: string[] = [];
  private readonly procs = new Set<ChildProcess>();
  private readonly tag = `${PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;

  constructor() {
    removeOrphans();
  }

  /** A new namespace with its loopback up; its name is unique to this run. */
  add(label: string): string {
    const name = `${this.tag}-${label}`;
    ip('netns', 'add', name);
    this.made.push(name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /**
   * `client` and `site` joined by a veth pair on `subnet`.0/24: the site holds `subnet`.1 (the
   * servers' address), the client `subnet`.2. The pair is created inside the namespaces.
   */
  link(client: string, site: string, subnet: string): void {
    ip('-n', client, 'link', 'add', 'v-site', 'type', 'veth', 'peer', 'name', 'v-client', 'netns', site);
    ip('-n', client, 'addr', 'add', `${subnet}.2/24`, 'dev', 'v-site');
    ip('-n', site, 'addr', 'add', `${subnet}.1/24`, 'dev', 'v-client');
    ip('-n', client, 'link', 'set', 'v-site', 'up');
    ip('-n', site, 'link', 'set', 'v-client', 'up');
  }

  /**
   * `argv` run inside `ns` (`ip netns exec`), with `hostsFile` bind-mounted over /etc/hosts when
   * given (in the child's own mount namespace: the machine's /etc/hosts is untouched).
   */
  spawn(ns: string, argv: string[], opts: { hostsFile?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const bind = ['sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"'];
    const inner = opts.hostsFile ? [...bind, opts.hostsFile, ...argv] : argv;
    const env = opts.env ?? process.env;
    const child = spawn('ip', ['netns', 'exec', ns, ...inner], { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.procs.add(child);
    child.once('exit', () => this.procs.delete(child));
    return child;
  }

  /** Ends the processes started with spawn() still running, then deletes every namespace (and so every veth). */
  async remove(): Promise<void> {
    await Promise.all(
      [...this.procs].map((p) => new Promise((done) => (p.once('exit', done), p.kill('SIGKILL')))),
    );
    for (const name of this.made.splice(0)) spawnSync('ip', ['netns', 'del', name]);
  }
}

/** Output of a child from Namespaces.spawn: resolves with its exit code once it ends. */
export function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) => child.once('close', (code) => done({ code, stdout, stderr })));
}
