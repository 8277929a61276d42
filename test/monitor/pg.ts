/**
 * PostgreSQL for the tests: PINCTL_TEST_PG is an admin URL (`.ci/run` installs and starts the
 * server and sets it); without it the PostgreSQL cases are skipped, saying why. Each caller gets a
 * fresh database, dropped at the end.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { join } from 'node:path';

export const PG_ADMIN = process.env.PINCTL_TEST_PG ?? '';
export const PG_SKIP = PG_ADMIN ? '' : 'PINCTL_TEST_PG is not set (bash .ci/run starts PostgreSQL and sets it)';

export interface TestDatabase {
  /** postgres://USER@HOST:PORT/DB, without the password (the config's form). */
  url: string;
  password: string;
  /** The same with the password, for the test's own pg.Client (pg lets the URL override `password`). */
  urlWithPassword: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = new URL(PG_ADMIN);
  const name = `pinctl_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: PG_ADMIN });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const password = decodeURIComponent(admin.password);
  const url = `postgres://${admin.username}@${admin.host}/${name}`;
  const withPw = new URL(url);
  withPw.password = admin.password;
  return {
    url,
    password,
    urlWithPassword: withPw.href,
    drop: () => dropDatabase(name),
  };
}

/**
 * Cleanup only: an autovacuum worker busy in the database (after a large sweep) can refuse
 * `WITH (FORCE)` for a moment, so the drop is retried; a database left behind on the throw-away
 * test server is reported, not a failed test.
 */
async function dropDatabase(name: string): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < 10; attempt++) {
    const c = new pg.Client({ connectionString: PG_ADMIN });
    try {
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    } finally {
      await c.end().catch(() => {});
    }
  }
  process.stderr.write(`warning: test database ${name} not dropped: ${last instanceof Error ? last.message : String(last)}\n`);
}

export interface PgSocketRelay {
  /** The database's URL through the relay's unix socket (pg's `host` parameter names the directory). */
  url: string;
  /** Connections relayed so far: proof the socket, not the URL's host, was used. */
  connections(): number;
  close(): Promise<void>;
}

/**
 * The test database behind a unix socket in `dir`, relayed to the server's TCP address: for
 * monitors in another network namespace, which cannot reach 127.0.0.1 of this one but share the
 * file system. (The server's own socket directory authenticates by peer, as the OS user; the
 * relay keeps the password login the TCP address allows.)
 */
export async function pgSocketRelay(db: TestDatabase, dir: string): Promise<PgSocketRelay> {
  const target = new URL(db.url);
  const port = Number(target.port || 5432);
  let connections = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect(port, target.hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((done, fail) => server.once('error', fail).listen(join(dir, `.s.PGSQL.${port}`), done));
  const url = new URL(db.url);
  url.hostname = 'localhost'; // a URL needs a host; pg's `host` parameter wins over it
  url.searchParams.set('host', dir);
  const close = () =>
    new Promise<void>((done) => {
      for (const s of open) s.destroy(); // a pool the monitor left open must not hold the close
      server.close(() => done());
    });
  return { url: url.href, connections: () => connections, close };
}
