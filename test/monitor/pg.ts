/**
 * PostgreSQL for the tests: PINCTL_TEST_PG is an admin URL (`.ci/run` installs and starts the
 * server and sets it); without it the PostgreSQL cases are skipped, saying why. Each caller gets a
 * fresh database, dropped at the end.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';

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
