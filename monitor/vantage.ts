/**
 * Vantages: the place a monitor probes from (`vantage: eu` in its config). Several monitors in
 * different places can share one PostgreSQL state; each keeps its own view of every address
 * (latest observations, previous chains, per-vantage findings), and the state compares the views
 * (`vantage-disagreement`, monitor/vantage-findings.ts). One parser for the name, here.
 */
import type { Finding, Observation } from './types.js';

/** The vantage of a config without `vantage:`: keys and texts of findings stay as they always were. */
export const DEFAULT_VANTAGE = 'default';

const NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

/** What a vantage name must look like, for error messages. */
export const VANTAGE_NAME_RULE =
  'a vantage name: 1 to 32 characters a-z, 0-9 and "-", starting and ending with a letter or digit (e.g. eu, us-east-1)';

/** The name, or null when it is not one (the caller reports it with VANTAGE_NAME_RULE). */
export function parseVantageName(v: unknown): string | null {
  return typeof v === 'string' && NAME.test(v) ? v : null;
}

/** An observation's vantage (observations stored before vantages existed carry none: the default). */
export const vantageOf = (o: Pick<Observation, 'vantage'>): string => o.vantage ?? DEFAULT_VANTAGE;

/** Kinds decided for the whole state under the decision lead, not by one vantage (monitor/vantage-cycle.ts). */
const STATE_WIDE: readonly string[] = ['vantage-disagreement', 'pin-failure-reports'];

/**
 * A stored finding's vantage; null for state-wide findings (vantage-disagreement; pin-failure
 * reports, which come from apps, not from a place the monitor probes from).
 */
export const findingVantage = (f: Pick<Finding, 'kind' | 'vantage'>): string | null =>
  STATE_WIDE.includes(f.kind) ? null : (f.vantage ?? DEFAULT_VANTAGE);

/**
 * A finding one vantage made, named after it: with a named vantage its key and title carry the
 * name, so two vantages' problems with one endpoint are two findings, each decided by its own
 * monitor. The default vantage keeps today's keys and texts.
 */
export function qualify(f: Finding, vantage: string): Finding {
  if (vantage === DEFAULT_VANTAGE) return f;
  return { ...f, key: `${f.key}|vantage=${vantage}`, title: `[${vantage}] ${f.title}`, vantage };
}
