/**
 * The state backends, one registry: the first entry whose `matches` accepts `state` opens it.
 * Each entry must pass test/monitor/state-contract.test.ts. PostgreSQL's driver is loaded only
 * when a postgres:// state is configured.
 */
import { join } from 'node:path';
import type { MonitorConfig } from './config.js';
import type { MonitorState } from './state.js';

type StateConfig = Pick<MonitorConfig, 'state' | 'localDir'> & { statePassword?: string | null };

export interface StateBackend {
  id: 'sqlite' | 'postgres';
  matches(state: string): boolean;
  /** readOnly: for commands that write nothing (status), so they answer on a full disk. */
  open(cfg: StateConfig, opts?: { readOnly?: boolean }): Promise<MonitorState>;
}

export const isPostgresUrl = (state: string) => /^postgres(ql)?:\/\//i.test(state);

export const STATE_BACKENDS: StateBackend[] = [
  {
    id: 'postgres',
    matches: isPostgresUrl,
    open: async (cfg) => {
      const { PgState } = await import('./state-pg.js');
      return PgState.open(cfg.state, { password: cfg.statePassword ?? null, certDir: join(cfg.localDir, 'certs') });
    },
  },
  {
    id: 'sqlite',
    matches: () => true,
    open: async (cfg, opts) => {
      const { Store } = await import('./store.js');
      return Store.open(cfg.state, opts);
    },
  },
];

export async function openState(cfg: StateConfig, opts?: { readOnly?: boolean }): Promise<MonitorState> {
  return STATE_BACKENDS.find((b) => b.matches(cfg.state))!.open(cfg, opts);
}

/** The state as printed: a PostgreSQL URL without its password. */
export function stateLabel(state: string): string {
  return state.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}
