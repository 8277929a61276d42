/**
 * The monitor bench's states: a SQLite directory or a fresh PostgreSQL database (made on the server
 * PINCTL_BENCH_PG, else PINCTL_TEST_PG, names as an admin URL; dropped at the end), and what they
 * hold: rows in every table and bytes on disk, so a sweep's cost in the database is a delta.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'libsql';
import pg from 'pg';
import { openState } from '../monitor/open-state.js';

export const PG_ADMIN_URL = process.env.PINCTL_BENCH_PG || process.env.PINCTL_TEST_PG || '';
export const PG_SKIP_REASON = PG_ADMIN_URL
  ? ''
  : 'set PINCTL_BENCH_PG (or PINCTL_TEST_PG) to a PostgreSQL admin URL, e.g. postgres://USER:PASSWORD@127.0.0.1:5432/postgres';

export interface Footprint {
  rows: number;
  bytes: number;
}

export interface BenchState {
  backend: 'sqlite' | 'postgres';
  /** The config's lines naming the state. */
  configLines: string;
  footprint(): Promise<Footprint>;
  /** The probing time of the newest sweep (the sweeps table's durationMs). */
  lastSweepMs(): Promise<number | undefined>;
  drop(): Promise<void>;
}

export function sqliteState(dir: string): BenchState {
  const state = join(dir, 'state');
  return {
    backend: 'sqlite',
    configLines: `state: ${state}`,
    footprint: async () => {
      let bytes = 0;
      for (const f of safeReaddir(state)) if (f.startsWith('monitor.db')) bytes += statSync(join(state, f)).size;
      const db = new Database(join(state, 'monitor.db'), { readonly: true });
      try {
        const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as { name: string }[];
        const rows = tables.reduce((n, t) => n + Number((db.prepare(`SELECT COUNT(*) AS n FROM "${t.name}"`).get() as { n: number }).n), 0);
        return { rows, bytes };
      } finally {
        db.close();
      }
    },
    lastSweepMs: () => lastSweepMs({ state, localDir: state }),
    drop: async () => undefined,
  };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export async function pgState(dir: string): Promise<BenchState> {
  const admin = new URL(PG_ADMIN_URL);
  const name = `pinctl_bench_${randomBytes(6).toString('hex')}`;
  await withClient(PG_ADMIN_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = `postgres://${admin.username}@${admin.host}/${name}`;
  const withPassword = new URL(url);
  withPassword.password = admin.password;
  const passwordFile = join(dir, 'pg-password');
  writeFileSync(passwordFile, `${decodeURIComponent(admin.password)}\n`, { mode: 0o600 });
  const cfg = { state: url, localDir: join(dir, 'pinctl-local'), statePassword: decodeURIComponent(admin.password) };
  return {
    backend: 'postgres',
    configLines: `state: ${url}\nstatePasswordFile: ${passwordFile}\nlocalDir: ${cfg.localDir}`,
    footprint: () =>
      withClient(withPassword.href, async (c) => {
        const bytes = Number((await c.query(`SELECT pg_database_size(current_database()) AS n`)).rows[0].n);
        const tables = (await c.query(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`)).rows as { tablename: string }[];
        let rows = 0;
        for (const t of tables) rows += Number((await c.query(`SELECT COUNT(*) AS n FROM "${t.tablename}"`)).rows[0].n);
        return { rows, bytes };
      }),
    lastSweepMs: () => lastSweepMs(cfg),
    drop: () => withClient(PG_ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

async function lastSweepMs(cfg: { state: string; localDir: string; statePassword?: string }): Promise<number | undefined> {
  const store = await openState(cfg);
  try {
    return (await store.lastSweep())?.durationMs;
  } finally {
    await store.close();
  }
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
