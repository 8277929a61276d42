/**
 * One alert channel = one registry entry (monitor/channels/index.ts) implementing `AlertChannel`:
 * its config (parsed with the config loader's own field checks and secret rules), a renderer from
 * the alert projection to the channel's payload (rendered ONCE, when the alert is queued, and
 * stored in the outbox row, so a retry after a restart sends the same bytes and ids), and a send
 * that honours a total deadline. Nothing outside the registry names a channel: the config
 * section, the outbox, delivery, `monitor test-alert`, metrics and `status` iterate the entries.
 */
import type { AlertType, Severity, StoredFinding } from '../types.js';

/**
 * What every channel renders from: one finding at one alert, computed once per (finding, type).
 * The plain-text lines are shared so email, Slack and PagerDuty say the same thing.
 */
export interface AlertView {
  type: AlertType;
  /** When the alert was queued (ISO 8601, from the injected clock). */
  at: string;
  finding: StoredFinding;
  /** Addresses concerned (empty: the whole endpoint). */
  addresses: string[];
  /** One line: `[pinctl] CRITICAL CHANGED: chain-drift …`, at most 200 characters. */
  subject: string;
  /** "What changed": old → new pins and subjects, chains, reasons. */
  changed: string[];
  /** The dynamic-pinning proposal attached to the finding (file, how to publish). */
  proposal: string[];
  /** The evidence as stored and as --json prints it (FindingView.details). */
  details: Record<string, unknown>;
}

/** A `monitor test-alert` message: nothing is wrong, it proves the channel delivers. */
export interface TestAlert {
  /** Unique per run: `test-<digits of the time>-<channel>`. */
  id: string;
  at: string;
  /** The config file, for the message text. */
  file: string;
  channel: string;
}

/** One delivery attempt: the outbox row's id and type, and the attempt's total deadline. */
export interface Attempt {
  alertId: string;
  type: AlertType | 'test';
  /** Fires at the attempt's total deadline or when the monitor stops: drop the connection then. */
  signal: AbortSignal;
}

/**
 * A failed send, classified: `retryable` false sends the row to 'dead' at once (the receiver said
 * the message itself is wrong: retrying the same bytes cannot succeed). Any other error retries.
 */
export class DeliveryError extends Error {
  readonly retryable: boolean;
  /** The receiver asked to wait this long (HTTP Retry-After). */
  readonly retryAfterMs?: number;
  constructor(message: string, opts: { retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DeliveryError';
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export const isRetryable = (e: unknown): boolean => !(e instanceof DeliveryError) || e.retryable;

/**
 * The config loader's field checks, bound to one channel's section (`alerts.NAME`): every problem
 * is collected with its full path, like the rest of the config. Keys are relative to the section.
 */
export interface ChannelConfigKit {
  /** `alerts.NAME`. */
  readonly path: string;
  /** The section as a mapping with only `allowed` keys (unknown keys and missing `required` ones are problems). */
  section(v: unknown, allowed: string[], required?: string[]): Record<string, unknown> | undefined;
  str(v: unknown, key: string, what?: string): string | undefined;
  /** A URL of one of `protocols`; `${VAR}` is replaced from the environment. */
  url(v: unknown, key: string, protocols: string[]): string | undefined;
  /** `timeout` of the section, default 10s, 100ms to 5m. */
  timeoutMs(o: Record<string, unknown>): number;
  bool(v: unknown, key: string): boolean | undefined;
  /**
   * `${base}Env` (a variable) or `${base}File` (first line of a file), not both; null when neither
   * is given, or when unavailable and secrets are optional (status, history).
   */
  secret(o: Record<string, unknown>, base: string): string | null;
  /** Secrets are optional for this load (commands that send nothing). */
  readonly secretsOptional: boolean;
  add(key: string, expected: string, found: unknown): undefined;
  say(key: string, message: string): undefined;
}

export interface AlertChannel<Name extends string = string, C = unknown, P = unknown> {
  readonly name: Name;
  /** Keys of `alerts.NAME`, for the docs and the unknown-key message. */
  readonly keys: readonly string[];
  /** Printed as the error's hint when this section is wrong. */
  readonly hint: string;
  /** Parses `alerts.NAME`; problems go to the kit; undefined when unusable. */
  parse(raw: unknown, kit: ChannelConfigKit): C | undefined;
  /** One wait of an attempt (connect, each answer); the attempt's total deadline is 3× this. */
  timeoutMs(cfg: C): number;
  /** Whether this alert goes to this channel at all (PagerDuty's severityMin); default: all. */
  accepts?(cfg: C, view: AlertView): boolean;
  /** The payload of one alert, deterministic in its inputs (no clock, no randomness). */
  render(view: AlertView, alertId: string, cfg: C): P;
  /** The payloads of `monitor test-alert` (PagerDuty: a trigger and its resolve). */
  renderTest(t: TestAlert, cfg: C): P[];
  /** Rows queued before payloads were stored per channel carry subject/text/webhook only. */
  legacyPayload?(message: { subject: string; text: string; webhook?: Record<string, unknown> }): P | undefined;
  /** Delivers one payload; must settle soon after `attempt.signal` fires. Throws DeliveryError to classify. */
  send(cfg: C, payload: P, attempt: Attempt): Promise<void>;
  /** Where it goes, without secrets, for `status` and `test-alert` (`slack #ops`, `email to ops@…`). */
  describe(cfg: C): string;
}

/** Truncates to `max` characters with an ellipsis; never fails on long input. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

export const SEVERITY_WORD: Record<Severity, string> = { info: 'INFO', warning: 'WARNING', critical: 'CRITICAL' };
